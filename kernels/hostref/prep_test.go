package hostref

import (
	"testing"
	"unsafe"

	"tagimp/data/imageprep"
)

// TestPrepSrcLayout: imageprep.RawDesc, uploaded as bytes, is laid out as
// the kernel's struct tg_prep_src.
func TestPrepSrcLayout(t *testing.T) {
	var d imageprep.RawDesc
	size, off := PrepSrcLayout()
	want := [5]int{int(unsafe.Offsetof(d.Off)), int(unsafe.Offsetof(d.CbOff)), int(unsafe.Offsetof(d.SubX)),
		int(unsafe.Offsetof(d.OX)), int(unsafe.Offsetof(d.AlphaWeighted))}
	if size != int(unsafe.Sizeof(d)) || size != imageprep.RawDescBytes || off != want {
		t.Errorf("tg_prep_src: size %d offsets %v; RawDesc: size %d offsets %v (RawDescBytes %d)",
			size, off, unsafe.Sizeof(d), want, imageprep.RawDescBytes)
	}
}

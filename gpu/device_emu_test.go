//go:build gpu && emu

package gpu

import (
	"errors"
	"strings"
	"testing"
)

// TestEmuCaptureRules checks that the emulated device enforces what the
// driver enforces while a stream capture is open (package cuda captures in
// CU_STREAM_CAPTURE_MODE_THREAD_LOCAL): allocation, free, upload, download
// and synchronisation fail with CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED and
// invalidate the capture, whose end then fails; a capture of device work
// only ends cleanly and replays.
func TestEmuCaptureRules(t *testing.T) {
	dv, err := openDevice(Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := dv.(*emuDevice)
	defer d.close()
	a, err := d.alloc(4)
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.alloc(4)
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []struct {
		name string
		call func() error
	}{
		{"alloc", func() error { _, err := d.alloc(4); return err }},
		{"free", func() error { return d.free(b) }},
		{"upload", func() error { return d.upload(a, []float32{1}) }},
		{"uploadI32", func() error { return d.uploadI32(a, []int32{1}) }},
		{"download", func() error { return d.download(make([]float32, 1), a) }},
		{"sync", d.sync},
		{"setState", func() error { return d.setState(a, 1, 0) }},
	}
	for _, f := range forbidden {
		if err := d.beginCapture(); err != nil {
			t.Fatal(err)
		}
		if err := d.sigmoid(b, a, 4); err != nil {
			t.Fatalf("%s: a kernel during capture: %v", f.name, err)
		}
		if err := f.call(); !errors.Is(err, errCaptureUnsupported) {
			t.Errorf("%s during capture: got %v, want CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", f.name, err)
		}
		if g, err := d.endCapture(); err == nil || !strings.Contains(err.Error(), "INVALIDATED") {
			t.Errorf("%s during capture: end capture gave %v, %v; want CUDA_ERROR_STREAM_CAPTURE_INVALIDATED", f.name, g, err)
		}
	}

	// Device work only: captured, not run, then replayed.
	if err := d.upload(a, []float32{0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if err := d.beginCapture(); err != nil {
		t.Fatal(err)
	}
	if err := d.sigmoid(b, a, 4); err != nil {
		t.Fatal(err)
	}
	g, err := d.endCapture()
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 4)
	if err := d.download(got, b); err != nil || got[0] != 0 {
		t.Fatalf("captured kernel ran at capture time: %v, %v", got, err)
	}
	if err := g.launch(); err != nil {
		t.Fatal(err)
	}
	if err := d.download(got, b); err != nil || got[0] != 0.5 {
		t.Fatalf("replay: σ(0) = %v, %v; want 0.5", got[0], err)
	}
}

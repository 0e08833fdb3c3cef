//go:build gpu

package cuda

import (
	_ "embed"
	"encoding/binary"
	"fmt"
)

// If the build stops here with "pattern tagimp.fatbin: no matching files
// found", the kernels have not been built: run `make kernels` (CMake + nvcc
// compile kernels/*.cu into build/kernels/tagimp.fatbin and copy it here).
//
//go:embed tagimp.fatbin
var fatbin string

// fatbinMagic opens every fatbin image (the fatBinaryHeader's magic).
const fatbinMagic = 0xBA55ED50

// Fatbin returns the embedded kernel image, checked to be a fatbin.
func Fatbin() (string, error) {
	if len(fatbin) < 16 || binary.LittleEndian.Uint32([]byte(fatbin[:4])) != fatbinMagic {
		return "", fmt.Errorf("embedded cuda/tagimp.fatbin (%d bytes) is not a CUDA fatbin: rebuild it with `make kernels` and rebuild the binary", len(fatbin))
	}
	return fatbin, nil
}

//go:build gpu

package cuda

import (
	_ "embed"
	"encoding/binary"
	"fmt"
	"os"
)

// If the build stops here with "pattern tagimp.fatbin: no matching files
// found", the kernels have not been built: run `make kernels` (CMake + nvcc
// compile kernels/*.cu into build/kernels/tagimp.fatbin and copy it here).
//
//go:embed tagimp.fatbin
var fatbin string

// FatbinEnv is the environment variable that names a fatbin file to load
// instead of the embedded one: kernels built with the local nvcc (cmake -S
// . -B build && cmake --build build --target fatbin), without rebuilding
// the Go binary. The file must hold the kernels this binary launches.
const FatbinEnv = "TAGIMP_FATBIN"

// fatbinMagic opens every fatbin image (the fatBinaryHeader's magic).
const fatbinMagic = 0xBA55ED50

// Fatbin returns the kernel image, checked to be a fatbin, and what it is
// (for messages): the file $TAGIMP_FATBIN when set, else the embedded
// cuda/tagimp.fatbin.
func Fatbin() (image, what string, err error) {
	if p := os.Getenv(FatbinEnv); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", "", fmt.Errorf("read the kernel image %s=%s: %w", FatbinEnv, p, err)
		}
		what = p + " (from " + FatbinEnv + ")"
		if err := checkFatbin(string(b), what); err != nil {
			return "", "", err
		}
		return string(b), what, nil
	}
	what = "embedded cuda/tagimp.fatbin"
	if err := checkFatbin(fatbin, what); err != nil {
		return "", "", fmt.Errorf("%w: rebuild it with `make kernels` and rebuild the binary", err)
	}
	return fatbin, what, nil
}

// checkFatbin checks that image starts with a fatbin header.
func checkFatbin(image, what string) error {
	if len(image) < 16 || binary.LittleEndian.Uint32([]byte(image[:4])) != fatbinMagic {
		return fmt.Errorf("%s (%d bytes) is not a CUDA fatbin (no fatBinaryHeader magic 0x%08X)", what, len(image), uint32(fatbinMagic))
	}
	return nil
}

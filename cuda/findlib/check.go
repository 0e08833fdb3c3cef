package findlib

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// CheckFile is an open function for Find that loads nothing: it accepts a
// path that is a shared object for this machine's architecture (ELF, 64
// bit, ET_DYN). A bare soname is first resolved as the dynamic loader
// would, through LD_LIBRARY_PATH and then the ld.so cache (ldconfig -p).
// Tools that must not dlopen (a pre-flight check before the GPU binaries
// can start) use it to report the file the binaries will load.
func CheckFile(path string) error {
	if !strings.Contains(path, "/") {
		p, err := resolveBare(path)
		if err != nil {
			return err
		}
		path = p
	}
	f, err := elf.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errors.New("no such file")
		}
		return fmt.Errorf("not an ELF shared object: %w", err)
	}
	defer f.Close()
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]
	switch {
	case f.Class != elf.ELFCLASS64:
		return fmt.Errorf("%v, want a 64-bit library", f.Class)
	case want != 0 && f.Machine != want:
		return fmt.Errorf("built for %v, this machine is %s", f.Machine, runtime.GOARCH)
	case f.Type != elf.ET_DYN:
		return fmt.Errorf("%v, not a shared object", f.Type)
	}
	return nil
}

// Resolve returns the file the dynamic loader would open for path: path
// itself when it holds a '/', else the soname resolved through
// LD_LIBRARY_PATH and the ld.so cache (path unchanged when not found).
func Resolve(path string) string {
	if strings.Contains(path, "/") {
		return path
	}
	if p, err := resolveBare(path); err == nil {
		return p
	}
	return path
}

// resolveBare finds a soname as the dynamic loader would (LD_LIBRARY_PATH,
// then the ld.so cache).
func resolveBare(name string) (string, error) {
	for _, d := range filepath.SplitList(os.Getenv("LD_LIBRARY_PATH")) {
		if d == "" {
			continue
		}
		if p := filepath.Join(d, name); fileExists(p) {
			return p, nil
		}
	}
	for _, ldconfig := range []string{"/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"} {
		out, err := exec.Command(ldconfig, "-p").Output()
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(out), "\n") {
			line = strings.TrimSpace(line)
			if !strings.HasPrefix(line, name+" ") {
				continue
			}
			if i := strings.LastIndex(line, "=> "); i >= 0 {
				return strings.TrimSpace(line[i+3:]), nil
			}
		}
		return "", errors.New("not in LD_LIBRARY_PATH nor in the ld.so cache")
	}
	return "", errors.New("not in LD_LIBRARY_PATH (no ldconfig to read the ld.so cache)")
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

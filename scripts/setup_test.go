package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// copyTree copies testdata/name into a temporary folder standing for /.
func copyTree(t *testing.T, name string) string {
	t.Helper()
	dst := t.TempDir()
	src := filepath.Join("testdata", name)
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// setup runs setup.sh with root standing for / and uid for id -u.
func setup(t *testing.T, root, uid string) string {
	t.Helper()
	cmd := exec.Command("bash", "setup.sh")
	cmd.Env = append(os.Environ(), "TAGIMP_SETUP_ROOT="+root, "TAGIMP_SETUP_UID="+uid, "CUDA_HOME=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("setup.sh: %v\n%s", err, out)
	}
	return string(out)
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The apt-source logic on copies of Debian's and Ubuntu's files: each
// distribution gets its own components, only on its own entries, once;
// other vendors' entries and comments stay as they were; a second run
// changes nothing.
func TestSetupAptSources(t *testing.T) {
	for _, tc := range []struct {
		tree, file string
		want       map[string]string // line as it was → line after
		forbid     []string
	}{
		{"debian12", "etc/apt/sources.list.d/debian.sources", map[string]string{
			"Components: main": "Components: main contrib non-free non-free-firmware",
		}, []string{"universe", "multiverse"}},
		{"debian11", "etc/apt/sources.list", map[string]string{
			"deb http://deb.debian.org/debian bullseye main":                                                                                           "deb http://deb.debian.org/debian bullseye main contrib non-free non-free-firmware",
			"deb http://deb.debian.org/debian-security bullseye-security main":                                                                         "deb http://deb.debian.org/debian-security bullseye-security main contrib non-free non-free-firmware",
			"# deb http://snapshot.debian.org/archive/debian/20230612T000000Z bullseye main":                                                           "# deb http://snapshot.debian.org/archive/debian/20230612T000000Z bullseye main",
			"deb [signed-by=/usr/share/keyrings/cuda-archive-keyring.gpg] https://developer.download.nvidia.com/compute/cuda/repos/debian11/x86_64/ /": "deb [signed-by=/usr/share/keyrings/cuda-archive-keyring.gpg] https://developer.download.nvidia.com/compute/cuda/repos/debian11/x86_64/ /",
		}, []string{"universe", "multiverse"}},
		{"ubuntu2204", "etc/apt/sources.list", map[string]string{
			// universe is on a line of its own already: only multiverse is missing.
			"deb http://archive.ubuntu.com/ubuntu/ jammy main restricted":                               "deb http://archive.ubuntu.com/ubuntu/ jammy main restricted multiverse",
			"deb http://security.ubuntu.com/ubuntu/ jammy-security main restricted":                     "deb http://security.ubuntu.com/ubuntu/ jammy-security main restricted multiverse",
			"deb http://archive.ubuntu.com/ubuntu/ jammy universe":                                      "deb http://archive.ubuntu.com/ubuntu/ jammy universe",
			"deb http://archive.ubuntu.com/ubuntu/ jammy-backports main restricted universe multiverse": "deb http://archive.ubuntu.com/ubuntu/ jammy-backports main restricted universe multiverse",
			"# deb-src http://archive.ubuntu.com/ubuntu/ jammy main restricted":                         "# deb-src http://archive.ubuntu.com/ubuntu/ jammy main restricted",
		}, []string{"non-free", "contrib"}},
		{"ubuntu2404", "etc/apt/sources.list.d/ubuntu.sources", map[string]string{
			"Components: main restricted": "Components: main restricted universe multiverse",
		}, []string{"non-free", "contrib"}},
	} {
		root := copyTree(t, tc.tree)
		before := read(t, filepath.Join(root, tc.file))
		out := setup(t, root, "0")
		after := read(t, filepath.Join(root, tc.file))
		lines := map[string]bool{}
		for _, l := range strings.Split(after, "\n") {
			lines[l] = true
		}
		for was, now := range tc.want {
			if !strings.Contains(before, was) {
				t.Fatalf("%s: test data lacks %q", tc.tree, was)
			}
			if !lines[now] {
				t.Errorf("%s: %q should become %q:\n%s", tc.tree, was, now, after)
			}
		}
		for _, f := range tc.forbid {
			if strings.Contains(after, f) {
				t.Errorf("%s: another distribution's component %q added:\n%s", tc.tree, f, after)
			}
		}
		if !strings.Contains(out, "would run: env DEBIAN_FRONTEND=noninteractive apt-get install") || strings.Contains(out, "sudo") {
			t.Errorf("%s as root: want apt-get without sudo:\n%s", tc.tree, out)
		}
		setup(t, root, "0")
		if again := read(t, filepath.Join(root, tc.file)); again != after {
			t.Errorf("%s: a second run changed the file again:\n%s", tc.tree, again)
		}
	}
	// The vendor's deb822 entry (no Components) is left alone.
	root := copyTree(t, "debian12")
	setup(t, root, "0")
	if got, want := read(t, filepath.Join(root, "etc/apt/sources.list.d/cuda.sources")), read(t, "testdata/debian12/etc/apt/sources.list.d/cuda.sources"); got != want {
		t.Errorf("NVIDIA's entry changed:\n%s", got)
	}
}

// sudo only when not root; NVIDIA's toolkit in /usr/local/cuda is used
// instead of installing the distribution's.
func TestSetupSudoAndCUDA(t *testing.T) {
	root := copyTree(t, "ubuntu2404")
	out := setup(t, root, "1000")
	if !strings.Contains(out, "would run: sudo env DEBIAN_FRONTEND=noninteractive apt-get update") || !strings.Contains(out, "nvidia-cuda-toolkit") {
		t.Errorf("as a user without CUDA:\n%s", out)
	}

	root = copyTree(t, "ubuntu2404")
	bin := filepath.Join(root, "usr/local/cuda-13.0/bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	nvcc := "#!/bin/sh\necho 'Cuda compilation tools, release 13.0, V13.0.48'\n"
	if err := os.WriteFile(filepath.Join(bin, "nvcc"), []byte(nvcc), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("cuda-13.0", filepath.Join(root, "usr/local/cuda")); err != nil {
		t.Fatal(err)
	}
	out = setup(t, root, "1000")
	if strings.Contains(out, "nvidia-cuda-toolkit") || !strings.Contains(out, "usr/local/cuda (release 13.0)") {
		t.Errorf("with /usr/local/cuda:\n%s", out)
	}
}

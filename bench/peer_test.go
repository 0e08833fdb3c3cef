package bench

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tagimp/model"
)

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFindNumpyScript(t *testing.T) {
	root := t.TempDir()
	// A repository with the script, a binary in its bin/, and a working
	// directory deep inside it.
	repo := filepath.Join(root, "repo")
	touch(t, filepath.Join(repo, "go.mod"))
	touch(t, filepath.Join(repo, NumpyScriptName))
	deep := filepath.Join(repo, "cmd", "x")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	// An installed binary with the script beside it in peers/.
	inst := filepath.Join(root, "opt", "tagimp")
	touch(t, filepath.Join(inst, "peers", "mlp_numpy.py"))
	elsewhere := filepath.Join(root, "elsewhere")
	if err := os.MkdirAll(elsewhere, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, exe, dir, want string
	}{
		{"beside the binary", filepath.Join(inst, "tagimp-gpu"), elsewhere, filepath.Join(inst, "peers", "mlp_numpy.py")},
		{"binary in the repository's bin", filepath.Join(repo, "bin", "tagimp-gpu"), elsewhere, filepath.Join(repo, NumpyScriptName)},
		{"from the working directory", filepath.Join(root, "tmp", "go-build", "x.test"), deep, filepath.Join(repo, NumpyScriptName)},
		{"binary first", filepath.Join(inst, "tagimp-gpu"), deep, filepath.Join(inst, "peers", "mlp_numpy.py")},
		{"nowhere", filepath.Join(root, "tmp", "tagimp-gpu"), elsewhere, ""},
	}
	for _, tt := range tests {
		if got := FindNumpyScript(tt.exe, tt.dir); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

// fakePython writes an executable shell script standing in for python.
func fakePython(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "python3")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNumpyPeerErrors(t *testing.T) {
	ctx := context.Background()
	c := small(model.Model1)
	o := Options{Steps: 2, Warmup: 1, Rows: 8, Seed: 1}
	tests := []struct {
		name    string
		peer    NumpyPeer
		wantErr error
		say     string
	}{
		{"no python", NumpyPeer{Python: filepath.Join(t.TempDir(), "no-python3")}, ErrNoPython, "python3-numpy"},
		{"no numpy", NumpyPeer{Python: fakePython(t, `echo "numpy is not installed for fake" >&2; exit 3`)}, ErrNoNumpy, "numpy is not installed for fake"},
		{"crash", NumpyPeer{Python: fakePython(t, `echo "Traceback: boom" >&2; exit 1`)}, nil, "boom"},
		{"not JSON", NumpyPeer{Python: fakePython(t, `cat >/dev/null; echo hello`)}, nil, "not JSON"},
		{"other work", NumpyPeer{Python: fakePython(t, `cat >/dev/null; echo '{"model":"model1","steps":2,"min_ms":1,"median_ms":1,"flop_per_step":5}'`)}, nil, "different work"},
		{"missing script", NumpyPeer{Python: fakePython(t, "exit 0"), Script: filepath.Join(t.TempDir(), "none.py")}, nil, "--peer-script"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.peer.Run(ctx, c, o)
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) || !strings.Contains(err.Error(), tt.say) {
				t.Fatalf("err = %v, want %v saying %q", err, tt.wantErr, tt.say)
			}
		})
	}
}

// TestNumpyPeer runs the real peer on small shapes: it must do the same
// products as our step (Run checks the FLOP count), in float32, with the
// thread count it was given.
func TestNumpyPeer(t *testing.T) {
	ctx := context.Background()
	wd, _ := os.Getwd()
	script := FindNumpyScript("", wd)
	if script == "" {
		t.Fatalf("%s not found from %s", NumpyScriptName, wd)
	}
	info, err := NumpyPeer{Script: script}.Probe(ctx)
	if errors.Is(err, ErrNoPython) || errors.Is(err, ErrNoNumpy) {
		t.Skipf("no numpy peer here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if info.NumpyVersion == "" {
		t.Errorf("probe: %+v", info)
	}
	for _, kind := range model.Kinds {
		for _, builtIn := range []bool{false, true} {
			p := NumpyPeer{Script: script, Threads: 1}
			if builtIn {
				p.Script = ""
			}
			c := small(kind)
			r, err := p.Run(ctx, c, Options{Steps: 3, Warmup: 1, Rows: 9, Seed: 2})
			if err != nil {
				t.Fatalf("%s (built-in %v): %v", kind, builtIn, err)
			}
			if r.Dtype != "float32" || r.Peer != "numpy" || !(r.MinMS > 0) || r.MinMS > r.MedianMS ||
				math.IsNaN(r.LastLoss) || !(r.FirstLoss > 0) {
				t.Errorf("%s (built-in %v): %+v", kind, builtIn, r)
			}
			if strings.Contains(info.BLAS, "openblas") && r.Threads != 1 {
				t.Errorf("%s: peer's OpenBLAS uses %d threads, asked for 1", kind, r.Threads)
			}
		}
	}
}

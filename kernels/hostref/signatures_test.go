package hostref

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// kernelDecl matches an extern "C" kernel and its parameter list.
var kernelDecl = regexp.MustCompile(`extern\s+"C"\s+__global__\s+void\s+(?:__launch_bounds__\s*\([^)]*\)\s+)?(\w+)\s*\(([^)]*)\)`)

// argKind maps a CUDA parameter declaration to the cuda package's Arg
// constructor that passes it.
func argKind(param string) string {
	p := strings.Join(strings.Fields(param), " ")
	switch {
	case strings.Contains(p, "*"):
		return "Ptr"
	case strings.HasPrefix(p, "unsigned long long "):
		return "U64"
	case strings.HasPrefix(p, "long long "):
		return "I64"
	case strings.HasPrefix(p, "int "):
		return "I32"
	case strings.HasPrefix(p, "float "):
		return "F32"
	}
	return "unknown(" + p + ")"
}

// TestLaunchSignatures checks, without a GPU, that every launch in
// cuda/kernels.go passes the arguments its kernel in kernels/*.cu declares,
// in order and of the right size, and that every kernel has a Go launcher;
// likewise for the benchmark-only kernels of kernels/dev/*.cu and their
// launchers in cuda/devkernels_test.go. cu.Launch copies 8 bytes per
// argument and the kernel reads its declared size, so a mismatch here would
// be silent garbage on the device.
func TestLaunchSignatures(t *testing.T) {
	checkSignatures(t, "../*.cu", "../../cuda/kernels.go")
	checkSignatures(t, "../dev/*.cu", "../../cuda/devkernels_test.go")
}

func checkSignatures(t *testing.T, cuGlob, goFile string) {
	cuFiles, err := filepath.Glob(cuGlob)
	if err != nil || len(cuFiles) == 0 {
		t.Fatalf("no %s found (%v)", cuGlob, err)
	}
	want := map[string][]string{}
	for _, f := range cuFiles {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range kernelDecl.FindAllStringSubmatch(string(src), -1) {
			var kinds []string
			for _, p := range strings.Split(m[2], ",") {
				kinds = append(kinds, argKind(p))
			}
			want[m[1]] = kinds
		}
	}
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, goFile, nil, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", goFile, err)
	}
	fieldKernel := map[string]string{} // Kernels field → kernel name, from LoadKernels' table
	got := map[string][]string{}
	ast.Inspect(file, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.CompositeLit:
			if len(x.Elts) != 2 {
				break
			}
			u, ok1 := x.Elts[0].(*ast.UnaryExpr)
			lit, ok2 := x.Elts[1].(*ast.BasicLit)
			if !ok1 || !ok2 || u.Op != token.AND {
				break
			}
			if sel, ok := u.X.(*ast.SelectorExpr); ok {
				name, _ := strconv.Unquote(lit.Value)
				fieldKernel[sel.Sel.Name] = name
			}
		case *ast.CallExpr:
			sel, ok := x.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Launch" || len(x.Args) < 4 {
				break
			}
			inner, ok := sel.X.(*ast.SelectorExpr)
			if !ok {
				break
			}
			var kinds []string
			for _, a := range x.Args[4:] {
				c, ok := a.(*ast.CallExpr)
				id, ok2 := func() (*ast.Ident, bool) {
					if !ok {
						return nil, false
					}
					i, ok := c.Fun.(*ast.Ident)
					return i, ok
				}()
				if !ok2 {
					kinds = append(kinds, "not-a-constructor")
					continue
				}
				kinds = append(kinds, id.Name)
			}
			got[inner.Sel.Name] = kinds
		}
		return true
	})
	if len(want) == 0 {
		t.Fatalf("no extern \"C\" kernels parsed from %s", cuGlob)
	}
	launched := map[string]bool{}
	for field, kinds := range got {
		name, ok := fieldKernel[field]
		if !ok {
			t.Errorf("%s launches k.%s, which its loader does not load", goFile, field)
			continue
		}
		w, ok := want[name]
		if !ok {
			t.Errorf("%s launches %s, which no %s defines", goFile, name, cuGlob)
			continue
		}
		launched[name] = true
		if strings.Join(kinds, ",") != strings.Join(w, ",") {
			t.Errorf("%s: Go passes (%s), the kernel takes (%s)", name, strings.Join(kinds, ", "), strings.Join(w, ", "))
		}
	}
	for name := range want {
		if !launched[name] {
			t.Errorf("kernel %s has no launcher in %s", name, goFile)
		}
	}
}

// Command tagimp-findlib says which NVIDIA libraries the GPU build of
// tagimp-gpu will open at run time, and from where, without loading them or
// needing a GPU: it runs package findlib's search (the same as the GPU
// binaries') with a file check instead of dlopen. scripts/gpu-check.sh runs
// it in its pre-flight and exports what it finds.
//
//	tagimp-findlib [-q] cublas|cudnn ...
//	tagimp-findlib -python
//
// It prints "NAME PATH (from SOURCE)" per library (a bare soname resolved
// as the dynamic loader would), or the search's error
// (every place tried) and exits 1. -q prints the path alone. -python lists
// the Python interpreters the search asks, with their version and whether
// PyTorch can be imported.
package main

import (
	"flag"
	"fmt"
	"os"

	"tagimp/cuda/findlib"
)

func main() {
	quiet := flag.Bool("q", false, "print the library path alone")
	python := flag.Bool("python", false, "list the Python interpreters searched")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: tagimp-findlib [-q] cublas|cudnn ...\n       tagimp-findlib -python")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *python {
		for _, p := range (findlib.Search{}).PythonInfos() {
			fmt.Printf("%s Python %s, PyTorch %v\n", p.Exe, p.Version, p.Torch)
		}
		return
	}
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	libs := map[string]findlib.Library{"cublas": findlib.CuBLAS, "cudnn": findlib.CuDNN}
	code := 0
	for _, name := range flag.Args() {
		lib, ok := libs[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "tagimp-findlib: unknown library %q (want cublas or cudnn)\n", name)
			os.Exit(2)
		}
		f, err := findlib.Find(lib, findlib.CheckFile)
		switch {
		case err != nil:
			fmt.Fprintf(os.Stderr, "tagimp-findlib: %v\n", err)
			code = 1
		case *quiet:
			fmt.Println(findlib.Resolve(f.Path))
		default:
			fmt.Printf("%s %s (from %s)\n", name, findlib.Resolve(f.Path), f.Source)
		}
	}
	os.Exit(code)
}

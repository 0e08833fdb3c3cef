package dnn

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"tagimp/cuda/findlib"
)

// testSearch is findlib's search without the machine's Pythons, system
// folders or PyTorch probe: only the variables and the dynamic loader.
var testSearch = findlib.Search{Pythons: []string{}, SystemDirs: []string{}, NoTorch: true}

// buildFake compiles testdata/fake_cudnn.c (or src, when not empty) into
// dir/name with the C compiler cgo uses.
func buildFake(t *testing.T, dir, name, src string) string {
	t.Helper()
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	if _, err := exec.LookPath(cc); err != nil {
		t.Skipf("no C compiler (%s) to build the fake cuDNN", cc)
	}
	in := "testdata/fake_cudnn.c"
	if src != "" {
		in = filepath.Join(dir, name+".c")
		if err := os.WriteFile(in, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command(cc, "-shared", "-fPIC", "-Wall", "-Werror", "-I.", "-o", out, in)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, b)
	}
	return out
}

func TestNotFoundNamesSearchAndOverride(t *testing.T) {
	for _, tc := range []struct{ path, libs string }{
		{path: "/nonexistent/libcudnn.so.9"},
		{libs: t.TempDir()},
	} {
		t.Setenv(EnvPath, tc.path)
		t.Setenv(EnvLibs, tc.libs)
		t.Setenv("HOME", t.TempDir())
		_, err := openWith(testSearch)
		if err == nil {
			t.Skip("a real cuDNN is installed here; the not-found path cannot be tested")
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") {
			t.Errorf("error is more than one line:\n%s", msg)
		}
		for _, want := range []string{"cuDNN", EnvPath, EnvLibs} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not name %q", msg, want)
			}
		}
		if tc.path != "" && !strings.Contains(msg, tc.path) {
			t.Errorf("error %q does not name the file tried", msg)
		}
		if tc.libs != "" && !strings.Contains(msg, tc.libs) {
			t.Errorf("error %q does not name the folder searched", msg)
		}
	}
}

func TestMissingSymbolAndVersion(t *testing.T) {
	dir := t.TempDir()
	partial := buildFake(t, dir, "libcudnn.so.9", "#include <stddef.h>\nsize_t cudnnGetVersion(void) { return 90100; }\n")
	t.Setenv(EnvPath, partial)
	_, err := openWith(testSearch)
	if err == nil || !strings.Contains(err.Error(), "missing") || !strings.Contains(err.Error(), partial) {
		t.Errorf("library without the functions: got %v, want a missing-symbol error naming %s", err, partial)
	}

	full := buildFake(t, t.TempDir(), "libcudnn.so.9", "")
	t.Setenv(EnvPath, full)
	for _, v := range []string{"7605", "100000"} {
		t.Setenv("FAKE_CUDNN_VERSION", v)
		_, err := openWith(testSearch)
		if err == nil || !strings.Contains(err.Error(), "not supported") || !strings.Contains(err.Error(), v) {
			t.Errorf("version %s: got %v, want an unsupported-version error", v, err)
		}
	}
	for v, s := range map[string]string{"8906": "cuDNN 8.9.6", "90100": "cuDNN 9.1.0"} {
		t.Setenv("FAKE_CUDNN_VERSION", v)
		lib, err := openWith(testSearch)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(lib.String(), s) {
			t.Errorf("version %s: String() = %q, want prefix %q", v, lib.String(), s)
		}
	}
}

// TestFakeLibrary loads the fake through TAGIMP_CUDA_LIBS and checks every
// argument package dnn passes, in the C API's order.
func TestFakeLibrary(t *testing.T) {
	dir := t.TempDir()
	buildFake(t, dir, "libcudnn.so.9", "")
	buildFake(t, dir, "libcudnn_cnn.so.9", "int tg_fake_cnn = 1;\n")
	logPath := filepath.Join(dir, "calls.log")
	t.Setenv(EnvPath, "")
	t.Setenv(EnvLibs, dir)
	t.Setenv("FAKE_CUDNN_LOG", logPath)
	t.Setenv("FAKE_CUDNN_VERSION", "")
	lib, err := openWith(testSearch)
	if err != nil {
		t.Fatal(err)
	}
	if lib.Path != filepath.Join(dir, "libcudnn.so.9") || lib.Version != 90100 || lib.Major() != 9 {
		t.Fatalf("loaded %+v", lib)
	}
	if !strings.Contains(strings.Join(lib.Preloaded, " "), filepath.Join(dir, "libcudnn_cnn.so.9")) {
		t.Errorf("sub-library beside the shim not preloaded: preloaded %v, missing %v", lib.Preloaded, lib.Missing)
	}
	saved := openLib
	openLib = lib
	defer func() { openLib = saved }()

	h, err := NewHandle(0xabc0)
	if err != nil {
		t.Fatal(err)
	}
	x, err := NewTensor(NHWC, Half, 2, 3, 224, 225)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewFilter(BFloat16, NCHW, 64, 3, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	conv, err := NewConv(1, 2, 3, 4, Float, FMAMath)
	if err != nil {
		t.Fatal(err)
	}
	n, c, hh, ww, err := conv.OutputDim(x, w)
	if err != nil || n != 2 || c != 64 || hh != 224 || ww != 225 {
		t.Errorf("OutputDim = %d %d %d %d %v", n, c, hh, ww, err)
	}
	y, _ := NewTensor(NCHW, Float, 2, 64, 224, 225)
	perf, err := h.FindAlgorithms(x, 0x1000, w, 0x2000, conv, y, 0x3000, 0x4000, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(perf) != 2 || perf[0].Algo.String() != "WINOGRAD" || perf[0].Err != nil || perf[0].Time != 0.5 ||
		perf[0].Memory != 12345 || !perf[0].Deterministic || perf[0].Math != TensorOpMath {
		t.Errorf("perf[0] = %+v", perf[0])
	}
	var st *Status
	if len(perf) == 2 && (perf[1].Algo.String() != "FFT" || !errors.As(perf[1].Err, &st) || st.Code != 3000) {
		t.Errorf("perf[1] = %+v, want FFT with status 3000", perf[1])
	}
	wsBytes, err := h.WorkspaceSize(x, w, conv, y, ImplicitPrecompGEMM)
	if err != nil || wsBytes != 1<<33 {
		t.Errorf("WorkspaceSize = %d, %v; want 2^33 (size_t passed through)", wsBytes, err)
	}
	if err := h.ConvForward(1.5, x, 0x1000, w, 0x2000, conv, Algo(6), 0x4000, 99, 0.25, y, 0x3000); err != nil {
		t.Fatal(err)
	}
	bias, _ := NewTensor(NCHW, Float, 1, 64, 1, 1)
	relu, err := NewReLU()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.ConvBiasAct(x, 0x1000, w, 0x2000, conv, Algo(1), 0x4000, 77, bias, 0x5000, relu, y, 0x3000); err != nil {
		t.Fatal(err)
	}
	pool, err := NewMaxPool(2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Pool(pool, y, 0x3000, x, 0x6000); err != nil {
		t.Fatal(err)
	}
	for _, c := range []interface{ Close() }{pool, relu, bias, y, conv, w, x} {
		c.Close()
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}

	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"cudnnCreate -> 1",
		"cudnnSetStream 1 0xabc0",
		"cudnnCreateTensorDescriptor -> 2",
		"cudnnSetTensor4dDescriptor 2 format=1 type=2 n=2 c=3 h=224 w=225",
		"cudnnCreateFilterDescriptor -> 3",
		"cudnnSetFilter4dDescriptor 3 type=9 format=0 k=64 c=3 h=3 w=5",
		"cudnnCreateConvolutionDescriptor -> 4",
		"cudnnSetConvolution2dDescriptor 4 pad=1,2 stride=3,4 dilation=1,1 mode=1 compute=0",
		"cudnnSetConvolutionMathType 4 math=3",
		"cudnnGetConvolution2dForwardOutputDim 4 2 3",
		"cudnnCreateTensorDescriptor -> 5",
		"cudnnSetTensor4dDescriptor 5 format=0 type=0 n=2 c=64 h=224 w=225",
		"cudnnFindConvolutionForwardAlgorithmEx 1 x=2:0x1000 w=3:0x2000 conv=4 y=5:0x3000 requested=8 ws=0x4000:1048576",
		"cudnnGetConvolutionForwardWorkspaceSize 1 2 3 4 5 algo=1",
		"cudnnConvolutionForward 1 alpha=1.5 x=2:0x1000 w=3:0x2000 conv=4 algo=6 ws=0x4000:99 beta=0.25 y=5:0x3000",
		"cudnnCreateTensorDescriptor -> 6",
		"cudnnSetTensor4dDescriptor 6 format=0 type=0 n=1 c=64 h=1 w=1",
		"cudnnCreateActivationDescriptor -> 7",
		"cudnnSetActivationDescriptor 7 mode=1 nan=0 coef=0",
		"cudnnConvolutionBiasActivationForward 1 alpha1=1 x=2:0x1000 w=3:0x2000 conv=4 algo=1 ws=0x4000:77 alpha2=0 z=5:0x3000 bias=6:0x5000 act=7 y=5:0x3000",
		"cudnnCreatePoolingDescriptor -> 8",
		"cudnnSetPooling2dDescriptor 8 mode=3 nan=0 window=2,2 pad=0,0 stride=2,2",
		"cudnnPoolingForward 1 pool=8 alpha=1 x=5:0x3000 beta=0 y=2:0x6000",
		"cudnnDestroyPoolingDescriptor 8",
		"cudnnDestroyActivationDescriptor 7",
		"cudnnDestroyTensorDescriptor 6",
		"cudnnDestroyTensorDescriptor 5",
		"cudnnDestroyConvolutionDescriptor 4",
		"cudnnDestroyFilterDescriptor 3",
		"cudnnDestroyTensorDescriptor 2",
		"cudnnDestroy 1",
	}
	got := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("call %d:\n got %s\nwant %s", i, g, w)
		}
	}

	t.Setenv("FAKE_CUDNN_FAIL", "cudnnSetTensor4dDescriptor")
	_, err = NewTensor(NCHW, Float, 1, 1, 1, 1)
	if !errors.As(err, &st) || st.Code != 2000 || !strings.Contains(err.Error(), "CUDNN_STATUS_BAD_PARAM") {
		t.Errorf("failing call: got %v, want status 2000 with its name", err)
	}
}

func TestNotOpen(t *testing.T) {
	saved := openLib
	openLib = nil
	defer func() { openLib = saved }()
	if _, err := NewHandle(0); !errors.Is(err, ErrNotOpen) {
		t.Errorf("NewHandle before Open: %v", err)
	}
}

func TestIsAllocFailed(t *testing.T) {
	for code, want := range map[int]bool{4003: true, 4004: true, 2000: false, 3000: false} {
		err := fmt.Errorf("wrapped: %w", &Status{Code: code, Op: "x"})
		if got := IsAllocFailed(err); got != want {
			t.Errorf("status %d: IsAllocFailed = %v, want %v", code, got, want)
		}
	}
	if IsAllocFailed(errors.New("other")) {
		t.Error("a non-cuDNN error counted as an allocation failure")
	}
}

func TestIsNotSupported(t *testing.T) {
	for code, want := range map[int]bool{3000: true, 3001: true, 3004: true, 3014: true, 2000: false, 4003: false, 5000: false, 9: false} {
		err := fmt.Errorf("conv1: %w", &Status{Code: code, Op: "cudnnConvolutionBiasActivationForward"})
		if got := IsNotSupported(err); got != want {
			t.Errorf("status %d: IsNotSupported = %v, want %v", code, got, want)
		}
	}
	if IsNotSupported(errors.New("other")) || IsNotSupported(nil) {
		t.Error("a non-cuDNN error counted as not supported")
	}
	saved := openLib
	defer func() { openLib = saved }()
	openLib = &Library{Version: 8906}
	if !IsNotSupported(&Status{Code: 9}) {
		t.Error("cuDNN 8's CUDNN_STATUS_NOT_SUPPORTED (9) not recognised")
	}
}

func TestIsBadParam(t *testing.T) {
	for code, want := range map[int]bool{2000: true, 2002: true, 2012: true, 3000: false, 4003: false, 3: false} {
		if got := IsBadParam(fmt.Errorf("x: %w", &Status{Code: code})); got != want {
			t.Errorf("status %d: IsBadParam = %v, want %v", code, got, want)
		}
	}
	saved := openLib
	defer func() { openLib = saved }()
	openLib = &Library{Version: 8906}
	if !IsBadParam(&Status{Code: 3}) || IsBadParam(errors.New("other")) {
		t.Error("cuDNN 8's CUDNN_STATUS_BAD_PARAM (3) not recognised, or a non-cuDNN error counted")
	}
}

package vgg16

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"tagimp/data/imageprep"
	"tagimp/data/npy"
	"tagimp/internal/realdata"
)

// small is a narrow VGG with VGG16's layer pattern shrunk: 5 blocks, a
// 64×64 input (2×2 after the last pool, so fc6 sees a C,H,W flatten).
func small() Config {
	return Config{Blocks: [][]int{{4, 4}, {6, 6}, {8, 8, 8}, {8, 8, 8}, {5, 5, 5}}, FC: 12, Classes: 7, InputSize: 64}
}

// naiveForward runs the network with the naive layers of layers_test.go.
func naiveForward(n *Net, x []float32, batch int, fc8 bool) []float32 {
	cfg := n.Config()
	ps := n.Params()
	var out []float32
	for img := 0; img < batch; img++ {
		cur := x[img*cfg.InputLen() : (img+1)*cfg.InputLen()]
		s, in, i := cfg.InputSize, 3, 0
		for _, b := range cfg.Blocks {
			for _, o := range b {
				cur = naiveConv(cur, ps[i].Data, ps[i+1].Data, in, o, s, s)
				in, i = o, i+2
			}
			cur = naivePool(cur, in, s, s)
			s /= 2
		}
		h := naiveLinear(cur, ps[i].Data, ps[i+1].Data, 1, cfg.FlatDim(), cfg.FC, true)
		h = naiveLinear(h, ps[i+2].Data, ps[i+3].Data, 1, cfg.FC, cfg.FC, true)
		if fc8 {
			h = naiveLinear(h, ps[i+4].Data, ps[i+5].Data, 1, cfg.FC, ps[i+4].Shape[0], false)
		}
		out = append(out, h...)
	}
	return out
}

func smallNet(t *testing.T, seed int64) *Net {
	t.Helper()
	n, err := NewRandomConfig(small(), seed)
	if err != nil {
		t.Fatal(err)
	}
	// He init with zero biases leaves many units dead in a net this narrow;
	// give the biases values so every path is exercised.
	r := rand.New(rand.NewPCG(uint64(seed), 99))
	for _, p := range n.Params() {
		if len(p.Shape) == 1 {
			for i := range p.Data {
				p.Data[i] = float32(r.NormFloat64()) * 0.1
			}
		}
	}
	return n
}

func TestVGG16Shapes(t *testing.T) {
	cfg := VGG16()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.FlatDim() != 25088 {
		t.Fatalf("flat dim %d, want 25088", cfg.FlatDim())
	}
	var names []string
	total := 0
	for _, p := range cfg.Params(true) {
		names = append(names, p.Name)
		total += prod(p.Shape)
	}
	want := "features.0.weight features.0.bias features.2.weight features.2.bias features.5.weight features.5.bias " +
		"features.7.weight features.7.bias features.10.weight features.10.bias features.12.weight features.12.bias " +
		"features.14.weight features.14.bias features.17.weight features.17.bias features.19.weight features.19.bias " +
		"features.21.weight features.21.bias features.24.weight features.24.bias features.26.weight features.26.bias " +
		"features.28.weight features.28.bias classifier.0.weight classifier.0.bias classifier.3.weight classifier.3.bias " +
		"classifier.6.weight classifier.6.bias"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("names:\n%s\nwant\n%s", got, want)
	}
	if total != 138357544 { // torchvision's vgg16 parameter count
		t.Fatalf("%d parameters, want 138357544", total)
	}
	if g := cfg.FLOPs() / 1e9; g < 30.9 || g > 31.0 {
		t.Fatalf("%.2f GFLOP per image, want ≈30.95 (15.47 G multiply-adds)", g)
	}
	bad := []Config{
		{Blocks: [][]int{{4}}, FC: 4, InputSize: 31},
		{Blocks: [][]int{{}}, FC: 4, InputSize: 32},
		{Blocks: [][]int{{4}}, FC: 0, InputSize: 32},
	}
	for _, c := range bad {
		if c.Validate() == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}

func TestForwardMatchesNaive(t *testing.T) {
	n := smallNet(t, 1)
	r := rand.New(rand.NewPCG(7, 8))
	const batch = 3
	x := randSlice(r, batch*n.Config().InputLen())
	got, err := n.FC7(x, batch)
	if err != nil {
		t.Fatal(err)
	}
	want := naiveForward(n, x, batch, false)
	assertClose(t, "fc7", got, want, 1e-4)
	nonzero := 0
	for _, v := range got {
		if v != 0 {
			nonzero++
		}
	}
	if nonzero < len(got)/4 {
		t.Fatalf("only %d of %d fc7 values are non-zero", nonzero, len(got))
	}
	logits, err := n.Logits(x, batch)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "logits", logits, naiveForward(n, x, batch, true), 1e-4)
	again, _, err := n.FC7Timed(x, batch)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "fc7 again", again, got, 0)
	if _, err := n.FC7(x[:10], batch); err == nil {
		t.Fatal("short input accepted")
	}
}

func TestNewRandomDeterministic(t *testing.T) {
	a, _ := NewRandomConfig(small(), 5)
	b, _ := NewRandomConfig(small(), 5)
	c, _ := NewRandomConfig(small(), 6)
	if a.SHA256() != b.SHA256() || a.SHA256() == c.SHA256() {
		t.Fatalf("hashes: seed 5 %s and %s, seed 6 %s", a.SHA256(), b.SHA256(), c.SHA256())
	}
	if a.Source() != "random(seed=5)" {
		t.Fatalf("source %q", a.Source())
	}
	// He init: weight std ≈ √(2/fan_in).
	p := a.Params()[2] // features.2.weight, fan_in 4·9
	var ss float64
	for _, v := range p.Data {
		ss += float64(v) * float64(v)
	}
	std := math.Sqrt(ss / float64(len(p.Data)))
	if want := math.Sqrt(2.0 / 36); math.Abs(std-want) > 0.15*want {
		t.Fatalf("%s std %.4f, want ≈%.4f", p.Name, std, want)
	}
}

func fileSHA(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// sameParams checks that b's parameters equal a's exactly.
func sameParams(t *testing.T, a, b *Net) {
	t.Helper()
	pa, pb := a.Params(), b.Params()
	if len(pa) != len(pb) {
		t.Fatalf("%d params, want %d", len(pb), len(pa))
	}
	for i := range pa {
		if pa[i].Name != pb[i].Name || !slices.Equal(pa[i].Shape, pb[i].Shape) {
			t.Fatalf("param %d: %s %v, want %s %v", i, pb[i].Name, pb[i].Shape, pa[i].Name, pa[i].Shape)
		}
		assertClose(t, pa[i].Name, pb[i].Data, pa[i].Data, 0)
	}
}

func TestLoadFormats(t *testing.T) {
	ref := smallNet(t, 2)
	dir := t.TempDir()
	tensors, storages, order := torchLayout(ref.Params())
	cases := []struct {
		name  string
		write func(path string)
	}{
		{"weights.npz", func(p string) {
			if err := ref.SaveNPZ(p); err != nil {
				t.Fatal(err)
			}
		}},
		{"zip.pth", func(p string) { writeTorchZip(t, p, tensors, storages, order) }},
		{"legacy.pth", func(p string) { writeTorchLegacy(t, p, tensors, storages, order) }},
	}
	r := rand.New(rand.NewPCG(9, 9))
	x := randSlice(r, 2*ref.Config().InputLen())
	want, err := ref.FC7(x, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			tc.write(path)
			n, err := LoadConfig(path, small())
			if err != nil {
				t.Fatal(err)
			}
			sameParams(t, ref, n)
			if !n.HasFC8() || n.Source() != path || n.Preprocess() != "torchvision" {
				t.Fatalf("fc8 %v, source %q, preprocess %q", n.HasFC8(), n.Source(), n.Preprocess())
			}
			if n.SHA256() != fileSHA(t, path) {
				t.Fatalf("SHA256 %s is not the file's", n.SHA256())
			}
			got, err := n.FC7(x, 2)
			if err != nil {
				t.Fatal(err)
			}
			assertClose(t, "fc7", got, want, 0)
		})
	}
}

// writeNPZ writes the small net's params after edit changes the map.
func writeNPZ(t *testing.T, path string, n *Net, edit func(m map[string]*npy.Array)) {
	t.Helper()
	m := map[string]*npy.Array{}
	for _, p := range n.Params() {
		m[p.Name] = npy.F32(p.Data, p.Shape...)
	}
	edit(m)
	var arrays []npy.NamedArray
	for _, k := range npy.Names(m) {
		arrays = append(arrays, npy.NamedArray{Name: k, Array: m[k]})
	}
	if err := npy.WriteNPZ(path, arrays...); err != nil {
		t.Fatal(err)
	}
}

func TestLoadBadFiles(t *testing.T) {
	ref := smallNet(t, 3)
	dir := t.TempDir()
	cases := []struct {
		name  string
		write func(path string)
		want  string
	}{
		{"missing.npz", func(p string) {
			writeNPZ(t, p, ref, func(m map[string]*npy.Array) { delete(m, "features.7.weight") })
		}, "missing features.7.weight"},
		{"vgg19.npz", func(p string) {
			writeNPZ(t, p, ref, func(m map[string]*npy.Array) {
				m["features.30.weight"] = npy.F32(make([]float32, 5*5*9), 5, 5, 3, 3)
			})
		}, "VGG19"},
		{"bn.npz", func(p string) {
			writeNPZ(t, p, ref, func(m map[string]*npy.Array) {
				m["features.1.running_mean"] = npy.F32(make([]float32, 4), 4)
			})
		}, "batch-norm"},
		{"shape.npz", func(p string) {
			writeNPZ(t, p, ref, func(m map[string]*npy.Array) {
				m["classifier.3.weight"] = npy.F32(make([]float32, 12*11), 12, 11)
			})
		}, "classifier.3.weight is [12 11], want [12 12]"},
		{"float64.npz", func(p string) {
			writeNPZ(t, p, ref, func(m map[string]*npy.Array) {
				m["features.0.bias"] = npy.F64(make([]float64, 4), 4)
			})
		}, "want float32"},
		{"text.pth", func(p string) { os.WriteFile(p, []byte("<html>not found</html>"), 0o644) }, "not a torch checkpoint"},
		{"empty.pth", func(p string) { os.WriteFile(p, nil, 0o644) }, "empty file"},
		{"truncated.pth", func(p string) {
			tensors, storages, order := torchLayout(ref.Params())
			writeTorchLegacy(t, p, tensors, storages, order)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)/2], 0o644)
		}, "torch checkpoint"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			tc.write(path)
			_, err := LoadConfig(path, small())
			t.Log(err)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v, want one containing %q and the path", err, tc.want)
			}
		})
	}
	// The full VGG16 loader rejects the small network by shape.
	p := filepath.Join(dir, "small.npz")
	if err := ref.SaveNPZ(p); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "wrong shape") {
		t.Fatalf("small net as VGG16: err = %v", err)
	}
	if _, err := Load(filepath.Join(dir, "absent.pth")); !os.IsNotExist(err) && (err == nil || !strings.Contains(err.Error(), "no such file")) {
		t.Fatalf("absent file: err = %v", err)
	}
}

// realImage returns one real COCO image path, or skips.
func realImage(tb testing.TB) string {
	tb.Helper()
	p := filepath.Join(realdata.Dir(tb), "coco", "val2017", "000000039769.jpg")
	if _, err := os.Stat(p); err != nil {
		p = realdata.Images(tb)[0]
	}
	return p
}

// TestRealImageDeterministic runs a real COCO image through full-size VGG16
// (seeded random weights) twice and expects the same fc7 bits. (Batches are
// checked image by image against the naive reference on the small net.)
func TestRealImageDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("full VGG16 forward (~1 s) skipped in -short mode")
	}
	path := realImage(t)
	x, err := imageprep.Default.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := NewRandom(1)
	a, err := n.FC7(x, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.FC7(x, 1)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "fc7 twice", b, a, 0)
	if len(a) != 4096 {
		t.Fatalf("%d values, want 4096", len(a))
	}
	var norm float64
	nonzero := 0
	for _, v := range a {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || v < 0 {
			t.Fatalf("fc7 value %v", v)
		}
		if v > 0 {
			nonzero++
		}
		norm += float64(v) * float64(v)
	}
	if nonzero < 500 || norm == 0 {
		t.Fatalf("fc7 has %d non-zero values, norm² %g", nonzero, norm)
	}
}

// BenchmarkFC7Batch16 measures full VGG16 fc7 throughput on the CPU at batch
// 16 (random weights, 224×224) and reports where the time goes.
func BenchmarkFC7Batch16(b *testing.B) {
	n := NewRandom(1)
	const batch = 16
	r := rand.New(rand.NewPCG(1, 1))
	x := randSlice(r, batch*n.Config().InputLen())
	if _, err := n.FC7(x[:n.Config().InputLen()], 1); err != nil { // warm-up: builds the oneDNN trunk
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	var tot Timing
	for i := 0; i < b.N; i++ {
		_, t, err := n.FC7Timed(x, batch)
		if err != nil {
			b.Fatal(err)
		}
		tot.Im2col += t.Im2col
		tot.ConvGEMM += t.ConvGEMM
		tot.Pool += t.Pool
		tot.FC += t.FC
	}
	sec := b.Elapsed().Seconds()
	imgs := float64(b.N * batch)
	b.ReportMetric(imgs/sec, "images/s")
	b.ReportMetric(imgs*n.Config().FLOPs()/sec/1e9, "GFLOP/s")
	if cpu := (cpuTime() - cpu0).Seconds(); cpu > 0 {
		b.ReportMetric(imgs/cpu, "images/cpu-s")
	}
	all := tot.Total().Seconds()
	b.ReportMetric(100*tot.Im2col.Seconds()/all, "%im2col")
	b.ReportMetric(100*tot.ConvGEMM.Seconds()/all, "%convgemm")
	b.ReportMetric(100*tot.Pool.Seconds()/all, "%pool")
	b.ReportMetric(100*tot.FC.Seconds()/all, "%fc")
}

// BenchmarkNewRandom measures making full VGG16 with seeded random weights
// (138 M normal draws and the parameter hash).
func BenchmarkNewRandom(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if NewRandom(int64(i)) == nil {
			b.Fatal("nil net")
		}
	}
}

package vgg16

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Param is one named parameter tensor (float32, row-major, torch layout).
type Param struct {
	Name  string
	Shape []int
	Data  []float32
}

// Net is a VGG network with its weights. It is safe for concurrent use:
// the weights are only read and every call has its own scratch memory.
type Net struct {
	cfg        Config
	params     []Param // in Config.Params order
	conv       []convLayer
	fc6, fc7   linearLayer
	fc8        *linearLayer // nil when the weights have no classifier.6
	sha        string
	source     string
	preprocess string
	engine     *engineState
}

// convTrunk runs the convolution trunk (convolutions, ReLUs, pools) of one
// image: in is 3·S·S values (CHW), out FlatDim values (CHW after the last
// pool, torch's flatten order).
type convTrunk interface {
	run(out, in []float32) error
}

// engineState is which convolution engine a Net uses and, for oneDNN, its
// trunk, built on first use.
type engineState struct {
	mu    sync.Mutex
	name  string // one of ConvEngines
	trunk convTrunk
	err   error // why the oneDNN trunk could not be built
}

// ConvEngine names the convolution engine the network runs ("onednn" or
// "im2col", see ConvEngines); when oneDNN was asked for but could not be
// set up, it says "im2col" and why.
func (n *Net) ConvEngine() string {
	e := n.engine
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.name == "onednn" && e.err != nil {
		return "im2col (oneDNN failed: " + e.err.Error() + ")"
	}
	return e.name
}

// SetConvEngine chooses the convolution engine: one of ConvEngines. Both
// give fc7 equal to within 1e-4 relative (tested); oneDNN is faster.
func (n *Net) SetConvEngine(name string) error {
	if !slices.Contains(ConvEngines, name) {
		return fmt.Errorf("vgg16: convolution engine %q: this build has %s", name, strings.Join(ConvEngines, ", "))
	}
	n.engine.mu.Lock()
	n.engine.name = name
	n.engine.mu.Unlock()
	return nil
}

// fastTrunk returns the oneDNN trunk when that engine is chosen and could
// be built, else nil (the im2col path runs).
func (n *Net) fastTrunk() convTrunk {
	e := n.engine
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.name != "onednn" || e.err != nil {
		return nil
	}
	if e.trunk == nil {
		e.trunk, e.err = newFastTrunk(n)
	}
	return e.trunk
}

type convLayer struct {
	w, b    []float32
	in, out int
	poolAft bool // a 2×2 max-pool follows (last conv of a block)
}

type linearLayer struct {
	w, b    []float32
	in, out int
}

// newNet checks params against cfg (names, order-free; shapes exact) and
// builds the layers. fc8 is used when present.
func newNet(cfg Config, byName map[string]Param) (*Net, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	_, withFC8 := byName["classifier.6.weight"]
	specs := cfg.Params(withFC8)
	var missing, wrong []string
	want := map[string]bool{}
	n := &Net{cfg: cfg, preprocess: "torchvision", engine: &engineState{name: ConvEngines[0]}}
	for _, s := range specs {
		want[s.Name] = true
		p, ok := byName[s.Name]
		if !ok {
			missing = append(missing, s.Name)
			continue
		}
		shape := s.Shape
		if (s.Name == "classifier.6.weight" || s.Name == "classifier.6.bias") && len(p.Shape) > 0 {
			// fc8 may have any number of classes (a fine-tuned head).
			shape = append([]int{p.Shape[0]}, s.Shape[1:]...)
		}
		if !slices.Equal(p.Shape, shape) || len(p.Data) != prod(shape) {
			wrong = append(wrong, fmt.Sprintf("%s is %v, want %v", s.Name, p.Shape, shape))
			continue
		}
		n.params = append(n.params, Param{Name: s.Name, Shape: shape, Data: p.Data})
	}
	var extra []string
	for name := range byName {
		if !want[name] {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	if len(missing)+len(wrong)+len(extra) > 0 {
		return nil, archError(missing, wrong, extra)
	}
	if withFC8 && n.params[len(n.params)-1].Shape[0] != n.params[len(n.params)-2].Shape[0] {
		return nil, fmt.Errorf("classifier.6: weight has %d rows but bias %d values", n.params[len(n.params)-2].Shape[0], n.params[len(n.params)-1].Shape[0])
	}
	i, in := 0, 3
	for _, b := range cfg.Blocks {
		for j, out := range b {
			n.conv = append(n.conv, convLayer{w: n.params[i].Data, b: n.params[i+1].Data, in: in, out: out, poolAft: j == len(b)-1})
			in = out
			i += 2
		}
	}
	n.fc6 = linearLayer{w: n.params[i].Data, b: n.params[i+1].Data, in: cfg.FlatDim(), out: cfg.FC}
	n.fc7 = linearLayer{w: n.params[i+2].Data, b: n.params[i+3].Data, in: cfg.FC, out: cfg.FC}
	if withFC8 {
		n.fc8 = &linearLayer{w: n.params[i+4].Data, b: n.params[i+5].Data, in: cfg.FC, out: n.params[i+4].Shape[0]}
	}
	return n, nil
}

// archError explains why a weights file does not fit the architecture,
// guessing the architecture it holds where the names tell.
func archError(missing, wrong, extra []string) error {
	var hint string
	for _, e := range extra {
		switch {
		case strings.Contains(e, "running_mean"):
			hint = " (the file looks like a batch-norm VGG such as vgg16_bn, which this loader does not support)"
		case e == "features.30.weight" || e == "features.34.weight":
			hint = " (the file looks like VGG19 or another deeper VGG)"
		case strings.HasPrefix(e, "layer1.") || strings.HasPrefix(e, "conv1."):
			hint = " (the file looks like a ResNet)"
		}
		if hint != "" {
			break
		}
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "missing "+list(missing))
	}
	if len(wrong) > 0 {
		parts = append(parts, "wrong shape: "+list(wrong))
	}
	if len(extra) > 0 {
		parts = append(parts, "unexpected "+list(extra))
	}
	return fmt.Errorf("weights do not match VGG16%s: %s; pass torchvision's vgg16-397923af.pth or an .npz in this package's layout",
		hint, strings.Join(parts, "; "))
}

func list(s []string) string {
	if len(s) > 4 {
		return strings.Join(s[:4], ", ") + fmt.Sprintf(" and %d more", len(s)-4)
	}
	return strings.Join(s, ", ")
}

func prod(shape []int) int {
	p := 1
	for _, d := range shape {
		p *= d
	}
	return p
}

// Config returns the network's architecture.
func (n *Net) Config() Config { return n.cfg }

// Params returns the parameters in torchvision's order (see Config.Params).
// The slices are the network's own: do not modify them.
func (n *Net) Params() []Param { return n.params }

// HasFC8 reports whether the weights include the ImageNet classifier fc8.
func (n *Net) HasFC8() bool { return n.fc8 != nil }

// SHA256 is the hex SHA-256 of the weights file the network was loaded from,
// or, for a network made by NewRandom, of its parameters (names, shapes and
// little-endian float32 values in Params order).
func (n *Net) SHA256() string { return n.sha }

// Source says where the weights came from: the file path, or
// "random(seed=N)".
func (n *Net) Source() string { return n.source }

// Preprocess is the imageprep mode the weights expect: "torchvision" for
// torch checkpoints and random weights, or what an .npz's "preprocess" entry
// says (see Load).
func (n *Net) Preprocess() string { return n.preprocess }

// paramsSHA256 hashes the parameters (for networks without a file).
func paramsSHA256(ps []Param) string {
	h := sha256.New()
	buf := make([]byte, 0, 1<<16)
	for _, p := range ps {
		h.Write([]byte(p.Name))
		for _, d := range p.Shape {
			h.Write(binary.LittleEndian.AppendUint64(nil, uint64(d)))
		}
		for i, v := range p.Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) == cap(buf) || i == len(p.Data)-1 {
				h.Write(buf)
				buf = buf[:0]
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Timing says where one forward pass spent its time.
type Timing struct {
	Im2col   time.Duration // building the convolution patch matrices
	ConvGEMM time.Duration // the convolutions' SGEMMs, bias and ReLU
	Pool     time.Duration // max-pooling
	FC       time.Duration // fc6 and fc7 (SGEMM, bias, ReLU)
}

// Total is the sum of the parts.
func (t Timing) Total() time.Duration { return t.Im2col + t.ConvGEMM + t.Pool + t.FC }

// FC7 runs n preprocessed images (n·3·S·S float32, CHW each, S =
// Config().InputSize) through the network and returns their fc7
// activations after ReLU, n·FC values (n×4096 for VGG16).
func (n *Net) FC7(x []float32, batch int) ([]float32, error) {
	out, _, err := n.forward(x, batch, false)
	return out, err
}

// Extract is FC7 under the name the feature cache's Extractor interface
// uses.
func (n *Net) Extract(x []float32, batch int) ([]float32, error) { return n.FC7(x, batch) }

// Dim is the width of one fc7 row (4096 for VGG16).
func (n *Net) Dim() int { return n.cfg.FC }

// FC7Timed is FC7 that also reports where the time went.
func (n *Net) FC7Timed(x []float32, batch int) ([]float32, Timing, error) {
	return n.forward(x, batch, false)
}

// Logits runs the images through fc8 and returns batch·Classes ImageNet
// logits (before softmax). It fails when the weights have no fc8.
func (n *Net) Logits(x []float32, batch int) ([]float32, error) {
	if n.fc8 == nil {
		return nil, fmt.Errorf("logits: the weights from %s have no classifier.6 (fc8)", n.source)
	}
	out, _, err := n.forward(x, batch, true)
	return out, err
}

func (n *Net) forward(x []float32, batch int, withFC8 bool) ([]float32, Timing, error) {
	var t Timing
	cfg := n.cfg
	if batch <= 0 || len(x) != batch*cfg.InputLen() {
		return nil, t, fmt.Errorf("vgg16 forward: got %d values for %d images, want %d·3·%d·%d = %d",
			len(x), batch, batch, cfg.InputSize, cfg.InputSize, batch*cfg.InputLen())
	}
	// Scratch sized for the largest layer: activations and patch matrix.
	maxAct, maxCols := cfg.InputLen(), 0
	s := cfg.InputSize
	for _, l := range n.conv {
		maxAct = max(maxAct, l.out*s*s)
		maxCols = max(maxCols, l.in*9*s*convRows(s, s, convChunkCols))
		if l.poolAft {
			s /= 2
		}
	}
	flat := cfg.FlatDim()
	feats := make([]float32, batch*flat)
	if tr := n.fastTrunk(); tr != nil {
		t0 := time.Now()
		for img := 0; img < batch; img++ {
			if err := tr.run(feats[img*flat:(img+1)*flat], x[img*cfg.InputLen():(img+1)*cfg.InputLen()]); err != nil {
				return nil, t, err
			}
		}
		t.ConvGEMM += time.Since(t0)
		return n.classifier(feats, batch, withFC8, t)
	}
	workers := runtime.GOMAXPROCS(0)
	bufs := [2][]float32{make([]float32, maxAct), make([]float32, maxAct)}
	cols := make([]float32, maxCols)
	for img := 0; img < batch; img++ {
		cur, curBuf := x[img*cfg.InputLen():(img+1)*cfg.InputLen()], 1
		s := cfg.InputSize
		for li, l := range n.conv {
			curBuf = 1 - curBuf
			dst := bufs[curBuf][:l.out*s*s]
			conv3x3(dst, cur, l.w, l.b, cols, l.in, l.out, s, s, convChunkCols, workers, &t)
			cur = dst
			if l.poolAft {
				t0 := time.Now()
				curBuf = 1 - curBuf
				pooled := bufs[curBuf]
				if li == len(n.conv)-1 {
					pooled = feats[img*flat : (img+1)*flat]
				}
				maxPool2(pooled, cur, l.out, s, s)
				s /= 2
				cur = pooled[:l.out*s*s]
				t.Pool += time.Since(t0)
			}
		}
	}
	return n.classifier(feats, batch, withFC8, t)
}

// classifier runs fc6 and fc7 (with ReLU), and fc8 when withFC8, on the
// flattened trunk outputs of batch images.
func (n *Net) classifier(feats []float32, batch int, withFC8 bool, t Timing) ([]float32, Timing, error) {
	cfg := n.cfg
	t0 := time.Now()
	h6 := make([]float32, batch*cfg.FC)
	linear(h6, feats, n.fc6.w, n.fc6.b, batch, n.fc6.in, n.fc6.out, true)
	h7 := make([]float32, batch*cfg.FC)
	linear(h7, h6, n.fc7.w, n.fc7.b, batch, n.fc7.in, n.fc7.out, true)
	if withFC8 {
		logits := make([]float32, batch*n.fc8.out)
		linear(logits, h7, n.fc8.w, n.fc8.b, batch, n.fc8.in, n.fc8.out, false)
		h7 = logits
	}
	t.FC = time.Since(t0)
	return h7, t, nil
}

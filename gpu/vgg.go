//go:build gpu && !emu

package gpu

import (
	"fmt"
	"os"
	"time"
	"unsafe"

	"tagimp/cuda"
	"tagimp/cuda/dnn"
	"tagimp/data/imageprep"
	"tagimp/model/ops"
	"tagimp/model/vgg16"
)

// VGGOptions configures NewVGG16.
type VGGOptions struct {
	// Batch is the number of images of one Forward (descriptors, buffers
	// and the algorithm choice are made for it).
	Batch int
	// Precision is FP32, TF32 (the default), BF16 or FP16.
	Precision Precision
	// MaxWorkspace bounds the scratch cuDNN may use per convolution while
	// the algorithms are measured (default 1 GiB).
	MaxWorkspace int64
	// Algos, when it names one algorithm per convolution (13), replaces the
	// measurement: a resumed run repeats the choices of the run it resumes
	// (features.Plan), so that it writes the same bytes. An algorithm this
	// cuDNN refuses for its layer is measured again, with a message.
	Algos []dnn.Algo
	// unfused puts every 16-bit layer on the unfused path (plain
	// convolution + tg_bias_relu16) without trying the fused call: the
	// test that compares both paths sets it.
	unfused bool
}

// VGG16 runs VGG16 up to fc7 on the device: 13 convolutions with bias and
// ReLU fused (cudnnConvolutionBiasActivationForward), 5 max-pools (cuDNN),
// fc6 and fc7 through cuBLAS with our fused bias+ReLU epilogue
// (tg_dense_forward). At FP32/TF32 activations are NCHW float32. At
// BF16/FP16 the convolutions and pools run on NHWC 16-bit tensors with
// float32 accumulation: Forward first converts the float32 NCHW input to
// 16-bit NHWC (tg_nchw_to_nhwc16, channels padded to 8) and pool5 back to
// float32 NCHW (tg_nhwc16_to_nchw) for fc6, whose flatten order is then
// PyTorch's; a 16-bit layer whose fused call cuDNN does not support runs
// cudnnConvolutionForward + tg_bias_relu16 instead (decided per layer at
// construction; Describe says which). The weights are those of a
// model/vgg16.Net (the CPU path's loader), uploaded once (converted on the
// host to 16-bit NHWC filters at BF16/FP16). The algorithm of each
// convolution is measured once, at construction, for the batch size, and
// the workspace sized to the largest chosen algorithm's need.
//
// All calls must come from a goroutine bound to ctx (ctx.Bind).
type VGG16 struct {
	ctx    *cuda.Context
	stream *cuda.Stream
	k      *cuda.Kernels
	blas   *cuda.BLAS
	h      *dnn.Handle
	lib    *dnn.Library
	opts   VGGOptions
	cfg    vgg16.Config

	layers   []vggConv
	relu     *dnn.Activation
	pool     *dnn.Pooling
	fc6w     cuda.Buffer
	fc6b     cuda.Buffer
	fc7w     cuda.Buffer
	fc7b     cuda.Buffer
	in       cuda.Buffer
	act      [2]cuda.Buffer
	fc6, fc7 cuda.Buffer
	// BF16/FP16: the 16-bit NHWC input and pool5 as float32 NCHW.
	in16, flat cuda.Buffer
	ws         cuda.Buffer
	bufs       []*cuda.Buffer
	// Raw images staged for the device preprocessing (PrepRaw), grown as
	// needed.
	pix cuda.Buffer
}

type vggConv struct {
	w, b       cuda.Buffer
	x, y, pool *dnn.Tensor
	bias       *dnn.Tensor
	f          *dnn.Filter
	conv       *dnn.Conv
	algo       dnn.Algo
	wsBytes    uint64
	ms         float32
	cin, cout  int
	cinPad     int // cin, or input16Channels for conv1_1 at BF16/FP16
	size       int
	poolAfter  bool
	// fused: bias and ReLU inside cudnnConvolutionBiasActivationForward;
	// else cudnnConvolutionForward then tg_bias_relu16, because of unfused
	// (the status the fused call gave, or why it was not tried).
	fused   bool
	unfused string
}

// NewVGG16 uploads net's weights to the device of ctx and prepares the
// layers for o.Batch images.
func NewVGG16(ctx *cuda.Context, net *vgg16.Net, o VGGOptions) (v *VGG16, err error) {
	if o.Batch <= 0 {
		return nil, fmt.Errorf("vgg16 on the GPU: batch %d, want ≥ 1", o.Batch)
	}
	if o.Precision == "" {
		o.Precision = TF32
	}
	if _, err := ParsePrecision(string(o.Precision)); err != nil {
		return nil, err
	}
	if o.MaxWorkspace <= 0 {
		o.MaxWorkspace = 1 << 30
	}
	lib, err := dnn.Open()
	if err != nil {
		return nil, err
	}
	v = &VGG16{ctx: ctx, lib: lib, opts: o, cfg: net.Config()}
	defer func() {
		if err != nil {
			v.Close()
			v = nil
		}
	}()
	if v.stream, err = ctx.NewStream(); err != nil {
		return v, err
	}
	if v.k, err = ctx.LoadKernels(); err != nil {
		return v, err
	}
	// fc6 and fc7 are float32 GEMMs at every precision; TF32 tensor cores
	// unless FP32 (BF16/FP16: as PyTorch's autocast runs them in 16 bits,
	// ours are at least as exact).
	if v.blas, err = ctx.NewBLAS(v.stream, o.Precision != FP32); err != nil {
		return v, err
	}
	if v.h, err = dnn.NewHandle(v.stream.Handle()); err != nil {
		return v, err
	}
	if v.relu, err = dnn.NewReLU(); err != nil {
		return v, err
	}
	if v.pool, err = dnn.NewMaxPool(2, 2); err != nil {
		return v, err
	}
	if err = v.upload(net); err != nil {
		return v, err
	}
	if err = v.chooseAlgorithms(); err != nil {
		return v, err
	}
	if err = v.choosePaths(); err != nil {
		return v, err
	}
	return v, nil
}

// alloc allocates n float32 and remembers the buffer for Close.
func (v *VGG16) alloc(n int) (cuda.Buffer, error) { return v.allocBytes(int64(n) * 4) }

// allocBytes allocates bytes and remembers the buffer for Close.
func (v *VGG16) allocBytes(bytes int64) (cuda.Buffer, error) {
	b, err := v.ctx.Alloc(bytes)
	if err != nil {
		return b, fmt.Errorf("vgg16 on the GPU: %w", err)
	}
	v.bufs = append(v.bufs, &b)
	return b, nil
}

// upload16 copies 16-bit values to a new device buffer.
func (v *VGG16) upload16(x []uint16, name string) (cuda.Buffer, error) {
	b, err := v.allocBytes(int64(len(x)) * 2)
	if err != nil {
		return b, err
	}
	if err := v.ctx.UploadBytes(b, unsafe.Slice((*byte)(unsafe.Pointer(&x[0])), 2*len(x))); err != nil {
		return b, fmt.Errorf("upload %s: %w", name, err)
	}
	return b, nil
}

func (v *VGG16) uploadParam(p vgg16.Param) (cuda.Buffer, error) {
	b, err := v.alloc(len(p.Data))
	if err != nil {
		return b, err
	}
	if err := v.ctx.Upload(b, p.Data); err != nil {
		return b, fmt.Errorf("upload %s: %w", p.Name, err)
	}
	return b, nil
}

// upload copies the weights and builds the layers' descriptors. At
// BF16/FP16 the filters are converted on the host (ops.FilterToNHWC16:
// cuDNN's NHWC filter layout [out][kh][kw][in], RNE) and the biases
// rounded to the same 16-bit type, and every tensor, filter and pool
// descriptor is NHWC of that type with FLOAT compute and tensor-op math.
func (v *VGG16) upload(net *vgg16.Net) error {
	byName := map[string]vgg16.Param{}
	for _, p := range net.Params() {
		byName[p.Name] = p
	}
	cfg, n, prec := v.cfg, v.opts.Batch, v.opts.Precision
	half, bf := prec.is16(), prec == BF16
	dtype, format, math := dnn.Float, dnn.NCHW, dnn.DefaultMath
	switch {
	case prec == FP32:
		math = dnn.FMAMath
	case half:
		// cuDNN's PSEUDO_BFLOAT16_CONFIG / PSEUDO_HALF_CONFIG: 16-bit x, w
		// and y, FLOAT compute type (NewConv below), tensor cores.
		dtype, format, math = dnn.Half, dnn.NHWC, dnn.TensorOpMath
		if bf {
			dtype = dnn.BFloat16
		}
	}
	specs := cfg.Params(false)
	s, in := cfg.InputSize, 3
	i := 0
	for _, block := range cfg.Blocks {
		for j, out := range block {
			l := vggConv{cin: in, cinPad: in, cout: out, size: s, poolAfter: j == len(block)-1, fused: true}
			var err error
			wp, bp := byName[specs[i].Name], byName[specs[i+1].Name]
			i += 2
			if half {
				if len(v.layers) == 0 {
					l.cinPad = input16Channels
				}
				if l.w, err = v.upload16(ops.FilterToNHWC16(wp.Data, out, in, 3, 3, l.cinPad, bf), wp.Name); err != nil {
					return err
				}
				b16 := make([]uint16, len(bp.Data))
				for k, b := range bp.Data {
					b16[k] = ops.To16(b, bf)
				}
				if l.b, err = v.upload16(b16, bp.Name); err != nil {
					return err
				}
			} else {
				if l.w, err = v.uploadParam(wp); err != nil {
					return err
				}
				if l.b, err = v.uploadParam(bp); err != nil {
					return err
				}
			}
			if l.x, err = dnn.NewTensor(format, dtype, n, l.cinPad, s, s); err != nil {
				return err
			}
			if l.y, err = dnn.NewTensor(format, dtype, n, out, s, s); err != nil {
				return err
			}
			// The fused call's bias has y's data type in every configuration
			// but the INT8 ones (the configuration table of
			// cudnnConvolutionBiasActivationForward in cuDNN's API reference,
			// which we could not quote here; public callers agree:
			// LeelaChessZero/lc0 src/neural/cuda/layers.cc, ConvLayer<half>
			// with NHWC: bias descriptor 1×C×1×1 of CUDNN_DATA_HALF, float
			// alpha/beta, into cudnnConvolutionBiasActivationForward;
			// openvinotoolkit/openvino_contrib
			// modules/nvidia_plugin/src/ops/fused_convolution_cudnn.cpp,
			// MakeBiasDescriptor: NCHW 1×C×1×1 of the convolution's element
			// type). A 1×C×1×1 tensor lies the same in NCHW and NHWC. Not
			// yet confirmed on a GPU: choosePaths falls back if cuDNN
			// rejects it.
			if l.bias, err = dnn.NewTensor(dnn.NCHW, dtype, 1, out, 1, 1); err != nil {
				return err
			}
			if l.f, err = dnn.NewFilter(dtype, format, out, l.cinPad, 3, 3); err != nil {
				return err
			}
			if l.conv, err = dnn.NewConv(1, 1, 1, 1, dnn.Float, math); err != nil {
				return err
			}
			if l.poolAfter {
				if l.pool, err = dnn.NewTensor(format, dtype, n, out, s/2, s/2); err != nil {
					return err
				}
			}
			v.layers = append(v.layers, l)
			in = out
			if l.poolAfter {
				s /= 2
			}
		}
	}
	var err error
	fc := []*cuda.Buffer{&v.fc6w, &v.fc6b, &v.fc7w, &v.fc7b}
	for j, b := range fc {
		if *b, err = v.uploadParam(byName[specs[i+j].Name]); err != nil {
			return err
		}
	}
	if v.in, err = v.alloc(n * cfg.InputLen()); err != nil {
		return err
	}
	// The ping-pong buffers hold the largest activation (at FP32/TF32 also
	// the input's size: the algorithm search runs conv1_1 on act[0]), at
	// the precision's element size, as DeviceBytesPerImage counts them.
	maxAct := maxActivation(cfg)
	if !half {
		maxAct = max(maxAct, int64(cfg.InputLen()))
	}
	for j := range v.act {
		if v.act[j], err = v.allocBytes(int64(n) * maxAct * prec.actBytes()); err != nil {
			return err
		}
	}
	if half {
		if v.in16, err = v.allocBytes(int64(n) * input16Channels * int64(cfg.InputSize*cfg.InputSize) * 2); err != nil {
			return err
		}
		if v.flat, err = v.alloc(n * cfg.FlatDim()); err != nil {
			return err
		}
	}
	if v.fc6, err = v.alloc(n * cfg.FC); err != nil {
		return err
	}
	v.fc7, err = v.alloc(n * cfg.FC)
	return err
}

// chooseAlgorithms measures every forward algorithm of each convolution
// once (cudnnFindConvolutionForwardAlgorithmEx, on the layer's real
// buffers), keeps the fastest that ran, and sizes one workspace for all.
func (v *VGG16) chooseAlgorithms() error {
	free, _, err := v.ctx.MemInfo()
	if err != nil {
		return err
	}
	scratch := min(v.opts.MaxWorkspace, free/2) &^ 255
	ws, err := v.ctx.Alloc(scratch)
	if err != nil {
		return fmt.Errorf("vgg16 on the GPU: workspace for the algorithm search: %w", err)
	}
	defer v.ctx.Free(&ws)
	var need uint64
	for i := range v.layers {
		l := &v.layers[i]
		if len(v.opts.Algos) == len(v.layers) {
			l.algo, l.ms = v.opts.Algos[i], -1
			if l.wsBytes, err = v.h.WorkspaceSize(l.x, l.f, l.conv, l.y, l.algo); err == nil {
				need = max(need, l.wsBytes)
				continue
			}
			fmt.Fprintf(os.Stderr, "vgg16 on the GPU: conv%d: the recorded algorithm %v is refused (%v); measuring again\n", i+1, l.algo, err)
		}
		perf, err := v.h.FindAlgorithms(l.x, uintptr(v.act[0].Ptr()), l.f, uintptr(l.w.Ptr()), l.conv,
			l.y, uintptr(v.act[1].Ptr()), uintptr(ws.Ptr()), uint64(scratch))
		if err != nil {
			return fmt.Errorf("conv%d: %w", i+1, err)
		}
		l.algo = -1
		for _, p := range perf {
			if p.Err == nil {
				l.algo, l.ms = p.Algo, p.Time
				break
			}
		}
		if l.algo < 0 {
			return fmt.Errorf("conv%d (%d→%d channels, %d×%d, batch %d): no cuDNN algorithm ran", i+1, l.cin, l.cout, l.size, l.size, v.opts.Batch)
		}
		if l.wsBytes, err = v.h.WorkspaceSize(l.x, l.f, l.conv, l.y, l.algo); err != nil {
			return fmt.Errorf("conv%d: %w", i+1, err)
		}
		need = max(need, l.wsBytes)
	}
	if need > 0 {
		if v.ws, err = v.alloc(int((need + 3) / 4)); err != nil {
			return err
		}
	}
	return nil
}

// choosePaths decides, at BF16/FP16, which layers run fused: each layer
// tries cudnnConvolutionBiasActivationForward once with its chosen
// algorithm (on the scratch activations); a not-supported status
// (dnn.IsNotSupported) puts it on cudnnConvolutionForward +
// tg_bias_relu16, and so does a bad-parameter status (dnn.IsBadParam):
// the fused call's extra descriptors (bias type and layout, activation)
// are the part of this configuration no run has confirmed yet, and the
// unfused path does not use them; Describe shows the status either way.
// Any other error fails construction. FP32/TF32 layers stay fused (cuDNN
// supports every algorithm with ReLU there).
func (v *VGG16) choosePaths() error {
	if !v.opts.Precision.is16() {
		return nil
	}
	for i := range v.layers {
		l := &v.layers[i]
		if v.opts.unfused {
			l.fused, l.unfused = false, "unfused by option"
			continue
		}
		err := v.h.ConvBiasAct(l.x, uintptr(v.act[0].Ptr()), l.f, uintptr(l.w.Ptr()), l.conv, l.algo,
			uintptr(v.ws.Ptr()), l.wsBytes, l.bias, uintptr(l.b.Ptr()), v.relu, l.y, uintptr(v.act[1].Ptr()))
		switch {
		case err == nil:
			l.fused = true
		case dnn.IsNotSupported(err) || dnn.IsBadParam(err):
			l.fused, l.unfused = false, err.Error()
		default:
			return fmt.Errorf("conv%d: trying the fused convolution + bias + ReLU: %w", i+1, err)
		}
	}
	// A failure of the trial runs themselves shows here, not in the first
	// Forward.
	return v.stream.Synchronize()
}

// Batch is the number of images of one Forward.
func (v *VGG16) Batch() int { return v.opts.Batch }

// Algos are the convolutions' algorithms, in layer order (what
// VGGOptions.Algos takes to repeat them).
func (v *VGG16) Algos() []dnn.Algo {
	out := make([]dnn.Algo, len(v.layers))
	for i, l := range v.layers {
		out[i] = l.algo
	}
	return out
}

// Input is the device buffer Forward reads: float32 [Batch, 3, 224, 224],
// preprocessed as imageprep writes it (Kernels.Prep writes it in place).
func (v *VGG16) Input() cuda.Buffer { return v.in }

// FC7 is the device buffer Forward writes: float32 [Batch, 4096].
func (v *VGG16) FC7() cuda.Buffer { return v.fc7 }

// Stream is the stream every layer is queued on.
func (v *VGG16) Stream() *cuda.Stream { return v.stream }

// Kernels are the project's kernels, loaded on v's context.
func (v *VGG16) Kernels() *cuda.Kernels { return v.k }

// Forward queues the whole network on v's stream: Input → FC7. It does
// not wait; Stream().Synchronize() (or a download) does.
func (v *VGG16) Forward() error {
	n, prec := v.opts.Batch, v.opts.Precision
	half, bf := prec.is16(), prec == BF16
	cur, next := v.in, 0
	if half {
		hw := v.cfg.InputSize * v.cfg.InputSize
		if err := v.k.NCHWToNHWC16(v.stream, v.in16, v.in, n, 3, input16Channels, hw, bf); err != nil {
			return fmt.Errorf("input to %s NHWC: %w", prec, err)
		}
		cur = v.in16
	}
	for i := range v.layers {
		l := &v.layers[i]
		dst := v.act[next]
		if l.fused {
			if err := v.h.ConvBiasAct(l.x, uintptr(cur.Ptr()), l.f, uintptr(l.w.Ptr()), l.conv, l.algo,
				uintptr(v.ws.Ptr()), l.wsBytes, l.bias, uintptr(l.b.Ptr()), v.relu, l.y, uintptr(dst.Ptr())); err != nil {
				return fmt.Errorf("conv%d: %w", i+1, err)
			}
		} else {
			if err := v.h.ConvForward(1, l.x, uintptr(cur.Ptr()), l.f, uintptr(l.w.Ptr()), l.conv, l.algo,
				uintptr(v.ws.Ptr()), l.wsBytes, 0, l.y, uintptr(dst.Ptr())); err != nil {
				return fmt.Errorf("conv%d: %w", i+1, err)
			}
			total := int64(n) * int64(l.cout) * int64(l.size) * int64(l.size)
			if err := v.k.BiasReLU16(v.stream, dst, l.b, total, l.cout, bf); err != nil {
				return fmt.Errorf("conv%d bias+ReLU: %w", i+1, err)
			}
		}
		cur, next = dst, 1-next
		if l.poolAfter {
			dst = v.act[next]
			if err := v.h.Pool(v.pool, l.y, uintptr(cur.Ptr()), l.pool, uintptr(dst.Ptr())); err != nil {
				return fmt.Errorf("pool after conv%d: %w", i+1, err)
			}
			cur, next = dst, 1-next
		}
	}
	fc, flat := v.cfg.FC, v.cfg.FlatDim()
	if half {
		last := v.layers[len(v.layers)-1]
		s := last.size / 2
		if err := v.k.NHWC16ToNCHW(v.stream, v.flat, cur, n, last.cout, s*s, bf); err != nil {
			return fmt.Errorf("pool5 to float32 NCHW: %w", err)
		}
		cur = v.flat
	}
	// A Linear layer: Y[n, out] = X·Wᵀ, then bias and ReLU.
	if err := v.blas.Sgemm(false, true, n, fc, flat, 1, cur, flat, v.fc6w, flat, 0, v.fc6, fc); err != nil {
		return fmt.Errorf("fc6: %w", err)
	}
	if err := v.k.DenseForward(v.stream, v.fc6, v.fc6b, n, fc, cuda.ActReLU, 0, 0); err != nil {
		return fmt.Errorf("fc6 epilogue: %w", err)
	}
	if err := v.blas.Sgemm(false, true, n, fc, fc, 1, v.fc6, fc, v.fc7w, fc, 0, v.fc7, fc); err != nil {
		return fmt.Errorf("fc7: %w", err)
	}
	if err := v.k.DenseForward(v.stream, v.fc7, v.fc7b, n, fc, cuda.ActReLU, 0, 0); err != nil {
		return fmt.Errorf("fc7 epilogue: %w", err)
	}
	return nil
}

// PrepRaw uploads decoded images (only their 8-bit planes) and turns them
// into Input on the device with the preprocessing kernel (tg_prep, bit for
// bit imageprep's CPU path for prep): n = len(raws) ≤ Batch images.
func (v *VGG16) PrepRaw(raws []imageprep.Raw, prep imageprep.Config) error {
	n := len(raws)
	if n == 0 || n > v.opts.Batch {
		return fmt.Errorf("vgg16 on the GPU: %d raw images for a batch of %d", n, v.opts.Batch)
	}
	staged := make([]byte, rawBytes(raws))
	packRaws(staged, raws)
	if err := v.grow(&v.pix, int64(len(staged))); err != nil {
		return err
	}
	if err := v.ctx.UploadBytes(v.pix, staged); err != nil {
		return err
	}
	return v.prepStaged(v.pix, n, int64(len(staged)), prep)
}

// prepStaged queues tg_prep on n images staged in the first bytes of buf
// as packRaws lays them out (descriptors, then pixels).
func (v *VGG16) prepStaged(buf cuda.Buffer, n int, bytes int64, prep imageprep.Config) error {
	descBytes := int64(n) * imageprep.RawDescBytes
	descs, err := buf.SliceBytes(0, descBytes)
	if err != nil {
		return err
	}
	pix, err := buf.SliceBytes(descBytes, bytes-descBytes)
	if err != nil {
		return err
	}
	return v.prepOnDevice(pix, descs, n, prep)
}

// prepOnDevice queues tg_prep on v's stream: n images whose descriptors
// (struct tg_prep_src, offsets into pix) are in descs → Input.
func (v *VGG16) prepOnDevice(pix, descs cuda.Buffer, n int, prep imageprep.Config) error {
	if prep.Size != v.cfg.InputSize {
		return fmt.Errorf("vgg16 on the GPU: preprocessing to %d×%d for a network input of %d×%d", prep.Size, prep.Size, v.cfg.InputSize, v.cfg.InputSize)
	}
	caffe := prep.Mode == imageprep.Caffe
	mean, std := imageprep.TorchvisionMean, imageprep.TorchvisionStd
	if caffe {
		mean = imageprep.CaffeMeanBGR
	}
	return v.k.Prep(v.stream, v.in, pix, descs, n, prep.Size, caffe, mean, std)
}

// grow makes *b hold at least bytes, reallocating (contents lost).
func (v *VGG16) grow(b *cuda.Buffer, bytes int64) error {
	if b.Bytes() >= bytes {
		return nil
	}
	if err := v.stream.Synchronize(); err != nil { // the old buffer may still be read
		return err
	}
	if !b.IsNull() {
		v.ctx.Free(b)
	}
	nb, err := v.ctx.Alloc(max(bytes, 1<<20) * 5 / 4)
	if err != nil {
		return fmt.Errorf("vgg16 on the GPU: raw image buffer: %w", err)
	}
	*b = nb
	return nil
}

// download copies the first n fc7 rows to the host (after the stream).
func (v *VGG16) download(n int) ([]float32, error) {
	if err := v.stream.Synchronize(); err != nil {
		return nil, err
	}
	out := make([]float32, n*v.cfg.FC)
	rows, err := v.fc7.Slice32(0, len(out))
	if err != nil {
		return nil, err
	}
	if err := v.ctx.Download(out, rows); err != nil {
		return nil, err
	}
	return out, nil
}

// FC7Raw preprocesses raws on the device (PrepRaw), runs Forward and
// returns their fc7 rows.
func (v *VGG16) FC7Raw(raws []imageprep.Raw, prep imageprep.Config) ([]float32, error) {
	if err := v.PrepRaw(raws, prep); err != nil {
		return nil, err
	}
	if err := v.Forward(); err != nil {
		return nil, err
	}
	return v.download(len(raws))
}

// FC7Host runs Forward on x (n ≤ Batch preprocessed images, n·3·224·224
// values) and returns their fc7 rows: the synchronous path, for tests and
// small jobs.
func (v *VGG16) FC7Host(x []float32, n int) ([]float32, error) {
	if n <= 0 || n > v.opts.Batch || len(x) != n*v.cfg.InputLen() {
		return nil, fmt.Errorf("vgg16 on the GPU: %d values for %d images (batch %d), want n·%d", len(x), n, v.opts.Batch, v.cfg.InputLen())
	}
	in, err := v.in.Slice32(0, len(x))
	if err != nil {
		return nil, err
	}
	if err := v.ctx.Upload(in, x); err != nil {
		return nil, err
	}
	if err := v.Forward(); err != nil {
		return nil, err
	}
	return v.download(n)
}

// Describe says, one line a layer, which algorithm each convolution uses,
// its measured time and workspace, whether bias and ReLU are fused into
// cuDNN's call or run by tg_bias_relu16 (and why), and which cuDNN.
func (v *VGG16) Describe() string {
	layout := "NCHW float32"
	if v.opts.Precision.is16() {
		layout = fmt.Sprintf("NHWC %s (input padded to %d channels), float32 accumulation", v.opts.Precision, input16Channels)
	}
	s := fmt.Sprintf("%s, precision %s, %s, batch %d, workspace %d B\n", v.lib, v.opts.Precision, layout, v.opts.Batch, v.ws.Bytes())
	for i, l := range v.layers {
		path := "fused bias+ReLU"
		if !l.fused {
			path = "conv + tg_bias_relu16 (" + l.unfused + ")"
		}
		ms := fmt.Sprintf("%7.3f ms", l.ms)
		if l.ms < 0 {
			ms = "  recorded" // VGGOptions.Algos: not measured
		}
		s += fmt.Sprintf("  conv%-2d %3d→%3d %3d×%-3d %-22v %s  workspace %d B  %s\n", i+1, l.cin, l.cout, l.size, l.size, l.algo, ms, l.wsBytes, path)
	}
	return s
}

// CuDNN is the cuDNN in use (path and version), for manifests.
func (v *VGG16) CuDNN() *dnn.Library { return v.lib }

// Timed runs Forward iters times after one warm-up and returns the mean
// time of one batch (CUDA events around the queued work).
func (v *VGG16) Timed(iters int) (time.Duration, error) {
	if err := v.Forward(); err != nil {
		return 0, err
	}
	ms, err := v.ctx.TimeOn(v.stream, func() error {
		for i := 0; i < iters; i++ {
			if err := v.Forward(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return time.Duration(ms * float64(time.Millisecond) / float64(max(iters, 1))), nil
}

// Close frees everything NewVGG16 made.
func (v *VGG16) Close() error {
	for _, l := range v.layers {
		for _, d := range []interface{ Close() }{l.x, l.y, l.pool, l.bias, l.f, l.conv} {
			d.Close()
		}
	}
	v.layers = nil
	v.relu.Close()
	v.pool.Close()
	for _, b := range v.bufs {
		v.ctx.Free(b)
	}
	v.bufs = nil
	v.ctx.Free(&v.pix)
	if v.h != nil {
		v.h.Close()
	}
	if v.blas != nil {
		v.blas.Close()
	}
	if v.k != nil {
		v.k.Close()
	}
	if v.stream != nil {
		v.stream.Destroy()
	}
	return nil
}

//go:build gpu

package cuda

import "fmt"

// Act selects a dense layer's activation (TG_ACT_* in tagimp_math.h).
type Act int

const (
	// ActNone is y = a + b (output layers).
	ActNone Act = 0
	// ActReLU is y = ReLU(a + b) · dropout mask (p = 0: no dropout).
	ActReLU Act = 1
)

// AdamHyper holds Adam's constant hyper-parameters (torch.optim.Adam:
// LR 1e-3, Beta1 0.9, Beta2 0.999, Eps 1e-8, WeightDecay 0 by default).
type AdamHyper struct {
	LR, Beta1, Beta2, Eps, WeightDecay float32
}

// Kernels holds every kernel of kernels/*.cu, loaded from the embedded
// fatbin, behind typed methods that know each kernel's argument order and
// launch shape. The per-element math of each kernel is in
// kernels/tagimp_math.h; its Go twin is named in each method's comment.
//
// All buffers hold float32, row-major, except the 16-bit (bfloat16 or IEEE
// half) tensors of the half.cu methods, which say so. A null Buffer passes
// NULL where the kernel allows it (said per method). Methods queue work on
// stream s (nil: the legacy default stream) and return launch errors only.
type Kernels struct {
	mod *Module
	sms int

	denseForward, denseBackward          *Function
	bceLogits, sigmoidMSE, sigmoid       *Function
	weightedAverage, l2normRows, m2input *Function
	adam, adamDev, adamPowers            *Function
	gatherRows, gatherRowsDev            *Function
	denseForwardDev, stepEnd             *Function
	prep                                 *Function
	toNHWC16, fromNHWC16, biasReLU16     *Function
}

// KernelNames lists every extern "C" kernel the fatbin must hold.
var KernelNames = []string{
	"tg_dense_forward", "tg_dense_backward",
	"tg_bce_logits", "tg_sigmoid_mse", "tg_sigmoid_fwd",
	"tg_weighted_average", "tg_l2norm_rows", "tg_model2_input",
	"tg_adam", "tg_adam_dev", "tg_adam_powers",
	"tg_gather_rows", "tg_gather_rows_dev", "tg_dense_forward_dev", "tg_step_end",
	"tg_prep",
	"tg_nchw_to_nhwc16", "tg_nhwc16_to_nchw", "tg_bias_relu16",
}

// LoadKernels loads the kernel image (the embedded fatbin, or the file
// TAGIMP_FATBIN names: see Fatbin) and looks up every kernel.
func (c *Context) LoadKernels() (*Kernels, error) {
	img, what, err := Fatbin()
	if err != nil {
		return nil, err
	}
	mod, err := c.LoadFatbin(img, "kernels ("+what+")")
	if err != nil {
		return nil, err
	}
	k := &Kernels{mod: mod, sms: max(c.info.SMs, 1)}
	for _, f := range []struct {
		dst  **Function
		name string
	}{
		{&k.denseForward, "tg_dense_forward"}, {&k.denseBackward, "tg_dense_backward"},
		{&k.bceLogits, "tg_bce_logits"}, {&k.sigmoidMSE, "tg_sigmoid_mse"}, {&k.sigmoid, "tg_sigmoid_fwd"},
		{&k.weightedAverage, "tg_weighted_average"}, {&k.l2normRows, "tg_l2norm_rows"}, {&k.m2input, "tg_model2_input"},
		{&k.adam, "tg_adam"}, {&k.adamDev, "tg_adam_dev"}, {&k.adamPowers, "tg_adam_powers"},
		{&k.gatherRows, "tg_gather_rows"}, {&k.gatherRowsDev, "tg_gather_rows_dev"},
		{&k.denseForwardDev, "tg_dense_forward_dev"}, {&k.stepEnd, "tg_step_end"},
		{&k.prep, "tg_prep"},
		{&k.toNHWC16, "tg_nchw_to_nhwc16"}, {&k.fromNHWC16, "tg_nhwc16_to_nchw"}, {&k.biasReLU16, "tg_bias_relu16"},
	} {
		if *f.dst, err = mod.Function(f.name); err != nil {
			mod.Unload()
			return nil, err
		}
	}
	return k, nil
}

// Close unloads the kernels.
func (k *Kernels) Close() error { return k.mod.Unload() }

// Function returns a kernel by name, for benchmarks that launch it raw.
func (k *Kernels) Function(name string) (*Function, error) { return k.mod.Function(name) }

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// gridFor is the grid of a grid-stride kernel over n elements with 256
// threads a block: enough blocks to fill the GPU eight times over, no more.
func (k *Kernels) gridFor(n int) Dim3 {
	return Dim3{X: max(1, min(ceilDiv(n, 256), 8*k.sms))}
}

// DenseForward is the fused epilogue after a GEMM wrote Y = X·Wᵀ
// (tg_dense_forward), in place: Y[r,c] = act(Y[r,c] + bias[c]) with the
// dropout mask of element r·cols+c under key = ops.StreamKey(seed,
// ops.DropoutStream(step, layer)) with probability p. bias may be
// null. Launch: grid-stride, block 256. Twin: ops.DenseForward.
func (k *Kernels) DenseForward(s *Stream, Y, bias Buffer, rows, cols int, act Act, key uint64, p float32) error {
	n := rows * cols
	if n <= 0 {
		return nil
	}
	return k.denseForward.Launch(k.gridFor(n), Dim3{X: 256}, 0, s,
		Ptr(Y), Ptr(bias), I32(rows), I32(cols), I32(int(act)), U64(key), F32(p))
}

// DenseBackward is the matching backward epilogue (tg_dense_backward):
// dA = dY ⊙ keep ⊙ (Y > 0) for ActReLU (dA = dY for ActNone) and
// db[c] = Σ_r dA[r,c]. keep = ops.KeepScale(p) of the forward pass. dA may
// be dY (in place) or null (bias gradient only); db may be null; Y is read
// only for ActReLU. Launch: grid ⌈cols/32⌉, block (32, 8). Twin:
// ops.DenseBackward.
func (k *Kernels) DenseBackward(s *Stream, dA, dY, Y, db Buffer, rows, cols int, act Act, keep float32) error {
	if rows <= 0 || cols <= 0 {
		return nil
	}
	return k.denseBackward.Launch(Dim3{X: ceilDiv(cols, 32)}, Dim3{X: 32, Y: 8}, 0, s,
		Ptr(dA), Ptr(dY), Ptr(Y), Ptr(db), I32(rows), I32(cols), I32(int(act)), F32(keep))
}

// BCEWithLogits is the tag head's loss and gradient in one pass
// (tg_bce_logits) over n = B·T logits z and 0/1 targets y:
// loss[0] = mean BCE, grad = (σ(z) − y)/n, prob = σ(z). grad, prob and loss
// may each be null; y may be null when grad and loss are. Launch: grid 1,
// block 1024. Twin: ops.BCEWithLogits.
func (k *Kernels) BCEWithLogits(s *Stream, grad, prob, loss, z, y Buffer, n int) error {
	if n <= 0 {
		return nil
	}
	return k.bceLogits.Launch(Dim3{X: 1}, Dim3{X: 1024}, 0, s,
		Ptr(grad), Ptr(prob), Ptr(loss), Ptr(z), Ptr(y), I32(n))
}

// SigmoidMSE is an importance head's loss and gradient in one pass
// (tg_sigmoid_mse): s = σ(z), loss[0] = Σ w(s − t)² / max(Σw, 1),
// grad = w·2(s − t)s(1 − s) / max(Σw, 1), prob = s, with w = mask (0/1,
// --imp-loss-mask true) or 1 when mask is null. grad, prob, loss may be
// null. Launch: grid 1, block 1024. Twin: ops.SigmoidMSE.
func (k *Kernels) SigmoidMSE(s *Stream, grad, prob, loss, z, t, mask Buffer, n int) error {
	if n <= 0 {
		return nil
	}
	return k.sigmoidMSE.Launch(Dim3{X: 1}, Dim3{X: 1024}, 0, s,
		Ptr(grad), Ptr(prob), Ptr(loss), Ptr(z), Ptr(t), Ptr(mask), I32(n))
}

// Sigmoid writes out = σ(z) (tg_sigmoid_fwd); out may be z. Twin: ops.Sigmoid.
func (k *Kernels) Sigmoid(s *Stream, out, z Buffer, n int) error {
	if n <= 0 {
		return nil
	}
	return k.sigmoid.Launch(k.gridFor(n), Dim3{X: 256}, 0, s, Ptr(out), Ptr(z), I32(n))
}

// waStaticShared is the static shared memory of tg_weighted_average and
// tg_model2_input (kernels/wa.cu): scratch[32] floats and one int count,
// 132 bytes, which ptxas lays out in 144 (`make ptxas`: "144 bytes smem").
const waStaticShared = 144

// maxTagsShared bounds T for the kernels that keep a row's T weights in
// dynamic shared memory: static plus dynamic must fit the 48 KiB a block
// gets without opting in.
const maxTagsShared = (48<<10 - waStaticShared) / 4

// WeightedAverage writes Model 2's L2-normalised weighted embedding
// average (tg_weighted_average): out[b, 0:E] (row stride outStride) from
// probs [B,T] and vecs [T,E], tags with p ≥ θ. Launch: grid B, block 128,
// T·4 bytes of shared memory. Twin: ops.WeightedAverage.
func (k *Kernels) WeightedAverage(s *Stream, out Buffer, outStride int, probs, vecs Buffer, B, T, E int, theta float32) error {
	if T > maxTagsShared {
		return fmt.Errorf("weighted average: %d tags exceed the %d the kernel keeps in shared memory", T, maxTagsShared)
	}
	if B <= 0 {
		return nil
	}
	return k.weightedAverage.Launch(Dim3{X: B}, Dim3{X: 128}, T*4, s,
		Ptr(out), I32(outStride), Ptr(probs), Ptr(vecs), I32(T), I32(E), F32(theta))
}

// L2NormRows writes out[b, 0:D] = x[b]/max(‖x[b]‖, 1e-12) (tg_l2norm_rows),
// row stride outStride; out may be x. Launch: grid B, block 256. Twin:
// ops.L2NormalizeRows.
func (k *Kernels) L2NormRows(s *Stream, out Buffer, outStride int, x Buffer, B, D int) error {
	if B <= 0 {
		return nil
	}
	return k.l2normRows.Launch(Dim3{X: B}, Dim3{X: 256}, 0, s, Ptr(out), I32(outStride), Ptr(x), I32(D))
}

// Model2Input writes Model 2's importance-MLP input out [B, D+E] =
// concat(L2norm(fc7[b]), WA(b)) in one launch (tg_model2_input); fc7 [B,D],
// probs [B,T] (ground truth in training, tag probabilities at test time),
// vecs [T,E]. Launch: grid B, block 256, T·4 bytes of shared memory. Twin:
// ops.Model2Input.
func (k *Kernels) Model2Input(s *Stream, out, fc7, probs, vecs Buffer, B, D, T, E int, theta float32) error {
	if T > maxTagsShared {
		return fmt.Errorf("model 2 input: %d tags exceed the %d the kernel keeps in shared memory", T, maxTagsShared)
	}
	if B <= 0 {
		return nil
	}
	return k.m2input.Launch(Dim3{X: B}, Dim3{X: 256}, T*4, s,
		Ptr(out), Ptr(fc7), Ptr(probs), Ptr(vecs), I32(D), I32(T), I32(E), F32(theta))
}

// Adam updates n parameters in one launch (tg_adam) with bias corrections
// bc1 = 1−β1^t, bc2 = 1−β2^t from ops.AdamBiasCorrections(β1, β2, t).
// param, grad, m, v are flat [n] buffers. Launch: grid-stride, block 256.
// Twin: ops.Adam (bit for bit).
func (k *Kernels) Adam(s *Stream, param, grad, m, v Buffer, n int, h AdamHyper, bc1, bc2 float32) error {
	if n <= 0 {
		return nil
	}
	return k.adam.Launch(k.gridFor(n), Dim3{X: 256}, 0, s,
		Ptr(param), Ptr(grad), Ptr(m), Ptr(v), I64(int64(n)),
		F32(h.LR), F32(h.Beta1), F32(h.Beta2), F32(h.Eps), F32(h.WeightDecay), F32(bc1), F32(bc2))
}

// AdamDev is Adam with the bias corrections read from device memory
// (tg_adam_dev): bc1 = 1 − powers[0], bc2 = 1 − powers[1]. For CUDA graphs:
// queue AdamPowers then AdamDev each step, with powers initialised to {1, 1}.
// Twin: ops.AdamPowers + ops.Adam.
func (k *Kernels) AdamDev(s *Stream, param, grad, m, v Buffer, n int, h AdamHyper, powers Buffer) error {
	if n <= 0 {
		return nil
	}
	return k.adamDev.Launch(k.gridFor(n), Dim3{X: 256}, 0, s,
		Ptr(param), Ptr(grad), Ptr(m), Ptr(v), I64(int64(n)),
		F32(h.LR), F32(h.Beta1), F32(h.Beta2), F32(h.Eps), F32(h.WeightDecay), Ptr(powers))
}

// AdamPowers advances powers = {β1^t, β2^t} by one step on the device
// (tg_adam_powers). Launch: grid 1, block 1.
func (k *Kernels) AdamPowers(s *Stream, powers Buffer, beta1, beta2 float32) error {
	return k.adamPowers.Launch(Dim3{X: 1}, Dim3{X: 1}, 0, s, Ptr(powers), F32(beta1), F32(beta2))
}

// StepStateBytes is the size of a tg_step_state (ops.StepState) in device
// memory: allocate at least this much for the state the graph-mode kernels
// read, and write it with UploadU32(state, st.Words()[:]).
const StepStateBytes = 16

// maxGatherRows is the most rows one gather launch copies (gridDim.y).
const maxGatherRows = 65535

// gatherGrid is the launch grid of the gather kernels for n rows of cols.
func gatherGrid(what string, n, cols int) (Dim3, error) {
	if n > maxGatherRows {
		return Dim3{}, fmt.Errorf("%s of %d rows: at most %d per launch", what, n, maxGatherRows)
	}
	return Dim3{X: min(ceilDiv(cols, 256), 32), Y: n}, nil
}

// checkState checks that state can hold a tg_step_state.
func checkState(what string, state Buffer) error {
	if state.bytes < StepStateBytes {
		return fmt.Errorf("%s: step state buffer of %d bytes, want %d (a tg_step_state)", what, state.bytes, StepStateBytes)
	}
	return nil
}

// GatherRows copies dst[i, :] = src[rows[i], :] for n rows of cols floats
// (tg_gather_rows): a batch from a training split kept on the device. rows
// holds n int32 (UploadI32). Launch: grid (min(⌈cols/256⌉, 32), n), block
// 256; n ≤ 65535. Twin: ops.GatherRows.
func (k *Kernels) GatherRows(s *Stream, dst, src, rows Buffer, n, cols int) error {
	if n <= 0 || cols <= 0 {
		return nil
	}
	grid, err := gatherGrid("gather", n, cols)
	if err != nil {
		return err
	}
	return k.gatherRows.Launch(grid, Dim3{X: 256}, 0, s, Ptr(dst), Ptr(src), Ptr(rows), I32(cols))
}

// GatherRowsDev is GatherRows for a captured step (tg_gather_rows_dev):
// the batch rows of the slot in state, rows[slot·batch : (slot+1)·batch],
// read on the device. state holds a tg_step_state (StepStateBytes). Launch:
// as GatherRows with n = batch. Twin: ops.GatherRowsStep.
func (k *Kernels) GatherRowsDev(s *Stream, dst, src, rows, state Buffer, batch, cols int) error {
	if err := checkState("gather", state); err != nil {
		return err
	}
	if batch <= 0 || cols <= 0 {
		return nil
	}
	grid, err := gatherGrid("gather", batch, cols)
	if err != nil {
		return err
	}
	return k.gatherRowsDev.Launch(grid, Dim3{X: 256}, 0, s,
		Ptr(dst), Ptr(src), Ptr(rows), Ptr(state), I32(batch), I32(cols))
}

// DenseForwardDev is DenseForward for a captured step
// (tg_dense_forward_dev): the dropout key is that of layer `layer` at the
// step in state, ops.StreamKey(seed, ops.DropoutStream(step, layer)),
// computed on the device. state holds a tg_step_state. Launch: grid-stride,
// block 256. Twin: ops.DenseForwardStep.
func (k *Kernels) DenseForwardDev(s *Stream, Y, bias Buffer, rows, cols int, act Act, seed uint64, state Buffer, layer int, p float32) error {
	if err := checkState("dense forward", state); err != nil {
		return err
	}
	n := rows * cols
	if n <= 0 {
		return nil
	}
	return k.denseForwardDev.Launch(k.gridFor(n), Dim3{X: 256}, 0, s,
		Ptr(Y), Ptr(bias), I32(rows), I32(cols), I32(int(act)), U64(seed), Ptr(state), I32(layer), F32(p))
}

// StepEnd ends a captured step (tg_step_end): the step's nloss losses
// scratch[0:nloss] go to slots[nloss·slot:] (nloss = 0: no copy), then the
// state's slot and step advance by one. Launch: grid 1, block 1. Twin:
// ops.StepEnd.
func (k *Kernels) StepEnd(s *Stream, slots, scratch Buffer, nloss int, state Buffer) error {
	if err := checkState("step end", state); err != nil {
		return err
	}
	if nloss < 0 {
		return fmt.Errorf("step end: %d losses", nloss)
	}
	return k.stepEnd.Launch(Dim3{X: 1}, Dim3{X: 1}, 0, s, Ptr(slots), Ptr(scratch), I32(nloss), Ptr(state))
}

// PrepBlock is the block size of tg_prep: one thread an output pixel.
const PrepBlock = 128

// Prep turns a batch of decoded images into VGG16 input (tg_prep,
// kernels/prep.cu): pix holds their 8-bit planes, descs one
// imageprep.RawDesc (struct tg_prep_src, 128 bytes) per image, offsets
// into pix; out receives float32 [n, 3, S, S]. caffe selects BGR and mean
// subtraction, else RGB/255, mean, std; mean and std are per output plane.
// Launch: grid (⌈S/128⌉, S, n), block 128. Twin: imageprep.Config.FromRaw.
func (k *Kernels) Prep(s *Stream, out, pix, descs Buffer, n, S int, caffe bool, mean, std [3]float32) error {
	if n <= 0 {
		return nil
	}
	if n > 65535 || S > 65535 {
		return fmt.Errorf("prep: %d images of %d×%d exceed the grid limits (65535)", n, S, S)
	}
	if descs.Bytes() < int64(n)*128 || out.Bytes() < int64(n)*3*int64(S)*int64(S)*4 {
		return fmt.Errorf("prep: buffers too small for %d images of 3×%d×%d (descs %d B, out %d B)", n, S, S, descs.Bytes(), out.Bytes())
	}
	return k.prep.Launch(Dim3{X: ceilDiv(S, PrepBlock), Y: S, Z: n}, Dim3{X: PrepBlock}, 0, s,
		Ptr(out), Ptr(pix), Ptr(descs), I32(S), I32(b2i(caffe)),
		F32(mean[0]), F32(mean[1]), F32(mean[2]), F32(std[0]), F32(std[1]), F32(std[2]))
}

// NCHWToNHWC16 converts float32 NCHW in [n, c, hw] to 16-bit NHWC out
// [n, hw, cpad] (tg_nchw_to_nhwc16, kernels/half.cu): bfloat16 when bf16,
// else IEEE half, rounded to nearest even; channels c … cpad−1 are zero.
// Launch: grid-stride over n·hw pixels, block 256. Twin: ops.NCHWToNHWC16.
func (k *Kernels) NCHWToNHWC16(s *Stream, out, in Buffer, n, c, cpad, hw int, bf16 bool) error {
	if n <= 0 || hw <= 0 {
		return nil
	}
	if cpad < c || in.Bytes() < int64(n)*int64(c)*int64(hw)*4 || out.Bytes() < int64(n)*int64(hw)*int64(cpad)*2 {
		return fmt.Errorf("nchw→nhwc16: buffers of %d and %d B for %d×%d×%d (padded to %d channels)", in.Bytes(), out.Bytes(), n, c, hw, cpad)
	}
	return k.toNHWC16.Launch(k.gridFor(n*hw), Dim3{X: 256}, 0, s,
		Ptr(out), Ptr(in), I32(n), I32(c), I32(cpad), I32(hw), I32(b2i(bf16)))
}

// NHWC16ToNCHW converts 16-bit NHWC in [n, hw, c] to float32 NCHW out
// [n, c, hw] (tg_nhwc16_to_nchw): exact. Launch: grid-stride over the
// n·c·hw outputs, block 256. Twin: ops.NHWC16ToNCHW.
func (k *Kernels) NHWC16ToNCHW(s *Stream, out, in Buffer, n, c, hw int, bf16 bool) error {
	total := int64(n) * int64(c) * int64(hw)
	if total <= 0 {
		return nil
	}
	if in.Bytes() < total*2 || out.Bytes() < total*4 {
		return fmt.Errorf("nhwc16→nchw: buffers of %d and %d B for %d×%d×%d", in.Bytes(), out.Bytes(), n, c, hw)
	}
	return k.fromNHWC16.Launch(k.gridFor(int(total)), Dim3{X: 256}, 0, s,
		Ptr(out), Ptr(in), I32(n), I32(c), I32(hw), I32(b2i(bf16)))
}

// BiasReLU16 is the epilogue of an unfused 16-bit convolution
// (tg_bias_relu16), in place on y, a 16-bit NHWC tensor of total values
// with c channels (c even): y = ReLU(y + bias[channel]) summed in float32
// and rounded to nearest even; bias is 16-bit [c]. Launch: grid-stride over
// total/2 words, block 256. Twin: ops.BiasReLUNHWC16.
func (k *Kernels) BiasReLU16(s *Stream, y, bias Buffer, total int64, c int, bf16 bool) error {
	if total <= 0 {
		return nil
	}
	if c <= 0 || c%2 != 0 || total%int64(c) != 0 || y.Bytes() < total*2 || bias.Bytes() < int64(c)*2 {
		return fmt.Errorf("bias+relu16: %d values of %d channels (want an even count dividing them), buffers %d and %d B", total, c, y.Bytes(), bias.Bytes())
	}
	return k.biasReLU16.Launch(k.gridFor(int(total/2)), Dim3{X: 256}, 0, s,
		Ptr(y), Ptr(bias), I64(total), I32(c), I32(b2i(bf16)))
}

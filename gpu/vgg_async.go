//go:build gpu && !emu

package gpu

import (
	"fmt"

	"tagimp/cuda"
	"tagimp/data/imageprep"
)

// vggSlots is the batchDevice of the fc7 pipeline on a real GPU. Each slot
// has pinned staging memory (descriptors, then 8-bit planes), a device
// copy of it and pinned memory for the fc7 rows. A batch is queued as:
//
//	copy stream:    stage → device                    record copied
//	network stream: wait copied; tg_prep → Input; VGG16 → FC7;
//	                FC7 → pinned rows                 record done
//
// The network stream runs one batch after another (Input and the
// activations are the network's, not the slot's), while the copy stream
// brings the next batch's pixels in under the current batch's compute.
// A slot's device copy is rewritten only after its batch is done (the
// pipeline hands out slots that are free), so tg_prep has read it.
type vggSlots struct {
	v    *VGG16
	ctx  *cuda.Context
	copy *cuda.Stream
	prep imageprep.Config
	slot []vggSlot
}

type vggSlot struct {
	stage        cuda.HostBuffer
	dev          cuda.Buffer
	rows         cuda.HostBuffer
	copied, done *cuda.Event
}

// newVGGSlots prepares n slots for v (pinned row buffers for a full batch;
// the staging memory grows with the images).
func newVGGSlots(ctx *cuda.Context, v *VGG16, n int, prep imageprep.Config) (d *vggSlots, err error) {
	if prep.Size != v.cfg.InputSize {
		return nil, fmt.Errorf("fc7 on the GPU: preprocessing to %d×%d for a network input of %d×%d", prep.Size, prep.Size, v.cfg.InputSize, v.cfg.InputSize)
	}
	d = &vggSlots{v: v, ctx: ctx, prep: prep, slot: make([]vggSlot, n)}
	defer func() {
		if err != nil {
			d.close()
			d = nil
		}
	}()
	if d.copy, err = ctx.NewStream(); err != nil {
		return d, err
	}
	for i := range d.slot {
		s := &d.slot[i]
		if s.rows, err = ctx.AllocHost(int64(v.opts.Batch) * int64(v.cfg.FC) * 4); err != nil {
			return d, err
		}
		if s.copied, err = ctx.NewSyncEvent(); err != nil {
			return d, err
		}
		if s.done, err = ctx.NewSyncEvent(); err != nil {
			return d, err
		}
		// Staging for a typical batch now, so that an out-of-memory shows
		// at start-up (where it lowers the batch) rather than mid-run.
		if err = d.reserve(i, int64(v.opts.Batch)*typicalStagedBytes); err != nil {
			return d, err
		}
	}
	return d, nil
}

// typicalStagedBytes is what newVGGSlots reserves per image and slot: a
// COCO image decoded at the DCT scale that covers 224×224 is about 270 kB;
// larger ones grow the slot when they come.
const typicalStagedBytes = 1 << 19

func (d *vggSlots) slots() int { return len(d.slot) }

func (d *vggSlots) host(s int) []byte { return d.slot[s].stage.Bytes() }

// reserve grows slot s's staging memory and its device copy to hold
// bytes, with a quarter to spare so that slightly larger batches do not
// reallocate each time.
func (d *vggSlots) reserve(s int, bytes int64) error {
	sl := &d.slot[s]
	if sl.stage.Len() >= bytes && sl.dev.Bytes() >= bytes {
		return nil
	}
	size := max(bytes+bytes/4, 1<<20)
	d.ctx.FreeHost(&sl.stage)
	d.ctx.Free(&sl.dev)
	var err error
	if sl.stage, err = d.ctx.AllocHost(size); err != nil {
		return fmt.Errorf("fc7 on the GPU: staging memory for %d bytes of decoded images: %w", bytes, err)
	}
	if sl.dev, err = d.ctx.Alloc(size); err != nil {
		return fmt.Errorf("fc7 on the GPU: device memory for %d bytes of decoded images: %w", bytes, err)
	}
	return nil
}

// launch queues slot s's batch (n images staged in its first bytes bytes).
func (d *vggSlots) launch(s, n int, bytes int64) error {
	sl, v := &d.slot[s], d.v
	if n <= 0 || n > v.opts.Batch {
		return fmt.Errorf("fc7 on the GPU: %d images for a batch of %d", n, v.opts.Batch)
	}
	if err := d.ctx.UploadAsync(sl.dev, sl.stage, bytes, d.copy); err != nil {
		return err
	}
	if err := sl.copied.Record(d.copy); err != nil {
		return err
	}
	if err := v.stream.WaitEvent(sl.copied); err != nil {
		return err
	}
	if err := v.prepStaged(sl.dev, n, bytes, d.prep); err != nil {
		return err
	}
	if err := v.Forward(); err != nil {
		return err
	}
	if err := d.ctx.DownloadAsync(sl.rows, v.fc7, int64(n)*int64(v.cfg.FC)*4, v.stream); err != nil {
		return err
	}
	return sl.done.Record(v.stream)
}

func (d *vggSlots) done(s int) (bool, error) { return d.slot[s].done.Done() }

func (d *vggSlots) wait(s int) error { return d.slot[s].done.Synchronize() }

func (d *vggSlots) rows(s, n int) []float32 {
	return d.slot[s].rows.Float32s()[:n*d.v.cfg.FC]
}

// close frees the slots (after the network stream has finished with them).
func (d *vggSlots) close() {
	if d.v != nil && d.v.stream != nil {
		d.v.stream.Synchronize()
	}
	if d.copy != nil {
		d.copy.Synchronize()
	}
	for i := range d.slot {
		s := &d.slot[i]
		d.ctx.FreeHost(&s.stage)
		d.ctx.FreeHost(&s.rows)
		d.ctx.Free(&s.dev)
		s.copied.Destroy()
		s.done.Destroy()
	}
	if d.copy != nil {
		d.copy.Destroy()
	}
}

// stagedBytesPerImage is the device copy of one decoded image a slot
// holds, counted generously: a COCO image decoded at the DCT scale that
// covers 224×224 is about 270 kB (3 bytes a pixel); a 4:1 panorama about
// 0.8 MB.
const stagedBytesPerImage = 3 << 19

// vggReserveBytes is what AutoBatch keeps for cuDNN's workspace (at most
// VGGOptions.MaxWorkspace, 1 GiB) and half a GiB for the libraries'
// handles and the context.
const vggReserveBytes = 1<<30 + 1<<29

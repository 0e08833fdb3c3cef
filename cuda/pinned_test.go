//go:build gpu

package cuda

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"
)

// TestPinnedAsyncCopies: pinned memory round-trips through the device by
// asynchronous copies on two streams ordered by an event (the features
// pipeline's pattern: the copy stream uploads and records; the compute
// stream waits for the event, works, downloads and records), and Done
// turns true only when the work before the event has run.
func TestPinnedAsyncCopies(t *testing.T) {
	bind(t)
	const n = 64 << 20 // large enough that the copies take a while
	src, err := tctx.AllocHost(n)
	must(t, err)
	defer tctx.FreeHost(&src)
	dst, err := tctx.AllocHost(n)
	must(t, err)
	defer tctx.FreeHost(&dst)
	if int64(len(src.Bytes())) != n || len(src.Float32s()) != n/4 {
		t.Fatalf("pinned views of %d and %d elements, want %d bytes", len(src.Bytes()), len(src.Float32s()), n)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range src.Bytes() {
		src.Bytes()[i] = byte(r.Uint32())
	}
	a, err := tctx.Alloc(n)
	must(t, err)
	defer tctx.Free(&a)
	b, err := tctx.Alloc(n)
	must(t, err)
	defer tctx.Free(&b)
	copyS, err := tctx.NewStream()
	must(t, err)
	defer copyS.Destroy()
	work, err := tctx.NewStream()
	must(t, err)
	defer work.Destroy()
	copied, err := tctx.NewSyncEvent()
	must(t, err)
	defer copied.Destroy()
	done, err := tctx.NewSyncEvent()
	must(t, err)
	defer done.Destroy()

	must(t, tctx.UploadAsync(a, src, n, copyS))
	must(t, copied.Record(copyS))
	must(t, work.WaitEvent(copied))
	must(t, tctx.Copy(b, a, work))
	must(t, tctx.DownloadAsync(dst, b, n, work))
	must(t, done.Record(work))
	polls := 0
	for deadline := time.Now().Add(10 * time.Second); ; polls++ {
		ok, err := done.Done()
		must(t, err)
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("event not done after 10 s")
		}
	}
	if !bytes.Equal(dst.Bytes(), src.Bytes()) {
		t.Fatal("bytes changed on the way host → device → device → host")
	}
	t.Logf("%d MiB round trip, event polled %d times before done", n>>20, polls)

	if _, err := a.SliceBytes(n-4, 8); err == nil {
		t.Error("SliceBytes past the end accepted")
	}
	if err := tctx.UploadAsync(a, src, n+1, copyS); err == nil {
		t.Error("UploadAsync of more bytes than the pinned buffer holds accepted")
	}
}

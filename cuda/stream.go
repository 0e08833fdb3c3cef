//go:build gpu

package cuda

/*
#include <cuda.h>
*/
import "C"

import (
	"fmt"
	"unsafe"

	"gorgonia.org/cu"
)

// Stream is a CUDA stream. A nil *Stream is the legacy default stream.
type Stream struct {
	c *Context
	s cu.Stream
}

// NewStream creates a non-blocking stream (it does not synchronise with the
// legacy default stream).
func (c *Context) NewStream() (*Stream, error) {
	if err := c.check("create a CUDA stream"); err != nil {
		return nil, err
	}
	s, err := cu.MakeStream(cu.NonBlocking)
	if err != nil {
		return nil, fmt.Errorf("create a CUDA stream on GPU %d: %w", c.info.Ordinal, err)
	}
	return &Stream{c: c, s: s}, nil
}

func (s *Stream) cu() cu.Stream {
	if s == nil {
		return cu.NoStream
	}
	return s.s
}

// handle is the raw CUstream (also a cudaStream_t, for cuBLAS).
func (s *Stream) handle() C.CUstream {
	if s == nil {
		return nil
	}
	return C.CUstream(unsafe.Pointer(s.s.C()))
}

// Handle is the raw CUstream as an address (0 for the default stream), for
// libraries opened at run time that take a cudaStream_t (cuDNN).
func (s *Stream) Handle() uintptr { return uintptr(unsafe.Pointer(s.handle())) }

// Synchronize waits until all work queued on s has finished.
func (s *Stream) Synchronize() error {
	if s != nil {
		if err := s.c.check("synchronize stream"); err != nil {
			return err
		}
	}
	if err := s.cu().Synchronize(); err != nil {
		return fmt.Errorf("synchronize stream: %w (a kernel or copy on it failed)", err)
	}
	return nil
}

// Destroy releases the stream (after its queued work completes).
func (s *Stream) Destroy() error {
	if s == nil {
		return nil
	}
	if err := s.c.check("destroy stream"); err != nil {
		return err
	}
	if err := s.s.Destroy(); err != nil {
		return fmt.Errorf("destroy stream: %w", err)
	}
	return nil
}

// Event marks a point in a stream, for timing.
type Event struct {
	c *Context
	e cu.Event
}

// NewEvent creates an event that records time.
func (c *Context) NewEvent() (*Event, error) {
	if err := c.check("create a CUDA event"); err != nil {
		return nil, err
	}
	e, err := cu.MakeEvent(cu.DefaultEvent)
	if err != nil {
		return nil, fmt.Errorf("create a CUDA event: %w", err)
	}
	return &Event{c: c, e: e}, nil
}

// Record records e on stream s (nil: default).
func (e *Event) Record(s *Stream) error {
	if err := e.c.check("record CUDA event"); err != nil {
		return err
	}
	if err := e.e.Record(s.cu()); err != nil {
		return fmt.Errorf("record CUDA event: %w", err)
	}
	return nil
}

// Synchronize waits for the event.
func (e *Event) Synchronize() error {
	if err := e.c.check("wait for CUDA event"); err != nil {
		return err
	}
	if err := e.e.Synchronize(); err != nil {
		return fmt.Errorf("wait for CUDA event: %w", err)
	}
	return nil
}

// Elapsed returns the milliseconds from start to e (both recorded, e done).
func (e *Event) Elapsed(start *Event) (float64, error) {
	if err := e.c.check("time between CUDA events"); err != nil {
		return 0, err
	}
	ms, err := start.e.Elapsed(e.e)
	if err != nil {
		return 0, fmt.Errorf("time between CUDA events: %w", err)
	}
	return ms, nil
}

// TimeOn returns the device time, in milliseconds, of the work that
// queue queues on stream s (nil: default): events recorded before and
// after it, waited for.
func (c *Context) TimeOn(s *Stream, queue func() error) (ms float64, err error) {
	start, err := c.NewEvent()
	if err != nil {
		return 0, err
	}
	defer start.Destroy()
	stop, err := c.NewEvent()
	if err != nil {
		return 0, err
	}
	defer stop.Destroy()
	if err := start.Record(s); err != nil {
		return 0, err
	}
	if err := queue(); err != nil {
		return 0, err
	}
	if err := stop.Record(s); err != nil {
		return 0, err
	}
	if err := stop.Synchronize(); err != nil {
		return 0, err
	}
	return stop.Elapsed(start)
}

// Destroy releases the event.
func (e *Event) Destroy() error {
	if e == nil {
		return nil
	}
	if err := e.c.check("destroy CUDA event"); err != nil {
		return err
	}
	if err := cu.DestroyEvent(&e.e); err != nil {
		return fmt.Errorf("destroy CUDA event: %w", err)
	}
	return nil
}

// Graph is an instantiated CUDA graph captured from a stream.
type Graph struct {
	c    *Context
	g    C.CUgraph
	exec C.CUgraphExec
}

func curesult(what string, r C.CUresult) error {
	if r == C.CUDA_SUCCESS {
		return nil
	}
	var name, msg *C.char
	C.cuGetErrorName(r, &name)
	C.cuGetErrorString(r, &msg)
	if name == nil || msg == nil {
		return fmt.Errorf("%s: CUDA error %d", what, int(r))
	}
	return fmt.Errorf("%s: %s (%s)", what, C.GoString(name), C.GoString(msg))
}

// BeginCapture starts recording the work queued on s (which must not be the
// default stream) into a graph instead of running it. Work on other streams
// is not captured; calls that synchronise (Download, Synchronize) are not
// allowed until EndCapture.
func (s *Stream) BeginCapture() error {
	if s == nil {
		return fmt.Errorf("begin graph capture: the legacy default stream cannot be captured; use a stream from NewStream")
	}
	if err := s.c.check("begin graph capture"); err != nil {
		return err
	}
	return curesult("begin graph capture (cuStreamBeginCapture)",
		C.cuStreamBeginCapture(s.handle(), C.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL))
}

// EndCapture stops recording and instantiates the captured graph.
func (s *Stream) EndCapture() (*Graph, error) {
	if s == nil {
		return nil, fmt.Errorf("end graph capture: the legacy default stream is never captured")
	}
	if err := s.c.check("end graph capture"); err != nil {
		return nil, err
	}
	g := Graph{c: s.c}
	if err := curesult("end graph capture (cuStreamEndCapture)", C.cuStreamEndCapture(s.handle(), &g.g)); err != nil {
		return nil, err
	}
	if err := curesult("instantiate the captured graph (cuGraphInstantiateWithFlags)",
		C.cuGraphInstantiateWithFlags(&g.exec, g.g, 0)); err != nil {
		C.cuGraphDestroy(g.g)
		return nil, err
	}
	return &g, nil
}

// Launch replays the graph on stream s.
func (g *Graph) Launch(s *Stream) error {
	if err := g.c.check("launch CUDA graph"); err != nil {
		return err
	}
	return curesult("launch CUDA graph", C.cuGraphLaunch(g.exec, s.handle()))
}

// Destroy releases the graph.
func (g *Graph) Destroy() error {
	if g == nil {
		return nil
	}
	if err := g.c.check("destroy CUDA graph"); err != nil {
		return err
	}
	err := curesult("destroy graph exec", C.cuGraphExecDestroy(g.exec))
	if e := curesult("destroy graph", C.cuGraphDestroy(g.g)); err == nil {
		err = e
	}
	return err
}

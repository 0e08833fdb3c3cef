package cpu

import (
	"reflect"
	"unsafe"

	G "gorgonia.org/gorgonia"
)

// rewinder readies a gorgonia tape machine for its next run without
// throwing its buffers away.
//
// After RunAll a tape machine has to be reset or its next run does
// nothing; Reset clears every register, so each run allocates all its
// intermediate values again, among them the weight gradients (64 MB for
// fc1 at the paper's shape, twice that for Model 2), which the garbage
// collector then has to clear and collect. A tape machine whose registers
// still hold last run's values reuses them instead: its alloc
// instructions skip a register that already holds a value of the right
// type and shape, and its operations write into it. Every instruction
// writes a register before any instruction of the same run reads it, so a
// stale value is only ever overwritten, never read.
//
// A register keeps its value only if that value's memory overlaps neither
// a value bound to a node of the graph before any run (the inputs, the
// parameters, constants) nor the value of another register: an
// instruction that writes into such a register would otherwise write into
// a parameter or an input, or into a buffer (a view of it) that another
// register still needs. Those registers are cleared, as Reset does.
//
// gorgonia v0.9 offers no way to rewind a machine but Reset, so rewind
// sets the machine's program counter and registers through reflect. When
// the machine does not have the fields it expects (another gorgonia
// version), it falls back to Reset; active says which one is in use.
type rewinder struct {
	vm        G.VM
	pc        *int
	mem       *[]G.Value
	protected []span
	spans     []span // scratch
}

// span is the memory of one value, [lo, hi), and the register holding it.
type span struct {
	lo, hi uintptr
	reg    int
}

func spanOf(v G.Value, reg int) span {
	lo := v.Uintptr()
	return span{lo: lo, hi: lo + max(uintptr(v.MemSize()), 1), reg: reg}
}

func (a span) overlaps(b span) bool { return a.lo < b.hi && b.lo < a.hi }

// newRewinder returns the rewinder of vm, a tape machine of g made before
// any run of it.
func newRewinder(vm G.VM, g *G.ExprGraph) *rewinder {
	r := &rewinder{vm: vm}
	rv := reflect.ValueOf(vm)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return r
	}
	el := rv.Elem()
	pc, mem := el.FieldByName("pc"), el.FieldByName("cpumem")
	if !pc.IsValid() || pc.Kind() != reflect.Int || !mem.IsValid() || mem.Type() != reflect.TypeFor[[]G.Value]() {
		return r
	}
	for _, n := range g.AllNodes() {
		if v := n.Value(); v != nil {
			r.protected = append(r.protected, spanOf(v, -1))
		}
	}
	r.pc = (*int)(unsafe.Pointer(pc.UnsafeAddr()))
	r.mem = (*[]G.Value)(unsafe.Pointer(mem.UnsafeAddr()))
	return r
}

// active reports whether rewind keeps the buffers (false: it calls Reset).
func (r *rewinder) active() bool { return r.pc != nil }

// rewind readies the machine for its next run.
func (r *rewinder) rewind() {
	if r.pc == nil {
		r.vm.Reset()
		return
	}
	mem := *r.mem
	r.spans = r.spans[:0]
	for i, v := range mem {
		if v != nil {
			r.spans = append(r.spans, spanOf(v, i))
		}
	}
	for _, s := range r.spans {
		clash := false
		for _, p := range r.protected {
			if s.overlaps(p) {
				clash = true
				break
			}
		}
		for _, o := range r.spans {
			if clash {
				break
			}
			clash = o.reg != s.reg && s.overlaps(o)
		}
		if clash {
			mem[s.reg] = nil
		}
	}
	*r.pc = 0
}

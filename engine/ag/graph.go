// Package ag is degradiff's reverse-mode automatic differentiation: a tape
// of operations on float32 tensors, and the operations themselves.
//
// A Graph records every operation whose inputs need gradients while it is in
// training mode; Backward then runs the recorded backward functions in reverse
// order. In inference mode nothing is recorded, and Release hands a tensor's
// memory back as soon as the caller no longer needs it, so that a large
// forward pass keeps only its live activations.
//
// Intermediate tensors come from the graph's buffer pool, and their Var and
// tensor headers, shapes and tape nodes from arenas the graph keeps. Reset
// returns them all, so a training loop that runs the same operations every
// step allocates nothing after its first step. Values obtained from a graph
// are valid until Reset: copy what must outlive it (Tensor.Clone).
//
// An operation records a Node: a small struct of its operands, taken from
// the graph with New, whose Backward method is the backward pass. Its
// parallel loops are structs too, run with parallel.Loop. Closures would do
// the same work but be allocated at every call; Record takes one, for
// operations off the hot path.
//
// Operations are Graph methods (g.Conv2d, g.Add, g.SiLU, ...). They panic
// with a *tensor.ShapeError naming the operation and the shapes when their
// operands do not fit.
package ag

import (
	"reflect"

	"github.com/degradiff/degradiff/engine/tensor"
)

// Var is a node of the graph: a value, the gradient of the loss with respect
// to it (after Backward), and whether gradients flow to it. The Vars that
// operations return belong to their graph and are valid until its Reset.
type Var struct {
	Value *tensor.Tensor
	Grad  *tensor.Tensor
	// Name is the parameter name (as in a state dict); empty for
	// intermediate values.
	Name string

	requiresGrad bool
	pooled       bool // Value.Data belongs to a graph pool
	gradPooled   bool // Grad.Data belongs to a graph pool
}

// Param returns a trainable variable holding t under the given name. Its
// gradient persists across Reset and accumulates until ZeroGrad.
func Param(name string, t *tensor.Tensor) *Var {
	return &Var{Value: t, Name: name, requiresGrad: true}
}

// Const returns a variable that never receives a gradient.
func Const(t *tensor.Tensor) *Var { return &Var{Value: t} }

// RequiresGrad reports whether gradients are computed for v.
func (v *Var) RequiresGrad() bool { return v.requiresGrad }

// SetRequiresGrad freezes (false) or unfreezes (true) a parameter.
func (v *Var) SetRequiresGrad(on bool) { v.requiresGrad = on }

// Shape returns the shape of v's value.
func (v *Var) Shape() []int { return v.Value.Shape }

// ZeroGrad clears the gradients of params.
func ZeroGrad(params []*Var) {
	for _, p := range params {
		if p.Grad != nil {
			p.Grad.Zero()
		}
	}
}

// Graph records operations for backpropagation and owns the memory of its
// intermediate values: a pool of tensor buffers, and arenas for the Var and
// tensor headers, the shapes and the tape nodes. Reset recycles all of it, so
// that a training loop running the same operations every step allocates
// nothing after its first step.
type Graph struct {
	record bool
	tape   []tapeEntry
	pool   map[int][][]float32
	live   [][]float32

	vars    slab[Var]
	tensors slab[tensor.Tensor]
	ints    slab[int]
	arenas  map[reflect.Type]arena // New and NewSlice, by element type
}

// tapeEntry is a recorded operation: its output and its backward pass.
type tapeEntry struct {
	out  *Var
	node Node
}

// Node is the backward pass of a recorded operation. Backward adds the
// gradients with respect to the operation's inputs (through GradOf), given
// the gradient of its output; it runs only if the output received one.
//
// Operations keep their operands in a small struct that implements Node,
// taken from the graph with New, rather than in a closure, which would be
// allocated on every call.
type Node interface {
	Backward(g *Graph)
}

// NewGraph returns a graph in training mode (record == true), which records
// operations for Backward, or in inference mode (record == false).
func NewGraph(record bool) *Graph {
	return &Graph{record: record, pool: map[int][][]float32{}}
}

// Recording reports whether the graph records operations.
func (g *Graph) Recording() bool { return g.record }

// Alloc returns a zeroed tensor from the graph's pool, valid until Reset.
func (g *Graph) Alloc(shape ...int) *tensor.Tensor {
	t := g.AllocUninit(shape...)
	clear(t.Data)
	return t
}

// AllocUninit is Alloc without zeroing, for outputs that are fully written.
func (g *Graph) AllocUninit(shape ...int) *tensor.Tensor {
	n := tensor.Numel(shape)
	var buf []float32
	if free := g.pool[n]; len(free) > 0 {
		buf = free[len(free)-1]
		g.pool[n] = free[:len(free)-1]
	} else {
		buf = make([]float32, n)
	}
	g.live = append(g.live, buf)
	return g.wrap(buf, shape)
}

// wrap returns a tensor header from the graph's arena for data, with a copy
// of shape.
func (g *Graph) wrap(data []float32, shape []int) *tensor.Tensor {
	t := &g.tensors.run(1)[0]
	t.Shape = g.ints.run(len(shape))
	copy(t.Shape, shape)
	t.Data = data
	return t
}

// Result wraps a freshly computed value (from Alloc) as the output of an
// operation on inputs, or with no inputs as a constant. The result needs a
// gradient when the graph records and any input needs one; only then should
// the operation record a node. The Var belongs to the graph and is valid
// until Reset.
func (g *Graph) Result(value *tensor.Tensor, inputs ...*Var) *Var {
	v := &g.vars.run(1)[0]
	v.Value, v.pooled = value, true
	if g.record {
		for _, in := range inputs {
			if in != nil && in.requiresGrad {
				v.requiresGrad = true
				break
			}
		}
	}
	return v
}

// RecordNode appends an operation's backward pass to the tape, if out needs
// a gradient. Take n from New, so that recording allocates nothing.
func (g *Graph) RecordNode(out *Var, n Node) {
	if out.requiresGrad {
		g.tape = append(g.tape, tapeEntry{out, n})
	}
}

// Record is RecordNode for a closure: backward reads out.Grad and adds into
// its inputs' gradients through GradOf. It is called only if out received a
// gradient. The closure is allocated on every call; the engine's own
// operations use RecordNode.
func (g *Graph) Record(out *Var, backward func()) {
	g.RecordNode(out, funcNode(backward))
}

// funcNode adapts a closure to Node.
type funcNode func()

func (f funcNode) Backward(*Graph) { f() }

// GradOf returns v's gradient tensor, allocating it zeroed on first use, or
// nil if v needs no gradient. Backward functions add into it.
func (g *Graph) GradOf(v *Var) *tensor.Tensor {
	if !v.requiresGrad {
		return nil
	}
	if v.Grad == nil {
		if v.Name != "" {
			// Parameter gradients persist across Reset.
			v.Grad = tensor.New(v.Value.Shape...)
		} else {
			v.Grad = g.Alloc(v.Value.Shape...)
			v.gradPooled = true
		}
	}
	return v.Grad
}

// gradOrFresh is GradOf for an operation that can write a gradient as
// well as add into it: when v has no gradient yet it returns an unzeroed
// buffer and fresh true, and the caller must then write every element.
// Zeroing activation gradients and reading the zeros back cost 5-8% of a
// training step. Parameter gradients persist and are always added into.
func (g *Graph) gradOrFresh(v *Var) (grad *tensor.Tensor, fresh bool) {
	if !v.requiresGrad {
		return nil, false
	}
	if v.Grad == nil && v.Name == "" {
		v.Grad = g.AllocUninit(v.Value.Shape...)
		v.gradPooled = true
		return v.Grad, true
	}
	return g.GradOf(v), false
}

// Backward computes the gradient of the sum of loss's elements (for a scalar
// loss, the loss itself) with respect to every recorded variable.
func (g *Graph) Backward(loss *Var) {
	if !loss.requiresGrad {
		return
	}
	seed := g.GradOf(loss)
	for i := range seed.Data {
		seed.Data[i] = 1
	}
	for i := len(g.tape) - 1; i >= 0; i-- {
		if e := g.tape[i]; e.out.Grad != nil {
			e.node.Backward(g)
		}
	}
}

// Release returns v's buffers to the pool early (inference mode only; in
// training mode the tape may still need them, and Release does nothing).
// v must not be used afterwards.
func (g *Graph) Release(vars ...*Var) {
	if g.record {
		return
	}
	for _, v := range vars {
		if v == nil || !v.pooled || v.Value == nil {
			continue
		}
		g.putBack(v.Value.Data)
		v.Value = nil
		v.pooled = false
	}
}

func (g *Graph) putBack(buf []float32) {
	if len(buf) == 0 {
		return // stays live until Reset, costing nothing
	}
	for i := len(g.live) - 1; i >= 0; i-- {
		if len(g.live[i]) == len(buf) && &g.live[i][0] == &buf[0] {
			g.live[i] = g.live[len(g.live)-1]
			g.live = g.live[:len(g.live)-1]
			g.pool[len(buf)] = append(g.pool[len(buf)], buf)
			return
		}
	}
}

// Reset clears the tape and returns every buffer, Var, tensor and node
// handed out since the last Reset to the graph for reuse. Values and
// gradients of intermediates become invalid; parameter gradients are kept.
func (g *Graph) Reset() {
	for _, buf := range g.live {
		g.pool[len(buf)] = append(g.pool[len(buf)], buf)
	}
	clear(g.live)
	g.live = g.live[:0]
	clear(g.tape)
	g.tape = g.tape[:0]
	g.vars.reset()
	g.tensors.reset()
	g.ints.reset()
	for _, a := range g.arenas {
		a.reset()
	}
}

// PooledBytes returns the bytes held by the pool and by live buffers, for
// memory accounting in benchmarks.
func (g *Graph) PooledBytes() (free, live int64) {
	for _, bufs := range g.pool {
		for _, b := range bufs {
			free += int64(4 * len(b))
		}
	}
	for _, b := range g.live {
		live += int64(4 * len(b))
	}
	return
}

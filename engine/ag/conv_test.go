package ag_test

import (
	"fmt"
	"math"
	"runtime"
	"testing"
	"weak"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/ag/agtest"
	"github.com/degradiff/degradiff/engine/tensor"
)

type convCase struct {
	n, cin, h, w, cout, k, stride, pad int
	bias                               bool
}

var convCases = []convCase{
	{1, 2, 5, 7, 3, 3, 1, 1, true},
	{2, 3, 5, 7, 2, 3, 2, 1, false},
	{1, 2, 6, 5, 3, 1, 1, 0, true},
	{1, 3, 7, 5, 2, 3, 2, 0, true},
	{2, 1, 4, 4, 2, 1, 2, 0, false},
	{1, 2, 5, 7, 2, 3, 1, 0, false},
	{1, 2, 3, 3, 2, 3, 2, 1, true},
}

func (c convCase) String() string {
	return fmt.Sprintf("N%d_Cin%d_%dx%d_Cout%d_K%d_s%d_p%d_bias%v", c.n, c.cin, c.h, c.w, c.cout, c.k, c.stride, c.pad, c.bias)
}

func (c convCase) inputs() []*tensor.Tensor {
	in := []*tensor.Tensor{agtest.Random(1, c.n, c.cin, c.h, c.w), agtest.Random(2, c.cout, c.cin, c.k, c.k)}
	if c.bias {
		in = append(in, agtest.Random(3, c.cout))
	}
	return in
}

func (c convCase) f(g *ag.Graph, in []*ag.Var) *ag.Var {
	var b *ag.Var
	if len(in) > 2 {
		b = in[2]
	}
	return g.Conv2d(in[0], in[1], b, c.stride, c.pad)
}

// convNaive is PyTorch's conv2d definition, in float64.
func convNaive(c convCase, x, w, b *tensor.Tensor) (*tensor.Tensor, []int) {
	ho := (c.h+2*c.pad-c.k)/c.stride + 1
	wo := (c.w+2*c.pad-c.k)/c.stride + 1
	y := tensor.New(c.n, c.cout, ho, wo)
	for n := 0; n < c.n; n++ {
		for co := 0; co < c.cout; co++ {
			for oy := 0; oy < ho; oy++ {
				for ox := 0; ox < wo; ox++ {
					s := 0.0
					if b != nil {
						s = float64(b.Data[co])
					}
					for ci := 0; ci < c.cin; ci++ {
						for ky := 0; ky < c.k; ky++ {
							for kx := 0; kx < c.k; kx++ {
								iy, ix := oy*c.stride+ky-c.pad, ox*c.stride+kx-c.pad
								if iy < 0 || iy >= c.h || ix < 0 || ix >= c.w {
									continue
								}
								s += float64(x.Data[((n*c.cin+ci)*c.h+iy)*c.w+ix]) * float64(w.Data[((co*c.cin+ci)*c.k+ky)*c.k+kx])
							}
						}
					}
					y.Data[((n*c.cout+co)*ho+oy)*wo+ox] = float32(s)
				}
			}
		}
	}
	return y, []int{c.n, c.cout, ho, wo}
}

func TestConv2dForward(t *testing.T) {
	for _, c := range convCases {
		t.Run(c.String(), func(t *testing.T) {
			in := c.inputs()
			var b *tensor.Tensor
			var bv *ag.Var
			if c.bias {
				b = in[2]
				bv = ag.Const(b)
			}
			g := ag.NewGraph(false)
			got := g.Conv2d(ag.Const(in[0]), ag.Const(in[1]), bv, c.stride, c.pad).Value
			want, shape := convNaive(c, in[0], in[1], b)
			if !tensor.SameShape(got.Shape, shape) {
				t.Fatalf("shape %v, want %v", got.Shape, shape)
			}
			if d := tensor.MaxAbsDiff(got, want); d > 1e-5 {
				t.Errorf("max |conv - naive| = %.3g, want <= 1e-5", d)
			}
		})
	}
}

func TestConv2dGrad(t *testing.T) {
	for _, c := range convCases {
		t.Run(c.String(), func(t *testing.T) {
			agtest.GradCheck(t, c.f, c.inputs(), agtest.Options{Tol: 2e-3})
		})
	}
	// A frozen weight with a trainable bias takes the bias-only path.
	c := convCases[0]
	t.Run("frozen_weight", func(t *testing.T) {
		agtest.GradCheck(t, c.f, c.inputs(), agtest.Options{Tol: 2e-3, Const: []int{1}})
	})
}

func TestConv2dShapeErrors(t *testing.T) {
	x := ag.Const(tensor.New(1, 2, 5, 5))
	for _, tc := range []struct {
		name        string
		w, b        *ag.Var
		stride, pad int
	}{
		{"cin", ag.Const(tensor.New(3, 1, 3, 3)), nil, 1, 0},
		{"non-square", ag.Const(tensor.New(3, 2, 3, 1)), nil, 1, 0},
		{"bias", ag.Const(tensor.New(3, 2, 3, 3)), ag.Const(tensor.New(2)), 1, 0},
		{"too-large", ag.Const(tensor.New(3, 2, 7, 7)), nil, 1, 0},
		{"stride0", ag.Const(tensor.New(3, 2, 3, 3)), nil, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectShapeError(t, "Conv2d", func() { ag.NewGraph(false).Conv2d(x, tc.w, tc.b, tc.stride, tc.pad) })
		})
	}
}

func TestConv2dDeterministic(t *testing.T) {
	c := convCase{2, 4, 9, 11, 5, 3, 1, 1, true}
	bitIdenticalAtProcs(t, c.f, c.inputs())
}

// expectShapeError runs f and fails unless it panics with a
// *tensor.ShapeError for op.
func expectShapeError(t *testing.T, op string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		e, ok := r.(*tensor.ShapeError)
		if !ok {
			t.Fatalf("got panic %v (%T), want *tensor.ShapeError", r, r)
		}
		if e.Op != op {
			t.Errorf("ShapeError.Op = %q, want %q (%v)", e.Op, op, e)
		}
	}()
	f()
}

// bitIdenticalAtProcs checks that f's output and the gradients of a random
// weighting of it are bit for bit the same at GOMAXPROCS 1, 2 and 3.
func bitIdenticalAtProcs(t *testing.T, f agtest.Func, inputs []*tensor.Tensor) {
	t.Helper()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var ref [][]float32
	for _, procs := range []int{1, 2, 3} {
		runtime.GOMAXPROCS(procs)
		g := ag.NewGraph(true)
		vars := make([]*ag.Var, len(inputs))
		for i, in := range inputs {
			vars[i] = ag.Param(fmt.Sprint("in", i), in.Clone())
		}
		out := f(g, vars)
		g.Backward(weightedLoss(g, out, agtest.Random(77, out.Value.Shape...)))
		got := [][]float32{out.Value.Data}
		for _, v := range vars {
			got = append(got, v.Grad.Data)
		}
		if ref == nil {
			ref = got
			continue
		}
		for i := range got {
			for j := range got[i] {
				if math.Float32bits(got[i][j]) != math.Float32bits(ref[i][j]) {
					t.Fatalf("GOMAXPROCS %d: tensor %d (0 = output, then gradients) element %d = %v, at GOMAXPROCS 1 %v", procs, i, j, got[i][j], ref[i][j])
				}
			}
		}
	}
}

// weightedLoss returns sum(R*x) as a scalar node, so that Backward seeds x
// with R rather than ones.
func weightedLoss(g *ag.Graph, x *ag.Var, R *tensor.Tensor) *ag.Var {
	out := g.Alloc(1)
	s := 0.0
	for i, v := range x.Value.Data {
		s += float64(R.Data[i]) * float64(v)
	}
	out.Data[0] = float32(s)
	y := g.Result(out, x)
	g.Record(y, func() {
		if gx := g.GradOf(x); gx != nil {
			for i := range gx.Data {
				gx.Data[i] += y.Grad.Data[0] * R.Data[i]
			}
		}
	})
	return y
}

// TestInferenceKeepsNoInputs checks that in inference mode no operation
// keeps its inputs reachable once it returns (so Release can hand memory
// back), and that every scratch buffer is back in the pool.
func TestInferenceKeepsNoInputs(t *testing.T) {
	ops := []struct {
		name   string
		shapes [][]int
		f      agtest.Func
	}{
		{"Conv2d", [][]int{{1, 2, 5, 5}, {3, 2, 3, 3}, {3}}, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Conv2d(in[0], in[1], in[2], 1, 1) }},
		{"Linear", [][]int{{4, 5}, {3, 5}, {3}}, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Linear(in[0], in[1], in[2]) }},
		{"MatMul", [][]int{{4, 5}, {5, 3}}, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.MatMul(in[0], in[1], false, false) }},
		{"BatchMatMul", [][]int{{2, 4, 5}, {2, 5, 3}}, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.BatchMatMul(in[0], in[1], false, false) }},
		{"Attention", [][]int{{2, 6, 8}, {2, 6, 8}, {2, 6, 8}}, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Attention(in[0], in[1], in[2], 2) }},
		{"UpsampleNearest2x", [][]int{{1, 2, 3, 3}}, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.UpsampleNearest2x(in[0]) }},
		{"AvgPool2d", [][]int{{1, 2, 4, 4}}, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.AvgPool2d(in[0], 2) }},
		{"PixelShuffle", [][]int{{1, 8, 3, 3}}, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.PixelShuffle(in[0], 2) }},
		{"PixelUnshuffle", [][]int{{1, 2, 4, 4}}, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.PixelUnshuffle(in[0], 2) }},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			g := ag.NewGraph(false)
			var refs []weak.Pointer[ag.Var]
			out := func() *ag.Var {
				vars := make([]*ag.Var, len(op.shapes))
				for i, s := range op.shapes {
					vars[i] = ag.Param(fmt.Sprint("in", i), agtest.Random(uint64(i), s...))
					refs = append(refs, weak.Make(vars[i]))
				}
				return op.f(g, vars)
			}()
			runtime.GC()
			for i, r := range refs {
				if r.Value() != nil {
					t.Errorf("input %d still reachable after the call", i)
				}
			}
			if out.RequiresGrad() {
				t.Errorf("output requires a gradient in inference mode")
			}
			g.Release(out)
			if _, live := g.PooledBytes(); live != 0 {
				t.Errorf("%d bytes live after Release of the only output, want 0", live)
			}
			runtime.KeepAlive(g)
		})
	}
}

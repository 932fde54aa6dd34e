package ag_test

import (
	"fmt"
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/ag/agtest"
	"github.com/degradiff/degradiff/engine/tensor"
)

func TestReshape(t *testing.T) {
	x := agtest.Random(1, 2, 3, 4)
	g := ag.NewGraph(false)
	y := g.Reshape(ag.Const(x), 6, -1)
	if !tensor.SameShape(y.Shape(), []int{6, 4}) || &y.Value.Data[0] != &x.Data[0] {
		t.Fatalf("Reshape(6, -1) of [2 3 4]: shape %v, shares data %v", y.Shape(), &y.Value.Data[0] == &x.Data[0])
	}
	agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var {
		// Mul after the reshape makes the gradient depend on the layout.
		r := g.Reshape(in[0], 4, -1, 2)
		return g.Mul(r, in[1])
	}, []*tensor.Tensor{x, agtest.Random(2, 4, 1, 2)}, agtest.Options{Tol: 1e-3})
	for _, bad := range [][]int{{5, -1}, {-1, -1}, {7, 4}, {-2, 12}} {
		refShapePanic(t, "Reshape", func() { g.Reshape(ag.Const(x), bad...) })
	}
}

// refPermute permutes x naively.
func refPermute(x *tensor.Tensor, perm []int) []float64 {
	out := make([]int, len(perm))
	for i, p := range perm {
		out[i] = x.Shape[p]
	}
	want := make([]float64, len(x.Data))
	for i := range want {
		c := refUnravel(i, out)
		src := make([]int, len(c))
		for d, p := range perm {
			src[p] = c[d]
		}
		k := 0
		for d, n := range x.Shape {
			k = k*n + src[d]
		}
		want[i] = float64(x.Data[k])
	}
	return want
}

// refPermutations returns all permutations of 0..n-1.
func refPermutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range refPermutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

func TestPermute(t *testing.T) {
	cases := []struct {
		shape, perm []int
	}{
		{[]int{2, 3, 4}, []int{0, 2, 1}},             // [N,C,L] -> [N,L,C]
		{[]int{2, 70, 45}, []int{0, 2, 1}},           // partial tiles
		{[]int{2, 3, 4, 5}, []int{0, 2, 3, 1}},       // NCHW -> NHWC, collapses to a transpose
		{[]int{2, 4, 5, 3}, []int{0, 3, 1, 2}},       // NHWC -> NCHW
		{[]int{5, 7}, []int{1, 0}},                   // plain transpose
		{[]int{2, 3, 4}, []int{1, 0, 2}},             // general
		{[]int{2, 3, 4, 5}, []int{3, 1, 0, 2}},       // general
		{[]int{2, 3, 4, 5, 3}, []int{4, 2, 0, 3, 1}}, // rank 5
		{[]int{3, 1, 4}, []int{2, 1, 0}},             // size-1 dim
		{[]int{3, 1, 4}, []int{1, 0, 2}},             // only moves a size-1 dim: a copy
		{[]int{2, 1, 3, 4}, []int{3, 0, 1, 2}},       // a run across a size-1 dim
		{[]int{2, 3, 1, 4, 5}, []int{0, 3, 4, 2, 1}}, // runs on both sides of one
		{[]int{2, 3, 4}, []int{0, 1, 2}},             // identity
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.shape, c.perm), func(t *testing.T) {
			x := agtest.Random(1, c.shape...)
			g := ag.NewGraph(false)
			y := g.Permute(ag.Const(x), c.perm...)
			refClose(t, "value", y.Value.Data, refPermute(x, c.perm), 0, 0)
			agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Permute(in[0], c.perm...) },
				[]*tensor.Tensor{x}, agtest.Options{Tol: 1e-4})
		})
	}
	// Every permutation of rank 4, with and without size-1 dims.
	for _, shape := range [][]int{{2, 3, 4, 5}, {2, 1, 3, 4}, {1, 3, 1, 2}} {
		x := agtest.Random(2, shape...)
		for _, perm := range refPermutations(4) {
			g := ag.NewGraph(true)
			xv := ag.Param("x", x)
			y := g.Permute(xv, perm...)
			refClose(t, fmt.Sprint("Permute", shape, perm), y.Value.Data, refPermute(x, perm), 0, 0)
			// The gradient of Σ R·y is R permuted back.
			r := agtest.Random(3, y.Shape()...)
			g.Backward(g.Sum(g.Mul(y, ag.Const(r))))
			inv := make([]int, len(perm))
			for i, p := range perm {
				inv[p] = i
			}
			refClose(t, fmt.Sprint("Permute grad", shape, perm), xv.Grad.Data, refPermute(r, inv), 0, 0)
		}
	}
	g := ag.NewGraph(false)
	x := ag.Const(tensor.New(2, 3, 4))
	for _, bad := range [][]int{{0, 1}, {0, 1, 1}, {0, 1, 3}, {2, 1, 0, 3}} {
		refShapePanic(t, "Permute", func() { g.Permute(x, bad...) })
	}
}

func TestConcatSplit(t *testing.T) {
	cases := []struct {
		axis   int
		shapes [][]int
	}{
		{1, [][]int{{2, 3, 4, 5}, {2, 1, 4, 5}, {2, 4, 4, 5}}}, // UNet skip connections
		{0, [][]int{{1, 3}, {2, 3}}},
		{-1, [][]int{{2, 3, 2}, {2, 3, 5}}},
		{2, [][]int{{3, 2, 1}, {3, 2, 4}, {3, 2, 2}}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.axis, c.shapes), func(t *testing.T) {
			xs := make([]*tensor.Tensor, len(c.shapes))
			vs := make([]*ag.Var, len(c.shapes))
			sizes := make([]int, len(c.shapes))
			r := len(c.shapes[0])
			axis := (c.axis + r) % r
			for i, s := range c.shapes {
				xs[i] = agtest.Random(uint64(i+1), s...)
				vs[i] = ag.Const(xs[i])
				sizes[i] = s[axis]
			}
			g := ag.NewGraph(false)
			y := g.Concat(c.axis, vs...)
			// Naive: walk the output and pick the input by the axis coordinate.
			want := make([]float64, y.Value.Numel())
			for i := range want {
				co := refUnravel(i, y.Shape())
				k := 0
				for co[axis] >= sizes[k] {
					co[axis] -= sizes[k]
					k++
				}
				idx := 0
				for d, n := range xs[k].Shape {
					idx = idx*n + co[d]
				}
				want[i] = float64(xs[k].Data[idx])
			}
			refClose(t, "concat", y.Value.Data, want, 0, 0)
			parts := g.Split(y, c.axis, sizes...)
			for i, p := range parts {
				if !tensor.SameShape(p.Shape(), xs[i].Shape) || tensor.MaxAbsDiff(p.Value, xs[i]) != 0 {
					t.Fatalf("Split piece %d: %v, want %v", i, p.Value, xs[i])
				}
			}
			agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Concat(c.axis, in...) },
				xs, agtest.Options{Tol: 1e-4})
			// Split, drop the middle piece and rejoin in another order.
			agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var {
				p := g.Split(in[0], c.axis, sizes...)
				return g.Concat(c.axis, p[len(p)-1], p[0], p[len(p)-1])
			}, []*tensor.Tensor{y.Value}, agtest.Options{Tol: 1e-4})
		})
	}
	g := ag.NewGraph(false)
	a, b := ag.Const(tensor.New(2, 3)), ag.Const(tensor.New(3, 3))
	refShapePanic(t, "Concat", func() { g.Concat(1, a, b) })
	refShapePanic(t, "Concat", func() { g.Concat(2, a, a) })
	refShapePanic(t, "Concat", func() { g.Concat(0, a, ag.Const(tensor.New(2, 3, 1))) })
	refShapePanic(t, "Split", func() { g.Split(a, 1, 1, 1) })
	refShapePanic(t, "Split", func() { g.Split(a, 2, 3) })
}

// refReflect mirrors i into [0, n) as numpy's "reflect" mode.
func refReflect(i, n int) int {
	for i < 0 || i >= n {
		if i < 0 {
			i = -i
		}
		if i >= n {
			i = 2*(n-1) - i
		}
	}
	return i
}

func TestPad2dReflectCrop2d(t *testing.T) {
	cases := []struct {
		shape                    []int
		top, bottom, left, right int
	}{
		{[]int{2, 3, 5, 6}, 2, 1, 3, 4},
		{[]int{1, 2, 4, 4}, 3, 3, 3, 3}, // maximal pads: rows are used three times
		{[]int{3, 7, 5}, 0, 2, 1, 0},
		{[]int{4, 3}, 1, 1, 2, 2},
		{[]int{2, 2, 3, 3}, 0, 0, 0, 0},
		{[]int{1, 1, 1, 9}, 0, 0, 8, 5},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			x := agtest.Random(1, c.shape...)
			r := len(c.shape)
			h, w := c.shape[r-2], c.shape[r-1]
			ho, wo := h+c.top+c.bottom, w+c.left+c.right
			g := ag.NewGraph(false)
			y := g.Pad2dReflect(ag.Const(x), c.top, c.bottom, c.left, c.right)
			want := make([]float64, y.Value.Numel())
			for i := range want {
				p, rem := i/(ho*wo), i%(ho*wo)
				si, sj := refReflect(rem/wo-c.top, h), refReflect(rem%wo-c.left, w)
				want[i] = float64(x.Data[(p*h+si)*w+sj])
			}
			refClose(t, "pad", y.Value.Data, want, 0, 0)
			back := g.Crop2d(y, c.top, c.left, h, w)
			if tensor.MaxAbsDiff(back.Value, x) != 0 {
				t.Fatalf("Crop2d(Pad2dReflect(x)) != x")
			}
			agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var {
				return g.Pad2dReflect(in[0], c.top, c.bottom, c.left, c.right)
			}, []*tensor.Tensor{x}, agtest.Options{Tol: 1e-4, MaxProbe: 200})
			agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var {
				return g.Crop2d(in[0], c.top/2, c.left/2, ho-c.top-c.bottom/2, wo-c.left-c.right/2)
			}, []*tensor.Tensor{y.Value}, agtest.Options{Tol: 1e-4, MaxProbe: 200})
		})
	}
	g := ag.NewGraph(false)
	x := ag.Const(tensor.New(1, 2, 4, 5))
	refShapePanic(t, "Pad2dReflect", func() { g.Pad2dReflect(x, 4, 0, 0, 0) })
	refShapePanic(t, "Pad2dReflect", func() { g.Pad2dReflect(x, 0, 0, 0, 5) })
	refShapePanic(t, "Pad2dReflect", func() { g.Pad2dReflect(x, -1, 0, 0, 0) })
	refShapePanic(t, "Pad2dReflect", func() { g.Pad2dReflect(ag.Const(tensor.New(3)), 0, 0, 0, 0) })
	refShapePanic(t, "Crop2d", func() { g.Crop2d(x, 1, 0, 4, 5) })
	refShapePanic(t, "Crop2d", func() { g.Crop2d(x, 0, 2, 2, 4) })
}

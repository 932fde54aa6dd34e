package ag_test

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/ag/agtest"
	"github.com/degradiff/degradiff/engine/tensor"
)

// refUnravel returns the coordinates of flat index i in shape.
func refUnravel(i int, shape []int) []int {
	c := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		c[d] = i % shape[d]
		i /= shape[d]
	}
	return c
}

// refBroadcastAt returns the flat index into a tensor of shape in that the
// output coordinates c read under NumPy broadcasting.
func refBroadcastAt(c, in []int) int {
	off := len(c) - len(in)
	k := 0
	for d, n := range in {
		x := c[d+off]
		if n == 1 {
			x = 0
		}
		k = k*n + x
	}
	return k
}

// refClose fails the test if got and want differ by more than
// atol + rtol*|want| anywhere, and returns the largest difference.
func refClose(t *testing.T, name string, got []float32, want []float64, atol, rtol float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	worst := 0.0
	for i, w := range want {
		d := math.Abs(float64(got[i]) - w)
		if math.IsNaN(d) || d > atol+rtol*math.Abs(w) {
			t.Fatalf("%s: element %d = %.9g, want %.9g (diff %.3g)", name, i, got[i], w, d)
		}
		worst = max(worst, d)
	}
	return worst
}

// refShapePanic checks that f panics with a *tensor.ShapeError naming op.
func refShapePanic(t *testing.T, op string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		err, ok := r.(error)
		var se *tensor.ShapeError
		if !ok || !errors.As(err, &se) || se.Op != op {
			t.Errorf("%s: recovered %v, want a *tensor.ShapeError for %s", op, r, op)
		}
	}()
	f()
}

// refRandom returns agtest.Random values scaled by s and shifted by o.
func refRandom(seed uint64, s, o float32, shape ...int) *tensor.Tensor {
	x := agtest.Random(seed, shape...)
	for i := range x.Data {
		x.Data[i] = x.Data[i]*s + o
	}
	return x
}

var broadcastCases = []struct {
	name string
	a, b []int
}{
	{"same", []int{2, 3, 4, 5}, []int{2, 3, 4, 5}},
	{"per-sample-channel", []int{2, 3, 4, 5}, []int{2, 3, 1, 1}},
	{"per-channel", []int{2, 3, 4, 5}, []int{1, 3, 1, 1}},
	{"channel-rank3", []int{2, 3, 4, 5}, []int{3, 1, 1}},
	{"last-dim", []int{2, 3, 4, 5}, []int{5}},
	{"linear-bias", []int{2, 7, 6}, []int{6}},
	{"scalar", []int{2, 3, 5}, []int{1}},
	{"scalar-rank4", []int{2, 3, 4, 5}, []int{1, 1, 1, 1}},
	{"a-broadcast", []int{1, 3, 1, 1}, []int{2, 3, 4, 5}},
	{"both", []int{2, 1, 4}, []int{1, 3, 1}},
	{"outer", []int{3, 1}, []int{1, 4}},
	{"odd", []int{3, 5, 7}, []int{5, 1}},
	{"rank7", []int{2, 1, 3, 1, 2, 1, 3}, []int{1, 2, 1, 3, 1, 2, 1}},
	{"ones", []int{1, 1}, []int{1}},
}

func TestBinaryForward(t *testing.T) {
	ops := []struct {
		name string
		f    func(g *ag.Graph, a, b *ag.Var) *ag.Var
		ref  func(a, b float64) float64
	}{
		{"Add", (*ag.Graph).Add, func(a, b float64) float64 { return a + b }},
		{"Sub", (*ag.Graph).Sub, func(a, b float64) float64 { return a - b }},
		{"Mul", (*ag.Graph).Mul, func(a, b float64) float64 { return a * b }},
	}
	cases := append(broadcastCases[:len(broadcastCases):len(broadcastCases)],
		struct {
			name string
			a, b []int
		}{"large-bias", []int{3, 64, 33, 31}, []int{1, 64, 1, 1}})
	for _, op := range ops {
		for _, c := range cases {
			t.Run(op.name+"/"+c.name, func(t *testing.T) {
				a, b := agtest.Random(1, c.a...), agtest.Random(2, c.b...)
				g := ag.NewGraph(false)
				y := op.f(g, ag.Const(a), ag.Const(b))
				want := make([]float64, y.Value.Numel())
				for i := range want {
					co := refUnravel(i, y.Value.Shape)
					want[i] = float64(float32(op.ref(float64(a.Data[refBroadcastAt(co, a.Shape)]), float64(b.Data[refBroadcastAt(co, b.Shape)]))))
				}
				refClose(t, "value", y.Value.Data, want, 0, 0)
			})
		}
	}
}

func TestBinaryGrad(t *testing.T) {
	ops := map[string]agtest.Func{
		"Add": func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Add(in[0], in[1]) },
		"Sub": func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Sub(in[0], in[1]) },
		"Mul": func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Mul(in[0], in[1]) },
	}
	for name, f := range ops {
		for _, c := range broadcastCases {
			t.Run(name+"/"+c.name, func(t *testing.T) {
				agtest.GradCheck(t, f, []*tensor.Tensor{agtest.Random(1, c.a...), agtest.Random(2, c.b...)}, agtest.Options{Tol: 1e-3})
			})
		}
	}
	t.Run("Mul/same-var", func(t *testing.T) {
		agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Mul(in[0], in[0]) },
			[]*tensor.Tensor{agtest.Random(3, 4, 5)}, agtest.Options{Tol: 1e-3})
	})
}

// TestBroadcastGradLarge checks the reduction of broadcast gradients where
// it splits the work into chunks, against float64 sums.
func TestBroadcastGradLarge(t *testing.T) {
	cases := []struct {
		name string
		a, b []int
	}{
		{"scalar", []int{5, 211, 199}, []int{1}},
		{"per-channel", []int{4, 64, 37, 41}, []int{1, 64, 1, 1}},
		{"few-channels", []int{2, 3, 150, 170}, []int{3, 1, 1}},
		{"linear-bias", []int{4001, 64}, []int{64}},
		{"wide-bias", []int{900, 130}, []int{130}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := ag.Param("a", agtest.Random(1, c.a...))
			b := ag.Param("b", agtest.Random(2, c.b...))
			g := ag.NewGraph(true)
			y := g.Mul(a, b)
			g.Backward(y) // dy = 1, so db = Σ a over the broadcast dims
			want := make([]float64, b.Value.Numel())
			for i := range a.Value.Data {
				want[refBroadcastAt(refUnravel(i, a.Value.Shape), b.Value.Shape)] += float64(a.Value.Data[i])
			}
			refClose(t, "db", b.Grad.Data, want, 1e-6, 1e-6)
			// da = b broadcast.
			wa := make([]float64, a.Value.Numel())
			for i := range wa {
				wa[i] = float64(b.Value.Data[refBroadcastAt(refUnravel(i, a.Value.Shape), b.Value.Shape)])
			}
			refClose(t, "da", a.Grad.Data, wa, 0, 0)
		})
	}
}

func TestBinaryShapeErrors(t *testing.T) {
	g := ag.NewGraph(false)
	refShapePanic(t, "Add", func() { g.Add(ag.Const(tensor.New(2, 3)), ag.Const(tensor.New(4))) })
	refShapePanic(t, "Sub", func() { g.Sub(ag.Const(tensor.New(2, 3, 4)), ag.Const(tensor.New(3, 1, 2))) })
	refShapePanic(t, "Mul", func() { g.Mul(ag.Const(tensor.New(5)), ag.Const(tensor.New(2, 4))) })
}

func TestUnaryElementwise(t *testing.T) {
	pos := refRandom(4, 1, 1.5, 3, 5, 7) // in [0.5, 2.5)
	cases := []struct {
		name string
		f    func(g *ag.Graph, x *ag.Var) *ag.Var
		ref  func(x float64) float64
		x    *tensor.Tensor
	}{
		{"AddScalar", func(g *ag.Graph, x *ag.Var) *ag.Var { return g.AddScalar(x, 0.75) },
			func(x float64) float64 { return float64(float32(x) + 0.75) }, agtest.Random(5, 3, 5, 7)},
		{"Square", (*ag.Graph).Square, func(x float64) float64 { return x * x }, agtest.Random(6, 2, 33)},
		{"Sqrt", (*ag.Graph).Sqrt, math.Sqrt, pos},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := ag.NewGraph(false)
			y := c.f(g, ag.Const(c.x))
			want := make([]float64, len(c.x.Data))
			for i, v := range c.x.Data {
				want[i] = c.ref(float64(v))
			}
			refClose(t, "value", y.Value.Data, want, 0, 1e-7)
			agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var { return c.f(g, in[0]) },
				[]*tensor.Tensor{c.x}, agtest.Options{Step: 1e-3, Tol: 1e-3})
		})
	}
}

// Adding a per-channel bias broadcasts it over the batch and the pixels; its
// gradient sums over them.
func ExampleGraph_Add() {
	g := ag.NewGraph(true)
	x := ag.Const(tensor.Full(1, 2, 3, 4, 4))                                    // [N, C, H, W]
	bias := ag.Param("bias", tensor.FromData([]float32{0.5, -1, 2}, 1, 3, 1, 1)) // [1, C, 1, 1]
	y := g.Add(x, bias)
	g.Backward(g.Sum(y))
	fmt.Println(y.Shape(), y.Value.Data[0], y.Value.Data[16], y.Value.Data[32])
	fmt.Println(bias.Grad.Data)
	// Output:
	// [2 3 4 4] 1.5 0 3
	// [32 32 32]
}

// TestBroadcastAllPatterns runs Mul on every combination of broadcast dims
// of a and b over a [2,3,4] output (64 pairs), checking values and both
// gradients against float64 sums.
func TestBroadcastAllPatterns(t *testing.T) {
	out := []int{2, 3, 4}
	shapeOf := func(mask int) []int {
		s := make([]int, len(out))
		for d := range out {
			s[d] = out[d]
			if mask&(1<<d) != 0 {
				s[d] = 1
			}
		}
		return s
	}
	for ma := 0; ma < 8; ma++ {
		for mb := 0; mb < 8; mb++ {
			as, bs := shapeOf(ma), shapeOf(mb)
			a, b := ag.Param("a", agtest.Random(1, as...)), ag.Param("b", agtest.Random(2, bs...))
			g := ag.NewGraph(true)
			y := g.Mul(a, b)
			r := agtest.Random(3, y.Shape()...)
			g.Backward(g.Sum(g.Mul(y, ag.Const(r))))
			n := y.Value.Numel()
			want := make([]float64, n)
			da := make([]float64, a.Value.Numel())
			db := make([]float64, b.Value.Numel())
			for i := range want {
				c := refUnravel(i, y.Shape())
				ia, ib := refBroadcastAt(c, as), refBroadcastAt(c, bs)
				av, bv := float64(a.Value.Data[ia]), float64(b.Value.Data[ib])
				want[i] = float64(float32(av * bv))
				da[ia] += float64(r.Data[i]) * bv
				db[ib] += float64(r.Data[i]) * av
			}
			name := fmt.Sprint(as, "*", bs)
			refClose(t, name+" value", y.Value.Data, want, 0, 0)
			refClose(t, name+" da", a.Grad.Data, da, 1e-6, 1e-6)
			refClose(t, name+" db", b.Grad.Data, db, 1e-6, 1e-6)
		}
	}
}

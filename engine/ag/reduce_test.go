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

// refSumAxes sums x over the flagged axes in float64; the result is laid
// out over the kept axes in order.
func refSumAxes(x *tensor.Tensor, red []bool) []float64 {
	var kept []int
	for d, n := range x.Shape {
		if !red[d] {
			kept = append(kept, n)
		}
	}
	out := make([]float64, tensor.Numel(kept))
	for i, v := range x.Data {
		c := refUnravel(i, x.Shape)
		k := 0
		for d, n := range x.Shape {
			if !red[d] {
				k = k*n + c[d]
			}
		}
		out[k] += float64(v)
	}
	return out
}

func TestSumMean(t *testing.T) {
	for _, shape := range [][]int{{1}, {7}, {3, 4, 5}, {1000, 1001}} {
		t.Run(fmt.Sprint(shape), func(t *testing.T) {
			x := refRandom(1, 1, 0.25, shape...)
			g := ag.NewGraph(false)
			s, m := g.Sum(ag.Const(x)), g.Mean(ag.Const(x))
			if !tensor.SameShape(s.Shape(), []int{1}) || !tensor.SameShape(m.Shape(), []int{1}) {
				t.Fatalf("shapes %v %v, want [1]", s.Shape(), m.Shape())
			}
			want := 0.0
			for _, v := range x.Data {
				want += float64(v)
			}
			refClose(t, "Sum", s.Value.Data, []float64{want}, 0, 1e-7)
			refClose(t, "Mean", m.Value.Data, []float64{want / float64(len(x.Data))}, 0, 1e-7)
			if len(x.Data) > 100 {
				return
			}
			agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Sum(in[0]) },
				[]*tensor.Tensor{x}, agtest.Options{Tol: 1e-4})
			agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Mean(in[0]) },
				[]*tensor.Tensor{x}, agtest.Options{Tol: 1e-4})
		})
	}
}

func TestSumAxes(t *testing.T) {
	cases := []struct {
		shape []int
		axes  []int
	}{
		{[]int{2, 3, 4, 5}, []int{1}},
		{[]int{2, 3, 4, 5}, []int{0, 2}},
		{[]int{2, 3, 4, 5}, []int{-1}},
		{[]int{2, 3, 4, 5}, []int{1, 3}},
		{[]int{2, 3, 4, 5}, []int{2, 3}}, // spatial mean
		{[]int{2, 3, 4, 5}, nil},         // all
		{[]int{2, 1, 4}, []int{0}},
		{[]int{3, 100000}, []int{1}},     // few long rows: chunked
		{[]int{50000, 7}, []int{0}},      // long columns: chunked blocks
		{[]int{2, 9000, 70}, []int{1}},   // blocks of 64 and a tail of 6
		{[]int{40, 3, 800}, []int{0, 2}}, // strided outer reduction, chunked
	}
	for _, c := range cases {
		for _, keep := range []bool{false, true} {
			t.Run(fmt.Sprint(c.shape, c.axes, keep), func(t *testing.T) {
				x := refRandom(1, 1, 0.25, c.shape...)
				red := make([]bool, len(c.shape))
				count := 1
				var wantShape []int
				for _, a := range c.axes {
					red[(a+len(red))%len(red)] = true
				}
				if c.axes == nil {
					for i := range red {
						red[i] = true
					}
				}
				for i, n := range c.shape {
					switch {
					case red[i]:
						count *= n
						if keep {
							wantShape = append(wantShape, 1)
						}
					default:
						wantShape = append(wantShape, n)
					}
				}
				if len(wantShape) == 0 {
					wantShape = []int{1}
				}
				g := ag.NewGraph(false)
				s := g.SumAxes(ag.Const(x), keep, c.axes...)
				m := g.MeanAxes(ag.Const(x), keep, c.axes...)
				if !tensor.SameShape(s.Shape(), wantShape) || !tensor.SameShape(m.Shape(), wantShape) {
					t.Fatalf("shapes %v %v, want %v", s.Shape(), m.Shape(), wantShape)
				}
				want := refSumAxes(x, red)
				refClose(t, "SumAxes", s.Value.Data, want, 1e-9, 1e-7)
				for i := range want {
					want[i] /= float64(count)
				}
				refClose(t, "MeanAxes", m.Value.Data, want, 1e-9, 1e-7)
				if len(x.Data) > 1000 {
					return
				}
				agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.SumAxes(in[0], keep, c.axes...) },
					[]*tensor.Tensor{x}, agtest.Options{Tol: 1e-4})
				agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.MeanAxes(in[0], keep, c.axes...) },
					[]*tensor.Tensor{x}, agtest.Options{Tol: 1e-4})
			})
		}
	}
	g := ag.NewGraph(false)
	x := ag.Const(tensor.New(2, 3))
	refShapePanic(t, "SumAxes", func() { g.SumAxes(x, false, 2) })
	refShapePanic(t, "SumAxes", func() { g.SumAxes(x, false, 0, -2) })
	refShapePanic(t, "MeanAxes", func() { g.MeanAxes(x, true, -3) })
}

// detBits runs f at GOMAXPROCS 1 and 2 and requires bit-identical values and
// input gradients.
func detBits(t *testing.T, f agtest.Func, inputs []*tensor.Tensor) {
	t.Helper()
	run := func(procs int) (out []float32, grads [][]float32) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		vars := make([]*ag.Var, len(inputs))
		for i, x := range inputs {
			vars[i] = ag.Param(fmt.Sprint("in", i), x.Clone())
		}
		g := ag.NewGraph(true)
		y := f(g, vars)
		r := agtest.Random(77, y.Shape()...)
		g.Backward(g.Sum(g.Mul(y, ag.Const(r))))
		for _, v := range vars {
			grads = append(grads, v.Grad.Data)
		}
		return y.Value.Clone().Data, grads
	}
	o1, g1 := run(1)
	o2, g2 := run(2)
	same := func(a, b []float32) bool {
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				return false
			}
		}
		return len(a) == len(b)
	}
	if !same(o1, o2) {
		t.Errorf("values differ between GOMAXPROCS 1 and 2")
	}
	for i := range g1 {
		if !same(g1[i], g2[i]) {
			t.Errorf("gradients of input %d differ between GOMAXPROCS 1 and 2", i)
		}
	}
}

func TestDeterminism(t *testing.T) {
	big := []int{3, 32, 48, 40}
	cases := []struct {
		name   string
		f      agtest.Func
		inputs []*tensor.Tensor
	}{
		{"GroupNormSiLU", func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.GroupNormSiLU(in[0], in[1], in[2], 8, 1e-5) },
			[]*tensor.Tensor{agtest.Random(1, big...), agtest.Random(2, 32), agtest.Random(3, 32)}},
		{"GroupNorm", func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.GroupNorm(in[0], in[1], in[2], 4, 1e-5) },
			[]*tensor.Tensor{agtest.Random(1, big...), agtest.Random(2, 32), agtest.Random(3, 32)}},
		{"Mul-scalar", func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Mul(in[0], in[1]) },
			[]*tensor.Tensor{agtest.Random(1, big...), agtest.Random(2, 1)}},
		{"Add-channel", func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Add(in[0], in[1]) },
			[]*tensor.Tensor{agtest.Random(1, big...), agtest.Random(2, 1, 32, 1, 1)}},
		{"Sub-last", func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Sub(in[0], in[1]) },
			[]*tensor.Tensor{agtest.Random(1, 6000, 40), agtest.Random(2, 40)}},
		{"Sum", func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Sum(in[0]) },
			[]*tensor.Tensor{agtest.Random(1, big...)}},
		{"MeanAxes", func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.MeanAxes(in[0], true, 0, 2, 3) },
			[]*tensor.Tensor{agtest.Random(1, big...)}},
		{"SumAxes-cols", func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.SumAxes(in[0], false, 0) },
			[]*tensor.Tensor{agtest.Random(1, 50000, 7)}},
		{"Softmax", func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Softmax(in[0], -1) },
			[]*tensor.Tensor{agtest.Random(1, 300, 500)}},
		{"Permute", func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Permute(in[0], 0, 2, 3, 1) },
			[]*tensor.Tensor{agtest.Random(1, big...)}},
		{"Pad-Crop", func(g *ag.Graph, in []*ag.Var) *ag.Var {
			return g.Crop2d(g.Pad2dReflect(in[0], 5, 3, 2, 7), 1, 2, 50, 40)
		}, []*tensor.Tensor{agtest.Random(1, big...)}},
		{"WeightedMSE", func(g *ag.Graph, in []*ag.Var) *ag.Var {
			return g.WeightedMSE(in[0], in[1], []float32{0.5, 2, 1})
		}, []*tensor.Tensor{agtest.Random(1, big...), agtest.Random(2, big...)}},
		{"Charbonnier", func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Charbonnier(in[0], in[1], 1e-3) },
			[]*tensor.Tensor{agtest.Random(1, big...), agtest.Random(2, big...)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { detBits(t, c.f, c.inputs) })
	}
}

// TestInferenceDropsInputs checks that in inference mode the operations keep
// no reference to their inputs once they return, and allocate nothing
// beyond their outputs.
func TestInferenceDropsInputs(t *testing.T) {
	x4 := []int{2, 4, 5, 6}
	ops := []struct {
		name   string
		shapes [][]int
		f      agtest.Func
	}{
		{"Add", [][]int{x4, {1, 4, 1, 1}}, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Add(in[0], in[1]) }},
		{"Mul", [][]int{x4, x4}, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Mul(in[0], in[1]) }},
		{"Sqrt", [][]int{x4}, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Sqrt(in[0]) }},
		{"Reshape", [][]int{x4}, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Reshape(in[0], 8, -1) }},
		{"Permute", [][]int{x4}, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Permute(in[0], 0, 2, 3, 1) }},
		{"Concat", [][]int{x4, x4}, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Concat(1, in[0], in[1]) }},
		{"Split", [][]int{x4}, func(g *ag.Graph, in []*ag.Var) *ag.Var {
			p := g.Split(in[0], 1, 1, 3)
			g.Release(p[1])
			return p[0]
		}},
		{"Pad2dReflect", [][]int{x4}, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Pad2dReflect(in[0], 1, 2, 3, 4) }},
		{"Crop2d", [][]int{x4}, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Crop2d(in[0], 1, 2, 3, 4) }},
		{"GroupNormSiLU", [][]int{x4, {4}, {4}}, func(g *ag.Graph, in []*ag.Var) *ag.Var {
			return g.GroupNormSiLU(in[0], in[1], in[2], 2, 1e-5)
		}},
		{"SiLU", [][]int{x4}, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.SiLU(in[0]) }},
		{"Softmax", [][]int{x4}, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Softmax(in[0], 1) }},
		{"SumAxes", [][]int{x4}, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.SumAxes(in[0], true, 2, 3) }},
		{"WeightedMSE", [][]int{x4, x4}, func(g *ag.Graph, in []*ag.Var) *ag.Var {
			return g.WeightedMSE(in[0], in[1], []float32{1, 2})
		}},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			g := ag.NewGraph(false)
			var refs []weak.Pointer[ag.Var]
			out := func() *ag.Var {
				vars := make([]*ag.Var, len(op.shapes))
				for i, s := range op.shapes {
					vars[i] = ag.Param(fmt.Sprint("in", i), refRandom(uint64(i), 1, 1.5, s...))
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
		})
	}
}

// TestTrainingStepSteadyState runs a small training step several times and
// checks that, after the first, Reset's pool serves every tensor and the Go
// heap grows by far less than one activation per step.
func TestTrainingStepSteadyState(t *testing.T) {
	x := ag.Param("x", agtest.Random(1, 2, 32, 64, 64))
	gamma, beta := ag.Param("gamma", agtest.Random(2, 32)), ag.Param("beta", agtest.Random(3, 32))
	bias := ag.Param("bias", agtest.Random(4, 1, 32, 1, 1))
	target := ag.Const(agtest.Random(5, 2, 64, 64, 64))
	g := ag.NewGraph(true)
	step := func() {
		h := g.GroupNormSiLU(x, gamma, beta, 8, 1e-5)
		h = g.Add(h, bias)
		h = g.Concat(1, h, g.Permute(g.Permute(h, 0, 2, 3, 1), 0, 3, 1, 2))
		h = g.Crop2d(g.Pad2dReflect(h, 1, 2, 3, 4), 1, 3, 64, 64)
		g.Backward(g.WeightedMSE(h, target, []float32{1, 0.5}))
		g.Reset()
	}
	step()
	free0, _ := g.PooledBytes()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	const steps = 3
	for range steps {
		step()
	}
	runtime.ReadMemStats(&m1)
	if free, _ := g.PooledBytes(); free != free0 {
		t.Errorf("pool grew from %d to %d bytes after the first step", free0, free)
	}
	perStep := (m1.TotalAlloc - m0.TotalAlloc) / steps
	t.Logf("heap allocation per step: %d bytes", perStep)
	if perStep > 256<<10 {
		t.Errorf("heap allocation per step %d bytes, want < 256 KiB (one activation is 1 MiB)", perStep)
	}
}

package ag_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/ag/agtest"
	"github.com/degradiff/degradiff/engine/tensor"
)

// actInputs returns values spread over [-100, 100] (including the range
// where exp over- or underflows in float32), tiny and subnormal values and
// exact zeros.
func actInputs() *tensor.Tensor {
	var v []float32
	for i := -2000; i <= 2000; i++ {
		v = append(v, float32(i)*0.05)
	}
	for _, x := range []float32{1e-40, -1e-40, 1e-30, -1e-30, 1e-8, -1e-8, 3e-4, -3e-4, 0, 88, -88, 89, -89, 100, -100, 1e4, -1e4} {
		v = append(v, x)
	}
	return tensor.FromData(v, len(v))
}

// actAwayFromZero returns random values with |x| >= 0.1, so that finite
// differences do not straddle the kinks of ReLU and LeakyReLU.
func actAwayFromZero(seed uint64, shape ...int) *tensor.Tensor {
	x := agtest.Random(seed, shape...)
	for i, v := range x.Data {
		x.Data[i] = float32(math.Copysign(0.1, float64(v))) + v
	}
	return x
}

var activationCases = []struct {
	name string
	f    func(g *ag.Graph, x *ag.Var) *ag.Var
	ref  func(x float64) float64
}{
	{"SiLU", (*ag.Graph).SiLU, func(x float64) float64 { return x / (1 + math.Exp(-x)) }},
	{"ReLU", (*ag.Graph).ReLU, func(x float64) float64 { return math.Max(x, 0) }},
	{"LeakyReLU", func(g *ag.Graph, x *ag.Var) *ag.Var { return g.LeakyReLU(x, 0.2) },
		func(x float64) float64 {
			if x > 0 {
				return x
			}
			return float64(float32(x) * 0.2)
		}},
	{"Sigmoid", (*ag.Graph).Sigmoid, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }},
	{"Tanh", (*ag.Graph).Tanh, math.Tanh},
}

func TestActivationForward(t *testing.T) {
	x := actInputs()
	for _, c := range activationCases {
		t.Run(c.name, func(t *testing.T) {
			g := ag.NewGraph(false)
			y := c.f(g, ag.Const(x))
			want := make([]float64, len(x.Data))
			for i, v := range x.Data {
				want[i] = c.ref(float64(v))
			}
			// Correct rounding would be within 6e-8 relative; allow a little.
			refClose(t, "value", y.Value.Data, want, 1e-37, 1.2e-7)
		})
	}
}

func TestActivationGrad(t *testing.T) {
	for _, c := range activationCases {
		for _, shape := range [][]int{{7}, {2, 3, 5, 5}} {
			t.Run(fmt.Sprint(c.name, shape), func(t *testing.T) {
				agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var { return c.f(g, in[0]) },
					[]*tensor.Tensor{refRandom(1, 4, 0, shape...)}, agtest.Options{Step: 1e-3, Tol: 1e-3})
				agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var { return c.f(g, in[0]) },
					[]*tensor.Tensor{actAwayFromZero(2, shape...)}, agtest.Options{Step: 1e-2, Tol: 1e-3})
			})
		}
	}
}

// refSoftmax computes softmax along axis in float64.
func refSoftmax(x *tensor.Tensor, axis int) []float64 {
	outer := tensor.Numel(x.Shape[:axis])
	n := x.Shape[axis]
	inner := tensor.Numel(x.Shape[axis+1:])
	out := make([]float64, len(x.Data))
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			at := func(j int) int { return (o*n+j)*inner + i }
			m := math.Inf(-1)
			for j := 0; j < n; j++ {
				m = math.Max(m, float64(x.Data[at(j)]))
			}
			s := 0.0
			for j := 0; j < n; j++ {
				s += math.Exp(float64(x.Data[at(j)]) - m)
			}
			for j := 0; j < n; j++ {
				out[at(j)] = math.Exp(float64(x.Data[at(j)])-m) / s
			}
		}
	}
	return out
}

func TestSoftmax(t *testing.T) {
	cases := []struct {
		shape []int
		axis  int
		scale float32
	}{
		{[]int{3, 4, 5}, -1, 3},
		{[]int{3, 4, 5}, 1, 3},
		{[]int{3, 4, 5}, 0, 3},
		{[]int{2, 1, 7}, 2, 1},
		{[]int{6, 300}, -1, 1000}, // would overflow without the max shift
		{[]int{9}, 0, 50},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.shape, c.axis), func(t *testing.T) {
			x := refRandom(1, c.scale, 0, c.shape...)
			g := ag.NewGraph(false)
			y := g.Softmax(ag.Const(x), c.axis)
			axis := (c.axis + len(c.shape)) % len(c.shape)
			refClose(t, "value", y.Value.Data, refSoftmax(x, axis), 1e-37, 2e-7)
			if c.scale > 10 {
				return // gradients are ~0 or 1 there; finite differences say little
			}
			agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Softmax(in[0], c.axis) },
				[]*tensor.Tensor{x}, agtest.Options{Step: 1e-3, Tol: 1e-3})
		})
	}
	refShapePanic(t, "Softmax", func() { ag.NewGraph(false).Softmax(ag.Const(tensor.New(2, 3)), 2) })
}

package ag_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/ag/agtest"
	"github.com/degradiff/degradiff/engine/tensor"
)

// refLoss returns the mean over the batch of w[n] times the mean over
// sample n of f(pred-target), in float64 (w nil meaning a plain mean).
func refLoss(p, q *tensor.Tensor, w []float32, f func(d float64) float64) float64 {
	n := 1
	if w != nil {
		n = p.Shape[0]
	}
	m := len(p.Data) / n
	total := 0.0
	for s := 0; s < n; s++ {
		sum := 0.0
		for i := s * m; i < (s+1)*m; i++ {
			sum += f(float64(p.Data[i] - q.Data[i]))
		}
		if w != nil {
			sum *= float64(w[s])
		}
		total += sum / float64(m)
	}
	return total / float64(n)
}

func TestLosses(t *testing.T) {
	weights := []float32{0.5, 2, 1.25}
	cases := []struct {
		name string
		f    func(g *ag.Graph, p, q *ag.Var) *ag.Var
		ref  func(d float64) float64
		w    []float32
	}{
		{"MSE", (*ag.Graph).MSE, func(d float64) float64 { return d * d }, nil},
		{"L1", (*ag.Graph).L1, math.Abs, nil},
		{"Charbonnier", func(g *ag.Graph, p, q *ag.Var) *ag.Var { return g.Charbonnier(p, q, 0.05) },
			func(d float64) float64 { return math.Sqrt(d*d + float64(float32(0.05))*float64(float32(0.05))) }, nil},
		{"WeightedMSE", func(g *ag.Graph, p, q *ag.Var) *ag.Var { return g.WeightedMSE(p, q, weights) },
			func(d float64) float64 { return d * d }, weights},
	}
	for _, c := range cases {
		// The large shape spans several fixed chunks per sample.
		for _, shape := range [][]int{{3, 5}, {3, 2, 3, 3}, {3, 5, 70, 71}} {
			t.Run(fmt.Sprint(c.name, shape), func(t *testing.T) {
				p, q := agtest.Random(1, shape...), agtest.Random(2, shape...)
				g := ag.NewGraph(false)
				y := c.f(g, ag.Const(p), ag.Const(q))
				if !tensor.SameShape(y.Shape(), []int{1}) {
					t.Fatalf("shape %v, want [1]", y.Shape())
				}
				refClose(t, "value", y.Value.Data, []float64{refLoss(p, q, c.w, c.ref)}, 0, 1e-7)
				if len(p.Data) > 100 {
					return
				}
				agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var { return c.f(g, in[0], in[1]) },
					[]*tensor.Tensor{p, q}, agtest.Options{Step: 1e-3, Tol: 1e-3})
			})
		}
	}
	t.Run("target-const", func(t *testing.T) {
		agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.MSE(in[0], in[1]) },
			[]*tensor.Tensor{agtest.Random(1, 4, 3), agtest.Random(2, 4, 3)}, agtest.Options{Const: []int{1}})
	})
}

// TestWeightedMSECopiesWeights checks that changing the weights slice after
// the forward pass does not change the gradient.
func TestWeightedMSECopiesWeights(t *testing.T) {
	w := []float32{1, 3}
	p := ag.Param("p", tensor.FromData([]float32{1, 2, 3, 4}, 2, 2))
	q := ag.Const(tensor.New(2, 2))
	g := ag.NewGraph(true)
	y := g.WeightedMSE(p, q, w)
	w[0], w[1] = 100, 100
	g.Backward(y)
	// loss = (1/2)·[1·(1+4)/2 + 3·(9+16)/2] = 20; dL/dp = 2·w·p/(2·2).
	want := []float64{0.5, 1, 4.5, 6}
	refClose(t, "value", y.Value.Data, []float64{20}, 0, 0)
	refClose(t, "grad", p.Grad.Data, want, 0, 0)
}

func TestLossShapeErrors(t *testing.T) {
	g := ag.NewGraph(false)
	a, b := ag.Const(tensor.New(2, 3)), ag.Const(tensor.New(3, 2))
	refShapePanic(t, "MSE", func() { g.MSE(a, b) })
	refShapePanic(t, "L1", func() { g.L1(a, b) })
	refShapePanic(t, "Charbonnier", func() { g.Charbonnier(a, b, 1e-3) })
	refShapePanic(t, "WeightedMSE", func() { g.WeightedMSE(a, a, []float32{1}) })
}

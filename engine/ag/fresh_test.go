package ag_test

import (
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/ag/agtest"
	"github.com/degradiff/degradiff/engine/tensor"
)

// TestGradientWrittenThenAdded checks the operations whose backward pass
// writes an input's first gradient instead of adding it into zeros: with
// the input used twice, the later use (whose backward runs first) writes
// and the earlier one adds. The finite differences must agree with both.
func TestGradientWrittenThenAdded(t *testing.T) {
	cases := []struct {
		name   string
		f      agtest.Func
		inputs []*tensor.Tensor
	}{
		{"Reshape", func(g *ag.Graph, in []*ag.Var) *ag.Var {
			return g.Add(g.Reshape(in[0], 6, -1), g.Reshape(g.Scale(in[0], 2), 6, -1))
		}, []*tensor.Tensor{agtest.Random(1, 2, 3, 4)}},
		{"Permute", func(g *ag.Graph, in []*ag.Var) *ag.Var {
			return g.Add(g.Permute(in[0], 2, 0, 1), g.Permute(g.Scale(in[0], -3), 2, 0, 1))
		}, []*tensor.Tensor{agtest.Random(2, 2, 3, 4)}},
		{"Linear", func(g *ag.Graph, in []*ag.Var) *ag.Var {
			return g.Add(g.Linear(in[0], in[1], in[2]), g.Linear(in[0], in[3], nil))
		}, []*tensor.Tensor{agtest.Random(3, 5, 4), agtest.Random(4, 3, 4), agtest.Random(5, 3), agtest.Random(6, 3, 4)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { agtest.GradCheck(t, c.f, c.inputs, agtest.Options{}) })
	}
}

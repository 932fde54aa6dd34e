package ag_test

import (
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/ag/agtest"
	"github.com/degradiff/degradiff/engine/tensor"
)

func TestScaleGrad(t *testing.T) {
	agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var {
		return g.Scale(g.Scale(in[0], 3), -0.5)
	}, []*tensor.Tensor{agtest.Random(1, 2, 3, 5)}, agtest.Options{})
}

func TestPoolReuse(t *testing.T) {
	g := ag.NewGraph(true)
	x := ag.Param("x", agtest.Random(1, 4, 4))
	for step := 0; step < 3; step++ {
		y := g.Scale(x, 2)
		g.Backward(y)
		if x.Grad.Data[0] != float32(2*(step+1)) {
			t.Fatalf("step %d: grad %v, want accumulation to %d", step, x.Grad.Data[0], 2*(step+1))
		}
		g.Reset()
	}
	free, live := g.PooledBytes()
	if live != 0 || free == 0 {
		t.Fatalf("after Reset: free %d live %d bytes", free, live)
	}
}

package unet

import (
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/nn"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/rng"
)

// TestUpsampleConv checks upsampleConv against UpsampleNearest2x followed
// by the 3x3 convolution: values and the gradients of x, weight and bias.
func TestUpsampleConv(t *testing.T) {
	for _, sh := range [][4]int{{2, 3, 5, 7}, {1, 8, 4, 4}} {
		n, ci, h, w := sh[0], sh[1], sh[2], sh[3]
		co := 6
		run := func(fold bool) (y *tensor.Tensor, gx, gw, gb *tensor.Tensor) {
			c := nn.NewConv2d("up", ci, co, 3, 1, 1, true, rng.New(5, "up"))
			xv := ag.Param("x", randomTensor(6, n, ci, h, w))
			wgt := randomTensor(7, n, co, 2*h, 2*w)
			g := ag.NewGraph(true)
			var out *ag.Var
			if fold {
				out = upsampleConv(g, c, xv)
			} else {
				out = c.Forward(g, g.UpsampleNearest2x(xv))
			}
			g.Backward(g.Sum(g.Mul(out, ag.Const(wgt))))
			return out.Value, xv.Grad, c.Weight.Grad, c.Bias.Grad
		}
		y0, gx0, gw0, gb0 := run(false)
		y1, gx1, gw1, gb1 := run(true)
		for _, c := range []struct {
			name string
			a, b *tensor.Tensor
		}{{"y", y0, y1}, {"dx", gx0, gx1}, {"dw", gw0, gw1}, {"db", gb0, gb1}} {
			if d := tensor.MaxAbsDiff(c.a, c.b); d > 2e-5 {
				t.Errorf("%v %s differs by %g", sh, c.name, d)
			}
		}
	}
}

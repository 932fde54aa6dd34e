package ag

import (
	"github.com/degradiff/degradiff/engine/conv"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/parallel"
)

// Conv2d returns the 2-D convolution (cross-correlation, as PyTorch's
// conv2d) of x [N, Cin, H, W] with w [Cout, Cin, K, K], plus b [Cout] if b
// is not nil, with the given stride and zero padding on every side. The
// result is [N, Cout, (H+2*pad-K)/stride+1, (W+2*pad-K)/stride+1].
func (g *Graph) Conv2d(x, w, b *Var, stride, pad int) *Var {
	xs, ws := x.Value.Shape, w.Value.Shape
	tensor.Check(len(xs) == 4 && len(ws) == 4, "Conv2d", "want x [N,Cin,H,W] and w [Cout,Cin,K,K]", xs, ws)
	tensor.Check(ws[1] == xs[1] && ws[2] == ws[3] && ws[2] >= 1, "Conv2d", "w must be [Cout, Cin, K, K] with Cin of x", xs, ws)
	tensor.Check(stride >= 1 && pad >= 0, "Conv2d", "stride must be >= 1 and pad >= 0", xs, ws, []int{stride, pad})
	s := conv.Shape{N: xs[0], Cin: xs[1], H: xs[2], W: xs[3], Cout: ws[0], K: ws[2], Stride: stride, Pad: pad}
	tensor.Check(s.H+2*pad >= s.K && s.W+2*pad >= s.K, "Conv2d", "kernel larger than padded input", xs, ws, []int{stride, pad})
	var bd []float32
	if b != nil {
		tensor.Check(len(b.Value.Shape) == 1 && b.Value.Shape[0] == s.Cout, "Conv2d", "bias must be [Cout]", ws, b.Value.Shape)
		bd = b.Value.Data
	}
	ho, wo := s.Out()
	y := g.AllocUninit(s.N, s.Cout, ho, wo)
	conv.Forward(s, x.Value.Data, w.Value.Data, bd, y.Data)
	res := g.Result(y, x, w, b)
	if res.requiresGrad {
		n := New[convNode](g)
		*n = convNode{x: x, w: w, b: b, y: res, s: s}
		g.RecordNode(res, n)
	}
	return res
}

// convNode is the tape node of Conv2d.
type convNode struct {
	x, w, b, y *Var
	s          conv.Shape
}

func (n *convNode) Backward(g *Graph) {
	s, dy := n.s, n.y.Grad.Data
	if dx, fresh := g.gradOrFresh(n.x); fresh {
		conv.BackwardDataSet(s, dy, n.w.Value.Data, dx.Data)
	} else if dx != nil {
		conv.BackwardData(s, dy, n.w.Value.Data, dx.Data)
	}
	var db []float32
	if n.b != nil {
		if t := g.GradOf(n.b); t != nil {
			db = t.Data
		}
	}
	if dw := g.GradOf(n.w); dw != nil {
		conv.BackwardWeight(s, n.x.Value.Data, dy, dw.Data, db)
	} else if db != nil {
		ho, wo := s.Out()
		l := convBiasLoop{db: db, dy: dy, n: s.N, c: s.Cout, hw: ho * wo}
		parallel.Loop(l.c, max(1, (1<<14)/max(l.n*l.hw, 1)), l)
	}
}

// convBiasLoop adds the per-channel sums of dy [n, c, hw] into db, for a
// frozen weight with a trainable bias. Each chunk owns whole channels and
// sums in a fixed order.
type convBiasLoop struct {
	db, dy   []float32
	n, c, hw int
}

func (l *convBiasLoop) Run(lo, hi int) {
	c, hw, dy := l.c, l.hw, l.dy
	for co := lo; co < hi; co++ {
		var acc float32
		for i := 0; i < l.n; i++ {
			for _, v := range dy[(i*c+co)*hw : (i*c+co+1)*hw] {
				acc += v
			}
		}
		l.db[co] += acc
	}
}

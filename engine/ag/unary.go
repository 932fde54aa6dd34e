package ag

import (
	"math"

	"github.com/degradiff/degradiff/internal/parallel"
)

// unaryKind selects an elementwise function of one operand (and a scalar).
type unaryKind int

const (
	unaryAddScalar unaryKind = iota // x + s
	unaryScale                      // s * x
	unarySquare
	unarySqrt
	unarySiLU
	unaryReLU
	unaryLeakyReLU // slope s
	unarySigmoid
	unaryTanh
)

// unaryNode is the tape node of the elementwise functions of one operand.
type unaryNode struct {
	kind unaryKind
	s    float32
	x, y *Var
}

// unary returns f(x) for the elementwise function kind with scalar s.
func (g *Graph) unary(kind unaryKind, x *Var, s float32) *Var {
	out := g.AllocUninit(x.Value.Shape...)
	parallel.Loop(len(out.Data), kind.grain(), unaryLoop{kind: kind, s: s, x: x.Value.Data, y: out.Data})
	y := g.Result(out, x)
	if y.requiresGrad {
		n := New[unaryNode](g)
		*n = unaryNode{kind: kind, s: s, x: x, y: y}
		g.RecordNode(y, n)
	}
	return y
}

// grain returns the parallel grain of kind: the activations, which call
// exp, take smaller chunks.
func (k unaryKind) grain() int {
	if k >= unarySiLU {
		return ewGrain / 4
	}
	return ewGrain
}

func (n *unaryNode) Backward(g *Graph) {
	gx, fresh := g.gradOrFresh(n.x)
	if gx == nil {
		return
	}
	parallel.Loop(len(gx.Data), n.kind.grain(), unaryLoop{
		kind: n.kind, s: n.s, x: n.x.Value.Data, y: n.y.Value.Data,
		gx: gx.Data, gy: n.y.Grad.Data, fresh: fresh,
	})
}

// unaryLoop computes y = f(x), or, when gx is set, adds the gradient
// gy·f'(x) into gx (zeroed first, chunk by chunk while in cache, when
// fresh).
type unaryLoop struct {
	kind         unaryKind
	s            float32
	x, y, gx, gy []float32
	fresh        bool
}

func (l *unaryLoop) Run(lo, hi int) {
	x, y := l.x[lo:hi], l.y[lo:hi]
	if l.gx != nil {
		if l.fresh {
			clear(l.gx[lo:hi])
		}
		unaryGrad(l.kind, l.s, l.gx[lo:hi], l.gy[lo:hi], x, y)
		return
	}
	s := l.s
	switch l.kind {
	case unaryAddScalar:
		for i, xv := range x {
			y[i] = xv + s
		}
	case unaryScale:
		for i, xv := range x {
			y[i] = s * xv
		}
	case unarySquare:
		for i, xv := range x {
			y[i] = xv * xv
		}
	case unarySqrt:
		for i, xv := range x {
			y[i] = float32(math.Sqrt(float64(xv)))
		}
	case unarySiLU:
		actSiLURow(y, x, 1, 0)
	case unaryReLU:
		for i, v := range x {
			y[i] = max(v, 0)
		}
	case unaryLeakyReLU:
		for i, v := range x {
			if v > 0 {
				y[i] = v
			} else {
				y[i] = v * s
			}
		}
	case unarySigmoid:
		actSigmoidRow(y, x)
	case unaryTanh:
		actTanhRow(y, x)
	}
}

// unaryGrad adds gy·f'(x) into gx, given x and y = f(x).
func unaryGrad(kind unaryKind, s float32, gx, gy, x, y []float32) {
	gy, x, y = gy[:len(gx)], x[:len(gx)], y[:len(gx)]
	switch kind {
	case unaryAddScalar:
		ewAxpy(gx, gy, 1)
	case unaryScale:
		for i, gv := range gy {
			gx[i] += s * gv
		}
	case unarySquare:
		for i, gv := range gy {
			gx[i] += 2 * x[i] * gv
		}
	case unarySqrt:
		for i, gv := range gy {
			gx[i] += gv * 0.5 / y[i]
		}
	case unarySiLU:
		actSiLUGradAcc(gx, gy, x)
	case unaryReLU:
		for i, v := range x {
			if v > 0 {
				gx[i] += gy[i]
			}
		}
	case unaryLeakyReLU:
		for i, v := range x {
			if v > 0 {
				gx[i] += gy[i]
			} else {
				gx[i] += gy[i] * s
			}
		}
	case unarySigmoid:
		for i, v := range y {
			gx[i] += gy[i] * v * (1 - v)
		}
	case unaryTanh:
		for i, t := range y {
			gx[i] += gy[i] * (1 - t*t)
		}
	}
}

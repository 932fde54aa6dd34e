package ag

import (
	"fmt"
	"math"

	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/parallel"
)

// SiLU returns x*sigmoid(x) (also called swish).
func (g *Graph) SiLU(x *Var) *Var { return g.unary(unarySiLU, x, 0) }

// ReLU returns max(x, 0).
func (g *Graph) ReLU(x *Var) *Var { return g.unary(unaryReLU, x, 0) }

// LeakyReLU returns x where x > 0 and slope*x elsewhere.
func (g *Graph) LeakyReLU(x *Var, slope float32) *Var { return g.unary(unaryLeakyReLU, x, slope) }

// Sigmoid returns 1/(1+exp(-x)).
func (g *Graph) Sigmoid(x *Var) *Var { return g.unary(unarySigmoid, x, 0) }

// Tanh returns the hyperbolic tangent of x.
func (g *Graph) Tanh(x *Var) *Var { return g.unary(unaryTanh, x, 0) }

// Softmax normalises exp(x) to sum 1 along axis (negative counts from the
// end). It subtracts the maximum first, so large inputs do not overflow.
func (g *Graph) Softmax(x *Var, axis int) *Var {
	shape := x.Value.Shape
	r := len(shape)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		tensor.Fail("Softmax", fmt.Sprintf("axis %d out of range", axis), shape)
	}
	l := softmaxLoop{
		outer: tensor.Numel(shape[:axis]),
		n:     shape[axis],
		inner: tensor.Numel(shape[axis+1:]),
	}
	out := g.AllocUninit(shape...)
	l.x, l.y = x.Value.Data, out.Data
	parallel.Loop(l.outer*l.inner, l.grain(), l)
	y := g.Result(out, x)
	if y.requiresGrad {
		n := New[softmaxNode](g)
		*n = softmaxNode{x: x, y: y, l: l}
		g.RecordNode(y, n)
	}
	return y
}

// softmaxNode is the tape node of Softmax.
type softmaxNode struct {
	x, y *Var
	l    softmaxLoop
}

func (n *softmaxNode) Backward(g *Graph) {
	gx := g.GradOf(n.x)
	if gx == nil {
		return
	}
	l := n.l
	l.gx, l.gy = gx.Data, n.y.Grad.Data
	parallel.Loop(l.outer*l.inner, l.grain(), l)
}

// softmaxLoop computes the softmax vectors [lo, hi) (n values at stride
// inner) of x into y or, when gx is set, adds their gradient into gx.
type softmaxLoop struct {
	outer, n, inner int
	x, y, gx, gy    []float32
}

func (l *softmaxLoop) grain() int { return max(1, ewGrain/4/max(1, l.n)) }

func (l *softmaxLoop) Run(lo, hi int) {
	n, inner, od := l.n, l.inner, l.y
	for t := lo; t < hi; t++ {
		base := t/inner*n*inner + t%inner
		if l.gx == nil {
			actSoftmax(od[base:], l.x[base:], n, inner)
			continue
		}
		// dx = y*(dy - Σ dy·y)
		gy, gx := l.gy, l.gx
		s := 0.0
		for j := 0; j < n; j++ {
			k := base + j*inner
			s += float64(gy[k]) * float64(od[k])
		}
		dot := float32(s)
		for j := 0; j < n; j++ {
			k := base + j*inner
			gx[k] += od[k] * (gy[k] - dot)
		}
	}
}

// actSoftmax writes the softmax of the n values x[0], x[stride], ... to o.
func actSoftmax(o, x []float32, n, stride int) {
	m := float32(math.Inf(-1))
	for j := 0; j < n; j++ {
		m = max(m, x[j*stride])
	}
	var e [actBlock]float64
	s := 0.0
	for lo := 0; lo < n; lo += actBlock {
		es := e[:min(actBlock, n-lo)]
		for i := range es {
			es[i] = actWiden(x[(lo+i)*stride]) - float64(m)
		}
		actExpBlock(es)
		for i, v := range es {
			o[(lo+i)*stride] = float32(v)
			s += v
		}
	}
	inv := 1 / s
	for j := 0; j < n; j++ {
		o[j*stride] = float32(actWiden(o[j*stride]) * inv)
	}
}

// actWiden returns float64(v). The CVTSS2SD instruction of a plain
// conversion keeps the upper half of its destination register, and when the
// compiler picks a register last written by the previous element's exp, the
// loop runs one element at a time, several times slower. Building the bits in
// an integer register avoids that dependency; zeros, subnormals, infinities
// and NaNs take the plain conversion.
func actWiden(v float32) float64 {
	b := math.Float32bits(v)
	if e := b & 0x7f800000; e == 0 || e == 0x7f800000 {
		return float64(v)
	}
	return math.Float64frombits(uint64(b&0x80000000)<<32 | (uint64(b&0x7fffffff)<<29 + (1023-127)<<52))
}

// actBlock is the number of elements whose exponentials are computed
// together by actExpBlock, in a loop free of calls (an exp function would
// not be inlined, and every call spills the loop's registers).
const actBlock = 128

// actSiLURow writes SiLU(x*sc + sh) to dst, in float64.
func actSiLURow(dst, x []float32, sc, sh float64) {
	x = x[:len(dst)]
	var z, e [actBlock]float64
	for lo := 0; lo < len(dst); lo += actBlock {
		n := min(actBlock, len(dst)-lo)
		zs, es := z[:n], e[:n]
		for i, v := range x[lo : lo+n] {
			zv := actWiden(v)*sc + sh
			zs[i], es[i] = zv, -zv
		}
		actExpBlock(es)
		d := dst[lo : lo+n]
		for i, zv := range zs {
			d[i] = float32(zv / (1 + es[i]))
		}
	}
}

// actSiLUGradRow writes dz = dy·SiLU'(x*sc + sh) and returns the float64
// sums of dz and dz·(x-mean).
func actSiLUGradRow(dz, dy, x []float32, sc, sh, mean float64) (sdz, sdzd float64) {
	dy, x = dy[:len(dz)], x[:len(dz)]
	var z, e [actBlock]float64
	for lo := 0; lo < len(dz); lo += actBlock {
		n := min(actBlock, len(dz)-lo)
		zs, es := z[:n], e[:n]
		xs := x[lo : lo+n]
		for i, v := range xs {
			zv := actWiden(v)*sc + sh
			zs[i], es[i] = zv, -zv
		}
		actExpBlock(es)
		d, g := dz[lo:lo+n], dy[lo:lo+n]
		for i, zv := range zs {
			s := 1 / (1 + es[i])
			dd := actWiden(g[i]) * (s * (1 + zv*(1-s)))
			d[i] = float32(dd)
			sdz += dd
			sdzd += dd * (actWiden(xs[i]) - mean)
		}
	}
	return sdz, sdzd
}

// actSiLUGradAcc adds dy·SiLU'(x) into gx.
func actSiLUGradAcc(gx, dy, x []float32) {
	dy, x = dy[:len(gx)], x[:len(gx)]
	var z, e [actBlock]float64
	for lo := 0; lo < len(gx); lo += actBlock {
		n := min(actBlock, len(gx)-lo)
		zs, es := z[:n], e[:n]
		for i, v := range x[lo : lo+n] {
			zv := actWiden(v)
			zs[i], es[i] = zv, -zv
		}
		actExpBlock(es)
		d, g := gx[lo:lo+n], dy[lo:lo+n]
		for i, zv := range zs {
			s := 1 / (1 + es[i])
			d[i] += float32(actWiden(g[i]) * (s * (1 + zv*(1-s))))
		}
	}
}

// actSigmoidRow writes 1/(1+e^-x) to dst.
func actSigmoidRow(dst, x []float32) {
	x = x[:len(dst)]
	var e [actBlock]float64
	for lo := 0; lo < len(dst); lo += actBlock {
		es := e[:min(actBlock, len(dst)-lo)]
		for i, v := range x[lo : lo+len(es)] {
			es[i] = -actWiden(v)
		}
		actExpBlock(es)
		d := dst[lo : lo+len(es)]
		for i, v := range es {
			d[i] = float32(1 / (1 + v))
		}
	}
}

// actTanhRow writes tanh(x) to dst: (1-e^-2|x|)/(1+e^-2|x|) with x's sign,
// and a short series near 0, where 1-e^-2|x| would lose digits.
func actTanhRow(dst, x []float32) {
	x = x[:len(dst)]
	var e [actBlock]float64
	for lo := 0; lo < len(dst); lo += actBlock {
		es := e[:min(actBlock, len(dst)-lo)]
		xs := x[lo : lo+len(es)]
		for i, v := range xs {
			es[i] = -2 * math.Abs(actWiden(v))
		}
		actExpBlock(es)
		d := dst[lo : lo+len(es)]
		for i, v := range es {
			xv := actWiden(xs[i])
			if math.Abs(xv) < 0x1p-4 {
				// x - x³/3 + 2x⁵/15 - 17x⁷/315; the next term is below
				// 1e-13·|x|.
				x2 := xv * xv
				d[i] = float32(xv * (1 + x2*(-1.0/3+x2*(2.0/15+x2*(-17.0/315)))))
			} else {
				d[i] = float32(math.Copysign((1-v)/(1+v), xv))
			}
		}
	}
}

// Constants of actExpBlock: ln2/32 split so that n*actLn2Hi is exact for the
// n that occur (|n| < 2^15; the split is math/exp.go's, divided by 32).
const (
	actLn2Hi     = 6.93147180369123816490e-01 / 32
	actLn2Lo     = 1.90821492927058770002e-10 / 32
	actInvLn2x32 = 32 / math.Ln2
	actShifter   = 0x1.8p52 // adding it rounds to an integer in the low bits
)

// actExp2 holds 2^(j/32) for j in [0, 32).
var actExp2 = func() (t [32]float64) {
	for j := range t {
		t[j] = math.Exp2(float64(j) / 32)
	}
	return t
}()

// actExpBlock replaces each v[i] by e^v[i], with a relative error below
// 2e-12, for v[i] clamped to [-700, 700] (far beyond the float32 range); NaN
// propagates. e^x = 2^(n/32) · e^r with |r| <= ln2/64, from a table of
// 2^(j/32) and a degree-4 polynomial for e^r in Estrin's form, which keeps
// the dependency chain short.
func actExpBlock(v []float64) {
	for i, x := range v {
		// Branches rather than min/max: they predict well and stay off
		// the dependency chain.
		if x < -700 {
			x = -700
		} else if x > 700 {
			x = 700
		}
		t := x*actInvLn2x32 + actShifter
		n := int(int32(math.Float64bits(t)))
		nf := t - actShifter
		r := (x - nf*actLn2Hi) - nf*actLn2Lo
		r2 := r * r
		p := (1 + r) + r2*((0.5+r*(1.0/6))+r2*(1.0/24))
		v[i] = actExp2[n&31] * p * math.Float64frombits(uint64(n>>5+1023)<<52)
	}
}

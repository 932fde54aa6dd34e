package ag

import (
	"fmt"
	"math"

	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/parallel"
)

// SiLU returns x*sigmoid(x) (also called swish).
func (g *Graph) SiLU(x *Var) *Var {
	return g.actUnary(x, func(o, x []float32) {
		for i, v := range x {
			o[i] = actSiLU(v)
		}
	}, func(gx, gy, x, _ []float32) {
		for i, v := range x {
			gx[i] += gy[i] * actSiLUGrad(v)
		}
	})
}

// ReLU returns max(x, 0).
func (g *Graph) ReLU(x *Var) *Var {
	return g.actUnary(x, func(o, x []float32) {
		for i, v := range x {
			o[i] = max(v, 0)
		}
	}, func(gx, gy, x, _ []float32) {
		for i, v := range x {
			if v > 0 {
				gx[i] += gy[i]
			}
		}
	})
}

// LeakyReLU returns x where x > 0 and slope*x elsewhere.
func (g *Graph) LeakyReLU(x *Var, slope float32) *Var {
	return g.actUnary(x, func(o, x []float32) {
		for i, v := range x {
			if v > 0 {
				o[i] = v
			} else {
				o[i] = v * slope
			}
		}
	}, func(gx, gy, x, _ []float32) {
		for i, v := range x {
			if v > 0 {
				gx[i] += gy[i]
			} else {
				gx[i] += gy[i] * slope
			}
		}
	})
}

// Sigmoid returns 1/(1+exp(-x)).
func (g *Graph) Sigmoid(x *Var) *Var {
	return g.actUnary(x, func(o, x []float32) {
		for i, v := range x {
			o[i] = float32(actSigmoid(float64(v)))
		}
	}, func(gx, gy, _, y []float32) {
		for i, s := range y {
			gx[i] += gy[i] * s * (1 - s)
		}
	})
}

// Tanh returns the hyperbolic tangent of x.
func (g *Graph) Tanh(x *Var) *Var {
	return g.actUnary(x, func(o, x []float32) {
		for i, v := range x {
			o[i] = float32(actTanh(float64(v)))
		}
	}, func(gx, gy, _, y []float32) {
		for i, t := range y {
			gx[i] += gy[i] * (1 - t*t)
		}
	})
}

// actUnary applies an elementwise function: fwd fills o from x, and bwd adds
// the gradient into gx given gy, x and y; both run over chunks in parallel.
func (g *Graph) actUnary(x *Var, fwd func(o, x []float32), bwd func(gx, gy, x, y []float32)) *Var {
	out := g.AllocUninit(x.Value.Shape...)
	xd, od := x.Value.Data, out.Data
	parallel.For(len(od), ewGrain/4, func(lo, hi int) {
		fwd(od[lo:hi], xd[lo:hi])
	})
	y := g.Result(out, x)
	g.Record(y, func() {
		if gx := g.GradOf(x); gx != nil {
			gy, yd := y.Grad.Data, y.Value.Data
			parallel.For(len(gy), ewGrain/4, func(lo, hi int) {
				bwd(gx.Data[lo:hi], gy[lo:hi], xd[lo:hi], yd[lo:hi])
			})
		}
	})
	return y
}

// Softmax normalises exp(x) to sum 1 along axis (negative counts from the
// end). It subtracts the maximum first, so large inputs do not overflow.
func (g *Graph) Softmax(x *Var, axis int) *Var {
	shape := x.Value.Shape
	r := len(shape)
	if axis < 0 {
		axis += r
	}
	tensor.Check(axis >= 0 && axis < r, "Softmax", fmt.Sprintf("axis %d out of range", axis), shape)
	outer := tensor.Numel(shape[:axis])
	n := shape[axis]
	inner := tensor.Numel(shape[axis+1:])
	out := g.AllocUninit(shape...)
	xd, od := x.Value.Data, out.Data
	grain := max(1, ewGrain/4/max(1, n))
	// Each task is one softmax vector: n values at stride inner.
	parallel.For(outer*inner, grain, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			base := t/inner*n*inner + t%inner
			actSoftmax(od[base:], xd[base:], n, inner)
		}
	})
	y := g.Result(out, x)
	g.Record(y, func() {
		gx := g.GradOf(x)
		if gx == nil {
			return
		}
		gy := y.Grad.Data
		parallel.For(outer*inner, grain, func(lo, hi int) {
			for t := lo; t < hi; t++ {
				base := t/inner*n*inner + t%inner
				// dx = y*(dy - Σ dy·y)
				s := 0.0
				for j := 0; j < n; j++ {
					k := base + j*inner
					s += float64(gy[k]) * float64(od[k])
				}
				dot := float32(s)
				for j := 0; j < n; j++ {
					k := base + j*inner
					gx.Data[k] += od[k] * (gy[k] - dot)
				}
			}
		})
	})
	return y
}

// actSoftmax writes the softmax of the n values x[0], x[stride], ... to o.
func actSoftmax(o, x []float32, n, stride int) {
	if stride == 1 {
		o, x = o[:n], x[:n]
		m := float32(math.Inf(-1))
		for _, v := range x {
			m = max(m, v)
		}
		s := 0.0
		for i, v := range x {
			e := actExp(float64(v) - float64(m))
			o[i] = float32(e)
			s += e
		}
		inv := 1 / s
		for i, v := range o {
			o[i] = float32(float64(v) * inv)
		}
		return
	}
	m := float32(math.Inf(-1))
	for j := 0; j < n; j++ {
		m = max(m, x[j*stride])
	}
	s := 0.0
	for j := 0; j < n; j++ {
		e := actExp(float64(x[j*stride]) - float64(m))
		o[j*stride] = float32(e)
		s += e
	}
	inv := 1 / s
	for j := 0; j < n; j++ {
		o[j*stride] = float32(float64(o[j*stride]) * inv)
	}
}

// actSiLU returns x*sigmoid(x), computed in float64.
func actSiLU(x float32) float32 { return actSiLU64(float64(x)) }

func actSiLU64(x float64) float32 { return float32(x / (1 + actExp(-x))) }

// actSiLUGrad returns the derivative of SiLU at x: s*(1 + x*(1-s)).
func actSiLUGrad(x float32) float32 { return float32(actSiLUGrad64(float64(x))) }

func actSiLUGrad64(x float64) float64 {
	s := 1 / (1 + actExp(-x))
	return s * (1 + x*(1-s))
}

// actSigmoid returns 1/(1+e^-x).
func actSigmoid(x float64) float64 { return 1 / (1 + actExp(-x)) }

// actTanh returns tanh(x): a short series near 0, where 1-e^-2x would lose
// digits, and (1-e^-2|x|)/(1+e^-2|x|) elsewhere.
func actTanh(x float64) float64 {
	a := math.Abs(x)
	if a < 0x1p-4 {
		// x - x³/3 + 2x⁵/15 - 17x⁷/315; the next term is below 1e-13·|x|.
		x2 := x * x
		return x * (1 + x2*(-1.0/3+x2*(2.0/15+x2*(-17.0/315))))
	}
	e := actExp(-2 * a)
	return math.Copysign((1-e)/(1+e), x)
}

// Constants of actExp: ln2/32 split so that n*actLn2Hi is exact for the n
// that occur (|n| < 2^15; the split is math/exp.go's, divided by 32).
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

// actExp returns e^x with a relative error below 2e-12, for x clamped to
// [-700, 700] (far beyond the float32 range); NaN propagates. It is faster
// than math.Exp: e^x = 2^(n/32) · e^r with |r| <= ln2/64, a table for
// 2^(j/32) and a degree-4 polynomial for e^r, evaluated in Estrin's form for
// a short dependency chain.
func actExp(x float64) float64 {
	// Branches rather than min/max: they predict well and stay off the
	// dependency chain.
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
	return actExp2[n&31] * p * math.Float64frombits(uint64(n>>5+1023)<<52)
}

package ag

import (
	"fmt"

	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/parallel"
)

// ewGrain is the number of elements below which elementwise loops run on
// one goroutine.
const ewGrain = 1 << 15

// Add returns a+b with NumPy broadcasting: shapes are aligned on the right,
// and each pair of dims must be equal or one of them 1. The gradient of a
// broadcast operand is summed over its broadcast dims in float64, in an
// order fixed by the shapes alone.
func (g *Graph) Add(a, b *Var) *Var { return g.ewBinary("Add", ewAdd, a, b) }

// Sub returns a-b with broadcasting as in Add.
func (g *Graph) Sub(a, b *Var) *Var { return g.ewBinary("Sub", ewSub, a, b) }

// Mul returns the elementwise product a*b with broadcasting as in Add.
func (g *Graph) Mul(a, b *Var) *Var { return g.ewBinary("Mul", ewMul, a, b) }

type ewKind int

const (
	ewAdd ewKind = iota
	ewSub
	ewMul
)

// ewNode is the tape node of Add, Sub and Mul.
type ewNode struct {
	kind    ewKind
	a, b, y *Var
	p       ewPlan
}

func (g *Graph) ewBinary(name string, kind ewKind, a, b *Var) *Var {
	var shape [reduceMaxRank]int
	rank, p := ewBroadcast(name, a.Value.Shape, b.Value.Shape, &shape)
	out := g.AllocUninit(shape[:rank]...)
	parallel.Loop(len(out.Data), ewGrain, ewLoop{kind: kind, p: p, a: a.Value.Data, b: b.Value.Data, o: out.Data})
	y := g.Result(out, a, b)
	if y.requiresGrad {
		n := New[ewNode](g)
		*n = ewNode{kind: kind, a: a, b: b, y: y, p: p}
		g.RecordNode(y, n)
	}
	return y
}

// ewLoop computes o = a op b under plan p.
type ewLoop struct {
	kind    ewKind
	p       ewPlan
	a, b, o []float32
}

func (l *ewLoop) Run(lo, hi int) {
	sai, sbi := l.p.sa[l.p.rank-1], l.p.sb[l.p.rank-1]
	l.p.rows(lo, hi, func(o, ia, ib, n int) {
		ewRow(l.kind, l.o[o:o+n], l.a[ia:], l.b[ib:], sai, sbi)
	})
}

func (n *ewNode) Backward(g *Graph) {
	gy := n.y.Grad.Data
	sign := float32(1)
	if n.kind == ewSub {
		sign = -1
	}
	var fa, fb []float32 // factors of the gradients (Mul only)
	if n.kind == ewMul {
		fa, fb = n.b.Value.Data, n.a.Value.Data
	}
	if ga, fresh := ewGradOf(g, n.a, len(gy)); ga != nil {
		ewGradInto(g, ga.Data, gy, fa, &n.p, n.p.sa, n.p.sb, 1, fresh)
	}
	if gb, fresh := ewGradOf(g, n.b, len(gy)); gb != nil {
		ewGradInto(g, gb.Data, gy, fb, &n.p, n.p.sb, n.p.sa, sign, fresh)
	}
}

// ewGradOf returns the gradient of operand x of an elementwise operation
// with n output elements: written fresh when x is not broadcast (the
// gradient then covers every element), else zeroed for the reduction.
func ewGradOf(g *Graph, x *Var, n int) (*tensor.Tensor, bool) {
	if x.Value.Numel() == n {
		return g.gradOrFresh(x)
	}
	return g.GradOf(x), false
}

// ewGradInto adds sign * gy * f (f nil meaning 1), reduced over the dims
// where the operand is broadcast, into gx, or writes it there when fresh
// (gx not broadcast). sx and sf are the strides of the operand and of f in
// plan p.
func ewGradInto(g *Graph, gx, gy, f []float32, p *ewPlan, sx, sf [reduceMaxRank]int, sign float32, fresh bool) {
	if len(gx) == len(gy) {
		// Not broadcast: gx has the output's layout.
		if f == nil {
			parallel.Loop(len(gy), ewGrain, axpyLoop{y: gx, x: gy, s: sign, fresh: fresh})
			return
		}
		// Walk the plan with f in b's place.
		q := *p
		q.sb = sf
		parallel.Loop(len(gy), ewGrain, ewMulGradLoop{p: q, gx: gx, gy: gy, f: f, sign: sign, fresh: fresh})
		return
	}
	rp := reducePlan{rank: p.rank, dims: p.dims}
	s := 1
	for i := p.rank - 1; i >= 0; i-- {
		rp.red[i] = sx[i] == 0
		rp.ss[i] = s
		s *= p.dims[i]
		rp.fs[i] = sf[i]
	}
	rp.run(g, gx, gy, f, float64(sign), true)
}

// ewMulGradLoop adds sign * gy * f into gx, which has gy's layout, with f
// walked as operand b of plan p; fresh: gx is zeroed first, chunk by chunk.
type ewMulGradLoop struct {
	p         ewPlan
	gx, gy, f []float32
	sign      float32
	fresh     bool
}

func (l *ewMulGradLoop) Run(lo, hi int) {
	if l.fresh {
		clear(l.gx[lo:hi])
	}
	sfi := l.p.sb[l.p.rank-1]
	l.p.rows(lo, hi, func(o, _, i, n int) {
		ewAccMulRow(l.gx[o:o+n], l.gy[o:o+n], l.f[i:], sfi, l.sign)
	})
}

// axpy adds s*x into y on the cores.
func (g *Graph) axpy(y, x []float32, s float32) {
	parallel.Loop(len(x), ewGrain, axpyLoop{y: y, x: x, s: s})
}

// axpyLoop adds s*x into y, or writes it there when fresh.
type axpyLoop struct {
	y, x  []float32
	s     float32
	fresh bool
}

func (l *axpyLoop) Run(lo, hi int) {
	y, x := l.y[lo:hi], l.x[lo:hi]
	switch {
	case !l.fresh:
		ewAxpy(y, x, l.s)
	case l.s == 1:
		copy(y, x)
	default:
		for i, v := range x {
			y[i] = l.s * v
		}
	}
}

// AddScalar returns x+s.
func (g *Graph) AddScalar(x *Var, s float32) *Var { return g.unary(unaryAddScalar, x, s) }

// Square returns x*x elementwise.
func (g *Graph) Square(x *Var) *Var { return g.unary(unarySquare, x, 0) }

// Sqrt returns the elementwise square root of x (NaN for negative values;
// the gradient is infinite at 0).
func (g *Graph) Sqrt(x *Var) *Var { return g.unary(unarySqrt, x, 0) }

// ewPlan is a broadcast elementwise operation reduced to its essentials:
// output dims of size 1 are dropped and neighbouring dims in which the same
// operands are broadcast are merged, so [N,C,H,W]+[1,C,1,1] becomes
// [N, C, H*W] with b's strides [0, 1, 0].
type ewPlan struct {
	rank   int
	dims   [reduceMaxRank]int
	sa, sb [reduceMaxRank]int // strides of a and b; 0 where broadcast
}

// ewBroadcast writes the broadcast shape of a and b into shape and returns
// its rank and the plan that computes it, or panics with a
// *tensor.ShapeError for op.
func ewBroadcast(op string, as, bs []int, shape *[reduceMaxRank]int) (int, ewPlan) {
	r := max(len(as), len(bs))
	if r > reduceMaxRank {
		tensor.Fail(op, fmt.Sprintf("rank above %d", reduceMaxRank), as, bs)
	}
	var p ewPlan
	var bca, bcb [reduceMaxRank]bool
	for i := 0; i < r; i++ {
		da, db := 1, 1
		if j := i - (r - len(as)); j >= 0 {
			da = as[j]
		}
		if j := i - (r - len(bs)); j >= 0 {
			db = bs[j]
		}
		d := da
		switch {
		case da == db:
		case da == 1:
			d = db
		case db == 1:
		default:
			tensor.Fail(op, "cannot broadcast", as, bs)
		}
		shape[i] = d
		if d == 1 {
			continue
		}
		ba, bb := da == 1, db == 1
		if p.rank > 0 && bca[p.rank-1] == ba && bcb[p.rank-1] == bb {
			p.dims[p.rank-1] *= d
			continue
		}
		p.dims[p.rank], bca[p.rank], bcb[p.rank] = d, ba, bb
		p.rank++
	}
	if p.rank == 0 {
		p.dims[0], p.rank = 1, 1
	}
	sa, sb := 1, 1
	for i := p.rank - 1; i >= 0; i-- {
		if !bca[i] {
			p.sa[i] = sa
			sa *= p.dims[i]
		}
		if !bcb[i] {
			p.sb[i] = sb
			sb *= p.dims[i]
		}
	}
	return r, p
}

// rows calls row(o, ia, ib, n) for the pieces of innermost rows that make up
// the output range [lo, hi): o is the output offset, ia and ib the offsets
// of a and b, and n the length. Along a row, a and b advance by their
// innermost strides (0 or 1).
func (p *ewPlan) rows(lo, hi int, row func(o, ia, ib, n int)) {
	r := p.rank
	inner := p.dims[r-1]
	var idx [reduceMaxRank]int
	rem, col := lo/inner, lo%inner
	ra, rb := 0, 0 // offsets of the current row's start
	for d := r - 2; d >= 0; d-- {
		idx[d] = rem % p.dims[d]
		rem /= p.dims[d]
		ra += idx[d] * p.sa[d]
		rb += idx[d] * p.sb[d]
	}
	sai, sbi := p.sa[r-1], p.sb[r-1]
	for o := lo; o < hi; {
		n := min(inner-col, hi-o)
		row(o, ra+col*sai, rb+col*sbi, n)
		o += n
		col = 0
		for d := r - 2; d >= 0; d-- {
			idx[d]++
			ra += p.sa[d]
			rb += p.sb[d]
			if idx[d] < p.dims[d] {
				break
			}
			ra -= idx[d] * p.sa[d]
			rb -= idx[d] * p.sb[d]
			idx[d] = 0
		}
	}
}

// ewRow computes o = a op b over one row, where a (b) is a vector when its
// stride sa (sb) is 1 and a scalar a[0] (b[0]) when it is 0.
func ewRow(op ewKind, o, a, b []float32, sa, sb int) {
	n := len(o)
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:n], b[:n]
		switch op {
		case ewAdd:
			for i := range o {
				o[i] = a[i] + b[i]
			}
		case ewSub:
			for i := range o {
				o[i] = a[i] - b[i]
			}
		case ewMul:
			for i := range o {
				o[i] = a[i] * b[i]
			}
		}
	case sa == 1:
		a, s := a[:n], b[0]
		switch op {
		case ewAdd:
			for i := range o {
				o[i] = a[i] + s
			}
		case ewSub:
			for i := range o {
				o[i] = a[i] - s
			}
		case ewMul:
			for i := range o {
				o[i] = a[i] * s
			}
		}
	case sb == 1:
		s, b := a[0], b[:n]
		switch op {
		case ewAdd:
			for i := range o {
				o[i] = s + b[i]
			}
		case ewSub:
			for i := range o {
				o[i] = s - b[i]
			}
		case ewMul:
			for i := range o {
				o[i] = s * b[i]
			}
		}
	default:
		var v float32
		switch op {
		case ewAdd:
			v = a[0] + b[0]
		case ewSub:
			v = a[0] - b[0]
		case ewMul:
			v = a[0] * b[0]
		}
		for i := range o {
			o[i] = v
		}
	}
}

// ewAxpy adds s*x into y.
func ewAxpy(y, x []float32, s float32) {
	x = x[:len(y)]
	if s == 1 {
		for i, v := range x {
			y[i] += v
		}
		return
	}
	for i, v := range x {
		y[i] += s * v
	}
}

// ewAccMulRow adds s*x*f into y, where f is a vector (sf == 1) or the
// scalar f[0] (sf == 0).
func ewAccMulRow(y, x, f []float32, sf int, s float32) {
	x = x[:len(y)]
	if sf == 0 {
		ewAxpy(y, x, s*f[0])
		return
	}
	f = f[:len(y)]
	for i, v := range x {
		y[i] += s * v * f[i]
	}
}

// ewAccScaledRow adds s*b into y, where b is a vector (sb == 1) or the
// scalar b[0] (sb == 0).
func ewAccScaledRow(y, b []float32, sb int, s float32) {
	if sb == 1 {
		ewAxpy(y, b, s)
		return
	}
	v := s * b[0]
	for i := range y {
		y[i] += v
	}
}

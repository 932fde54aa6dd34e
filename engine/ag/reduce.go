package ag

import (
	"fmt"
	"slices"

	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/parallel"
)

// Sum returns the sum of all elements of x, with shape [1].
func (g *Graph) Sum(x *Var) *Var { return g.reduceAll(x, false) }

// Mean returns the mean of all elements of x, with shape [1].
func (g *Graph) Mean(x *Var) *Var { return g.reduceAll(x, true) }

func (g *Graph) reduceAll(x *Var, mean bool) *Var {
	n := len(x.Value.Data)
	alpha := 1.0
	if mean {
		tensor.Check(n > 0, "Mean", "empty input", x.Value.Shape)
		alpha = 1 / float64(n)
	}
	out := g.AllocUninit(1)
	var p reducePlan
	p.dims[0], p.red[0], p.ss[0], p.rank = n, true, 1, 1
	p.run(g, out.Data, x.Value.Data, nil, alpha, false)
	y := g.Result(out, x)
	if y.requiresGrad {
		nd := New[reduceAllNode](g)
		*nd = reduceAllNode{x: x, y: y, alpha: alpha}
		g.RecordNode(y, nd)
	}
	return y
}

// reduceAllNode is the tape node of Sum and Mean.
type reduceAllNode struct {
	x, y  *Var
	alpha float64
}

func (n *reduceAllNode) Backward(g *Graph) {
	if gx := g.GradOf(n.x); gx != nil {
		d := float32(n.alpha * float64(n.y.Grad.Data[0]))
		parallel.Loop(len(gx.Data), 1<<15, addConstLoop{y: gx.Data, c: d})
	}
}

// addConstLoop adds c to every element of y.
type addConstLoop struct {
	y []float32
	c float32
}

func (l *addConstLoop) Run(lo, hi int) {
	y := l.y[lo:hi]
	for i := range y {
		y[i] += l.c
	}
}

// SumAxes sums x over the given axes (negative axes count from the end; no
// axes means all). With keepdims the reduced axes stay as size 1, otherwise
// they are removed; a result with no axes left has shape [1].
func (g *Graph) SumAxes(x *Var, keepdims bool, axes ...int) *Var {
	return g.reduceAxes("SumAxes", x, keepdims, false, axes)
}

// MeanAxes is SumAxes divided by the number of elements summed.
func (g *Graph) MeanAxes(x *Var, keepdims bool, axes ...int) *Var {
	return g.reduceAxes("MeanAxes", x, keepdims, true, axes)
}

func (g *Graph) reduceAxes(op string, x *Var, keepdims, mean bool, axes []int) *Var {
	shape := x.Value.Shape
	r := len(shape)
	if r > reduceMaxRank {
		tensor.Fail(op, fmt.Sprintf("rank above %d", reduceMaxRank), shape)
	}
	var red [reduceMaxRank]bool
	if len(axes) == 0 {
		for i := range r {
			red[i] = true
		}
	}
	for _, a := range axes {
		if a < 0 {
			a += r
		}
		if a < 0 || a >= r || red[a] {
			tensor.Fail(op, fmt.Sprintf("bad or repeated axis in %v", slices.Clone(axes)), shape)
		}
		red[a] = true
	}
	var outBuf, keptBuf [reduceMaxRank]int
	outShape, keptShape := outBuf[:0], keptBuf[:0]
	count := 1
	for i, d := range shape {
		if red[i] {
			count *= d
			if keepdims {
				outShape = append(outShape, 1)
			}
			keptShape = append(keptShape, 1)
		} else {
			outShape = append(outShape, d)
			keptShape = append(keptShape, d)
		}
	}
	if len(outShape) == 0 {
		outShape = append(outShape, 1)
	}
	alpha := 1.0
	if mean {
		tensor.Check(count > 0, op, "empty reduction", shape)
		alpha = 1 / float64(count)
	}
	out := g.AllocUninit(outShape...)
	p := reducePlanFor(shape, red[:r])
	p.run(g, out.Data, x.Value.Data, nil, alpha, false)
	y := g.Result(out, x)
	if y.requiresGrad {
		// The backward pass spreads the output gradient back over the
		// reduced axes: a broadcast of the kept shape.
		var bshape [reduceMaxRank]int
		_, bp := ewBroadcast(op, shape, keptShape, &bshape)
		nd := New[reduceAxesNode](g)
		*nd = reduceAxesNode{x: x, y: y, p: bp, alpha: float32(alpha)}
		g.RecordNode(y, nd)
	}
	return y
}

// reduceAxesNode is the tape node of SumAxes and MeanAxes.
type reduceAxesNode struct {
	x, y  *Var
	p     ewPlan // x's shape as the broadcast of the kept shape (operand b)
	alpha float32
}

func (n *reduceAxesNode) Backward(g *Graph) {
	if gx := g.GradOf(n.x); gx != nil {
		parallel.Loop(len(gx.Data), 1<<15, spreadLoop{p: n.p, gx: gx.Data, gy: n.y.Grad.Data, a: n.alpha})
	}
}

// spreadLoop adds a·gy, broadcast as operand b of plan p, into gx.
type spreadLoop struct {
	p      ewPlan
	gx, gy []float32
	a      float32
}

func (l *spreadLoop) Run(lo, hi int) {
	sb := l.p.sb[l.p.rank-1]
	l.p.rows(lo, hi, func(o, _, ib, n int) {
		ewAccScaledRow(l.gx[o:o+n], l.gy[ib:], sb, l.a)
	})
}

// reduceMaxRank bounds the rank of reduced and broadcast operands.
const reduceMaxRank = 8

// reducePlan describes dst[k] = alpha * Σ src[i]·f[i] (f optional), where
// the sum runs over the reduced dims of a strided index space and k indexes
// the kept dims, which dst holds contiguously in order.
type reducePlan struct {
	rank   int
	dims   [reduceMaxRank]int
	red    [reduceMaxRank]bool
	ss, fs [reduceMaxRank]int // strides of src and f
}

// reducePlanFor returns the plan that reduces a contiguous tensor of the
// given shape over the dims flagged in red, with size-1 dims dropped and
// neighbours of the same kind merged.
func reducePlanFor(shape []int, red []bool) reducePlan {
	var p reducePlan
	for i, d := range shape {
		if d == 1 {
			continue
		}
		if p.rank > 0 && p.red[p.rank-1] == red[i] {
			p.dims[p.rank-1] *= d
			continue
		}
		p.dims[p.rank], p.red[p.rank] = d, red[i]
		p.rank++
	}
	if p.rank == 0 {
		p.dims[0], p.rank = 1, 1
	}
	s := 1
	for i := p.rank - 1; i >= 0; i-- {
		p.ss[i] = s
		s *= p.dims[i]
	}
	return p
}

// reduceBlock is the width of the kept-dim blocks summed together when the
// innermost dim is kept.
const reduceBlock = 64

// run computes dst = alpha*sums (or adds them into dst when acc is set).
// src must have stride 1 along the innermost dim, and f stride 0 or 1.
//
// The sums are float64 and run in a fixed order: when few outputs would keep
// the cores busy, the reduced range is split into chunks whose boundaries
// depend only on the shape, and the chunk partials are added in order. The
// result therefore does not depend on the number of workers.
func (p *reducePlan) run(g *Graph, dst, src, f []float32, alpha float64, acc bool) {
	r := p.rank
	nKept, nRed := 1, 1
	for i := 0; i < r; i++ {
		if p.red[i] {
			nRed *= p.dims[i]
		} else {
			nKept *= p.dims[i]
		}
	}
	if nKept == 0 {
		return
	}
	if nRed == 0 {
		if !acc {
			clear(dst[:nKept])
		}
		return
	}
	l := reduceLoop{p: *p, dst: dst, src: src, f: f, alpha: alpha, acc: acc, nKept: nKept, nRed: nRed}
	innerKept := !p.red[r-1]
	inner := p.dims[r-1]
	units := nKept
	if innerKept {
		units = nKept / inner * ((inner + reduceBlock - 1) / reduceBlock)
	}
	// Reduced coordinates per task: the whole range unless there are too
	// few units to share out.
	perUnit := nKept / units * nRed
	chunks := 1
	if units < 16 && perUnit > 1<<15 {
		chunks = min((16+units-1)/units, (perUnit+(1<<14)-1)>>14)
	}
	l.chunkLen = (nRed + chunks - 1) / chunks
	l.chunks = (nRed + l.chunkLen - 1) / l.chunkLen
	grain := max(1, (1<<15)/max(1, perUnit/l.chunks))

	if l.chunks > 1 {
		l.partials = NewSlice[float64](g, l.chunks*nKept)
	}
	parallel.Loop(units*l.chunks, grain, l)
	if l.chunks > 1 {
		parallel.Loop(nKept, 1<<12, reduceSumPartials(l))
	}
}

// reduceLoop computes tasks [lo, hi) of reducePlan.run: each task sums
// one unit (a kept index, or a block of reduceBlock kept indices when the
// innermost dim is kept) over one chunk of the reduced range, storing the
// result in dst or, with several chunks, in partials.
type reduceLoop struct {
	p                reducePlan
	dst, src, f      []float32
	alpha            float64
	acc              bool
	nKept, nRed      int
	chunks, chunkLen int
	partials         []float64 // [chunk][kept index]
}

func (l *reduceLoop) Run(lo, hi int) {
	p := &l.p
	r := p.rank
	innerKept := !p.red[r-1]
	inner := p.dims[r-1]
	chunks, nKept := l.chunks, l.nKept
	var accs [reduceBlock]float64
	for t := lo; t < hi; t++ {
		u, c := t/chunks, t%chunks
		rlo, rhi := c*l.chunkLen, min((c+1)*l.chunkLen, l.nRed)
		if innerKept {
			nb := (inner + reduceBlock - 1) / reduceBlock
			ko, b := u/nb, u%nb
			j0 := b * reduceBlock
			w := min(reduceBlock, inner-j0)
			so, fo := p.keptOffsets(ko, r-1)
			so += j0 * p.ss[r-1]
			fo += j0 * p.fs[r-1]
			sums := accs[:w]
			clear(sums)
			p.sumBlock(sums, l.src, l.f, so, fo, rlo, rhi)
			k := ko*inner + j0
			if chunks > 1 {
				copy(l.partials[c*nKept+k:], sums)
			} else {
				reduceStore(l.dst[k:k+w], sums, l.alpha, l.acc)
			}
		} else {
			so, fo := p.keptOffsets(u, r)
			s := p.sumInner(l.src, l.f, so, fo, rlo, rhi)
			if chunks > 1 {
				l.partials[c*nKept+u] = s
			} else {
				accs[0] = s
				reduceStore(l.dst[u:u+1], accs[:1], l.alpha, l.acc)
			}
		}
	}
}

// reduceSumPartials adds the chunk partials of kept indices [lo, hi) in
// chunk order and stores (or adds) alpha times the sums into dst.
type reduceSumPartials reduceLoop

func (l *reduceSumPartials) Run(lo, hi int) {
	for k := lo; k < hi; k++ {
		s := 0.0
		for c := 0; c < l.chunks; c++ {
			s += l.partials[c*l.nKept+k]
		}
		v := float32(l.alpha * s)
		if l.acc {
			l.dst[k] += v
		} else {
			l.dst[k] = v
		}
	}
}

func reduceStore(dst []float32, sums []float64, alpha float64, acc bool) {
	sums = sums[:len(dst)]
	for i, s := range sums {
		if acc {
			dst[i] += float32(alpha * s)
		} else {
			dst[i] = float32(alpha * s)
		}
	}
}

// keptOffsets returns the offsets into src and f of kept flat index k over
// the kept dims among the first n dims.
func (p *reducePlan) keptOffsets(k, n int) (so, fo int) {
	for d := n - 1; d >= 0; d-- {
		if p.red[d] {
			continue
		}
		c := k % p.dims[d]
		k /= p.dims[d]
		so += c * p.ss[d]
		fo += c * p.fs[d]
	}
	return so, fo
}

// sumInner sums the reduced positions [rlo, rhi) (row-major over the reduced
// dims, the innermost of which is the last dim) from base offsets so, fo.
func (p *reducePlan) sumInner(src, f []float32, so, fo, rlo, rhi int) float64 {
	r := p.rank
	inner := p.dims[r-1]
	fsi := p.fs[r-1]
	row, col := rlo/inner, rlo%inner
	// Decompose the row index over the outer reduced dims.
	var idx [reduceMaxRank]int
	rem := row
	for d := r - 2; d >= 0; d-- {
		if !p.red[d] {
			continue
		}
		idx[d] = rem % p.dims[d]
		rem /= p.dims[d]
		so += idx[d] * p.ss[d]
		fo += idx[d] * p.fs[d]
	}
	s := 0.0
	for pos := rlo; pos < rhi; {
		n := min(inner-col, rhi-pos)
		seg := src[so+col : so+col+n]
		switch {
		case f == nil:
			s += reduceSum(seg)
		case fsi == 0:
			s += float64(f[fo]) * reduceSum(seg)
		default:
			s += reduceDot(seg, f[fo+col:fo+col+n])
		}
		pos += n
		col = 0
		for d := r - 2; d >= 0; d-- {
			if !p.red[d] {
				continue
			}
			idx[d]++
			so += p.ss[d]
			fo += p.fs[d]
			if idx[d] < p.dims[d] {
				break
			}
			so -= idx[d] * p.ss[d]
			fo -= idx[d] * p.fs[d]
			idx[d] = 0
		}
	}
	return s
}

// sumBlock adds, for each reduced position in [rlo, rhi), the block of
// len(sums) consecutive innermost elements at so (and f at fo) into sums.
func (p *reducePlan) sumBlock(sums []float64, src, f []float32, so, fo, rlo, rhi int) {
	r := p.rank
	fsi := p.fs[r-1]
	w := len(sums)
	var idx [reduceMaxRank]int
	rem := rlo
	for d := r - 1; d >= 0; d-- {
		if !p.red[d] {
			continue
		}
		idx[d] = rem % p.dims[d]
		rem /= p.dims[d]
		so += idx[d] * p.ss[d]
		fo += idx[d] * p.fs[d]
	}
	for pos := rlo; pos < rhi; pos++ {
		seg := src[so : so+w]
		switch {
		case f == nil:
			for j, v := range seg {
				sums[j] += float64(v)
			}
		case fsi == 0:
			fv := float64(f[fo])
			for j, v := range seg {
				sums[j] += float64(v) * fv
			}
		default:
			fseg := f[fo : fo+w]
			for j, v := range seg {
				sums[j] += float64(v) * float64(fseg[j])
			}
		}
		for d := r - 1; d >= 0; d-- {
			if !p.red[d] {
				continue
			}
			idx[d]++
			so += p.ss[d]
			fo += p.fs[d]
			if idx[d] < p.dims[d] {
				break
			}
			so -= idx[d] * p.ss[d]
			fo -= idx[d] * p.fs[d]
			idx[d] = 0
		}
	}
}

// reduceSum returns the float64 sum of x, with four accumulators in a fixed
// pattern (faster than one dependency chain, and still deterministic).
func reduceSum(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		s0 += float64(v[0])
		s1 += float64(v[1])
		s2 += float64(v[2])
		s3 += float64(v[3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// reduceDot returns the float64 dot product of x and y (len(y) >= len(x)).
func reduceDot(x, y []float32) float64 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a := x[i : i+4 : i+4]
		b := y[i : i+4 : i+4]
		s0 += float64(a[0]) * float64(b[0])
		s1 += float64(a[1]) * float64(b[1])
		s2 += float64(a[2]) * float64(b[2])
		s3 += float64(a[3]) * float64(b[3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i]) * float64(y[i])
	}
	return (s0 + s1) + (s2 + s3)
}

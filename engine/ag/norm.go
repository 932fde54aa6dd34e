package ag

import (
	"fmt"
	"math"

	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/kernel"
	"github.com/degradiff/degradiff/internal/parallel"
)

// GroupNorm normalises x of shape [N, C, ...] over groups of C/groups
// channels and all trailing dims, per sample, with the biased variance (as
// torch.nn.GroupNorm), then applies gamma[c]*x + beta[c]. gamma and beta have
// C elements; either may be nil (scale 1, shift 0). Statistics are summed and
// the normalisation evaluated in float64. The work is shared out by (sample,
// group).
func (g *Graph) GroupNorm(x, gamma, beta *Var, groups int, eps float32) *Var {
	return g.groupNorm("GroupNorm", x, gamma, beta, groups, eps, false)
}

// GroupNormSiLU returns SiLU(GroupNorm(x, gamma, beta, groups, eps)) in one
// pass over memory, forward and backward; the normalised values are not
// stored but recomputed in the backward pass. With the avx512 or avx2
// kernel path the elementwise part runs in float32 with a vectorised exp
// (see vexp.go), the statistics and sums staying in float64.
func (g *Graph) GroupNormSiLU(x, gamma, beta *Var, groups int, eps float32) *Var {
	return g.groupNorm("GroupNormSiLU", x, gamma, beta, groups, eps, true)
}

func (g *Graph) groupNorm(op string, x, gamma, beta *Var, groups int, eps float32, silu bool) *Var {
	shape := x.Value.Shape
	tensor.Check(len(shape) >= 2, op, "input needs N and C dims", shape)
	n, c := shape[0], shape[1]
	if groups <= 0 || c%groups != 0 {
		tensor.Fail(op, fmt.Sprintf("%d channels do not split into %d groups", c, groups), shape)
	}
	l := normLoop{n: n, c: c, groups: groups, s: tensor.Numel(shape[2:]), eps: eps, silu: silu, x: x.Value.Data}
	if gamma != nil {
		tensor.Check(len(gamma.Value.Data) == c, op, "gamma needs C elements", shape, gamma.Value.Shape)
		l.gamma = gamma.Value.Data
	}
	if beta != nil {
		tensor.Check(len(beta.Value.Data) == c, op, "beta needs C elements", shape, beta.Value.Shape)
		l.beta = beta.Value.Data
	}
	out := g.AllocUninit(shape...)
	y := g.Result(out, x, gamma, beta)
	if y.requiresGrad {
		l.stats = g.AllocUninit(4 * l.units()).Data
	}
	l.y = out.Data
	parallel.Loop(l.units(), l.grain(), l)
	if y.requiresGrad {
		nd := New[normNode](g)
		*nd = normNode{x: x, gamma: gamma, beta: beta, y: y, l: l}
		g.RecordNode(y, nd)
	}
	return y
}

// normLoop is the geometry and operands of a group normalisation, and its
// forward loop over units (sample, group).
type normLoop struct {
	n, c, groups, s int // batch, channels, groups, elements per channel
	eps             float32
	silu            bool
	x, gamma, beta  []float32
	y               []float32
	stats           []float32 // per unit: mean and rstd as float32 pairs

	// Backward: dy, the gradient of x (or nil), the per-(sample, channel)
	// partial sums of dgamma and dbeta (or nil), the units per chunk and a
	// scratch row per chunk.
	dy, dx []float32
	part   []float64
	chunk  int
	dz     []float32
	// fresh: dx holds no gradient yet and is written, not added into.
	fresh bool
}

// units returns the number of (sample, group) pairs; each is contiguous in
// memory, l.c/l.groups*l.s elements long.
func (l *normLoop) units() int { return l.n * l.groups }

func (l *normLoop) grain() int { return max(1, ewGrain/max(1, l.c/l.groups*l.s)) }

func (l *normLoop) Run(lo, hi int) {
	cg, s := l.c/l.groups, l.s
	ln := cg * s
	xd, od, gd, bd := l.x, l.y, l.gamma, l.beta
	for u := lo; u < hi; u++ {
		blk := xd[u*ln : (u+1)*ln]
		// Round the statistics to what the backward pass will read.
		var st [4]float32
		mean, rstd := normStats(blk, l.eps)
		normPut(st[:], mean, rstd)
		mean, rstd = normGet(st[:])
		if l.stats != nil {
			copy(l.stats[4*u:4*u+4], st[:])
		}
		gi := u % l.groups
		for ci := 0; ci < cg; ci++ {
			src := blk[ci*s : (ci+1)*s]
			dst := od[u*ln+ci*s : u*ln+(ci+1)*s]
			if l.silu {
				k := normSiLUConsts(st[:], rstd, gd, bd, gi*cg+ci)
				normSiLURow(dst, src, &k)
			} else {
				sc, sh := normAffine(mean, rstd, gd, bd, gi*cg+ci)
				normAffineRow(dst, src, sc, sh)
			}
		}
	}
}

// normNode is the tape node of GroupNorm and GroupNormSiLU.
type normNode struct {
	x, gamma, beta, y *Var
	l                 normLoop
}

func (nd *normNode) Backward(g *Graph) {
	l := nd.l
	if gx, fresh := g.gradOrFresh(nd.x); gx != nil {
		l.dx, l.fresh = gx.Data, fresh
	}
	var ggm, gbt *tensor.Tensor
	if nd.gamma != nil {
		ggm = g.GradOf(nd.gamma)
	}
	if nd.beta != nil {
		gbt = g.GradOf(nd.beta)
	}
	l.dy = nd.y.Grad.Data
	// Per-(sample, channel) partials of dgamma and dbeta, added over the
	// samples in order afterwards.
	if ggm != nil || gbt != nil {
		l.part = NewSlice[float64](g, 2*l.n*l.c)
	}
	// The units are split into chunks as parallel.For would, each with its
	// own scratch row for the fused SiLU's dz.
	units, ln := l.units(), l.c/l.groups*l.s
	chunks := min((units+l.grain()-1)/l.grain(), 4*parallel.Workers())
	l.chunk = (units + chunks - 1) / chunks
	var dz *tensor.Tensor
	if l.silu {
		dz = g.AllocUninit(chunks * ln)
		l.dz = dz.Data
	}
	parallel.Loop(chunks, 1, normGrad(l))
	if dz != nil {
		g.putBack(dz.Data)
	}
	if l.part == nil {
		return
	}
	for ch := 0; ch < l.c; ch++ {
		var sg, sb float64
		for ni := 0; ni < l.n; ni++ {
			k := 2 * (ni*l.c + ch)
			sg += l.part[k]
			sb += l.part[k+1]
		}
		if ggm != nil {
			ggm.Data[ch] += float32(sg)
		}
		if gbt != nil {
			gbt.Data[ch] += float32(sb)
		}
	}
}

// normGrad is the backward loop of a group normalisation, over chunks of
// l.chunk units: it computes the partial sums and, if l.dx is set, the
// input gradient.
type normGrad normLoop

func (l *normGrad) Run(c0, c1 int) {
	groups, c, s := l.groups, l.c, l.s
	cg := c / groups
	ln := cg * s
	xd, gy, gd, bd := l.x, l.dy, l.gamma, l.beta
	for u := c0 * l.chunk; u < min(c1*l.chunk, l.n*groups); u++ {
		st := l.stats[4*u : 4*u+4]
		mean, rstd := normGet(st)
		gi, ni := u%groups, u/groups
		xb, dz := xd[u*ln:(u+1)*ln], gy[u*ln:(u+1)*ln]
		var s1, s2 float64 // Σ γ·Σdz and Σ γ·Σ dz·(x-mean) over the group
		if l.silu {
			k := u / l.chunk // the scratch row of this unit's chunk
			dz = l.dz[k*ln : (k+1)*ln]
		}
		for ci := 0; ci < cg; ci++ {
			ch := gi*cg + ci
			xc, gyc, dzc := xb[ci*s:(ci+1)*s], gy[u*ln+ci*s:u*ln+(ci+1)*s], dz[ci*s:(ci+1)*s]
			var a, b float64 // Σdz and Σ dz·(x-mean) over the channel
			if l.silu {
				// dz = dy·SiLU'(z), with z recomputed exactly as forward.
				k := normSiLUConsts(st, rstd, gd, bd, ch)
				a, b = normSiLUGradRow(dzc, gyc, xc, &k)
			} else {
				a = reduceSum(dzc)
				b = reduceDot(dzc, xc) - mean*a
			}
			gm := 1.0
			if gd != nil {
				gm = float64(gd[ch])
			}
			s1 += gm * a
			s2 += gm * b
			if l.part != nil {
				k := 2 * (ni*c + ch)
				l.part[k] = rstd * b
				l.part[k+1] = a
			}
		}
		if l.dx == nil {
			continue
		}
		// dx = rstd*(γ dz - mean(γ dz) - x̂ mean(γ dz x̂))
		//    = A·dz + B·(x-mean) + C, with the mean subtracted
		// first so that a large mean cancels no digits.
		m1 := s1 / float64(ln)
		m2 := rstd * s2 / float64(ln)
		bb := float32(-rstd * rstd * m2)
		cc := float32(-rstd * m1)
		for ci := 0; ci < cg; ci++ {
			gm := 1.0
			if gd != nil {
				gm = float64(gd[gi*cg+ci])
			}
			k := [5]float32{st[0], st[1], float32(rstd * gm), bb, cc}
			dx := l.dx[u*ln+ci*s : u*ln+(ci+1)*s]
			if l.fresh {
				clear(dx)
			}
			normDx(dx, dz[ci*s:(ci+1)*s], xb[ci*s:(ci+1)*s], &k)
		}
	}
}

// The row kernels below are separate small functions so that the compiler
// keeps their loops in registers.

// normAffineRow writes x*sc + sh to dst.
func normAffineRow(dst, x []float32, sc, sh float64) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = float32(float64(v)*sc + sh)
	}
}

// normDxRow adds a·dz + b·(x-mean) + c into dst.
func normDxRow(dst, dz, x []float32, mean, a, b, c float64) {
	dz, x = dz[:len(dst)], x[:len(dst)]
	for i := range dst {
		dst[i] += float32(a*float64(dz[i]) + b*(float64(x[i])-mean) + c)
	}
}

// normSiLUConsts returns the constants of normSiLURow for channel ch: the
// mean as stored in st (a float32 pair), the scale rstd·γ and the shift β.
func normSiLUConsts(st []float32, rstd float64, gamma, beta []float32, ch int) [4]float32 {
	gm, bt := float32(1), float32(0)
	if gamma != nil {
		gm = gamma[ch]
	}
	if beta != nil {
		bt = beta[ch]
	}
	return [4]float32{st[0], st[1], float32(rstd * float64(gm)), bt}
}

// normStats returns the mean and 1/sqrt(variance+eps) of x, in float64.
// With the assembly kernels it takes one pass, summing x and x² (products
// of float32 values are exact in float64, so E[x²]-mean² loses only about
// log10(mean²/variance) of float64's 16 digits); the Go code takes two
// passes, the second summing squared deviations.
func normStats(x []float32, eps float32) (mean, rstd float64) {
	if vexpPath != kernel.Generic {
		s, q := vecSumSq(x)
		mean = s / float64(len(x))
		v := max(0, q/float64(len(x))-mean*mean)
		return mean, 1 / math.Sqrt(v+float64(eps))
	}
	mean = reduceSum(x) / float64(len(x))
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		d0 := float64(v[0]) - mean
		d1 := float64(v[1]) - mean
		d2 := float64(v[2]) - mean
		d3 := float64(v[3]) - mean
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(x); i++ {
		d := float64(x[i]) - mean
		s0 += d * d
	}
	v := ((s0 + s1) + (s2 + s3)) / float64(len(x))
	return mean, 1 / math.Sqrt(v+float64(eps))
}

// normAffine returns the per-channel scale and shift that apply the
// normalisation and the affine transform: y = x*scale + shift, evaluated in
// float64 so that a large mean does not cancel digits away.
func normAffine(mean, rstd float64, gamma, beta []float32, ch int) (scale, shift float64) {
	gm, bt := 1.0, 0.0
	if gamma != nil {
		gm = float64(gamma[ch])
	}
	if beta != nil {
		bt = float64(beta[ch])
	}
	sc := rstd * gm
	return sc, bt - mean*sc
}

// normPut stores mean and rstd as float32 (high, low) pairs, about 48 bits
// each. The forward pass uses the values normGet reads back too, so that the
// backward pass recomputes exactly its scale and shift.
func normPut(dst []float32, mean, rstd float64) {
	dst = dst[:4]
	dst[0] = float32(mean)
	dst[1] = float32(mean - float64(dst[0]))
	dst[2] = float32(rstd)
	dst[3] = float32(rstd - float64(dst[2]))
}

func normGet(src []float32) (mean, rstd float64) {
	src = src[:4]
	return float64(src[0]) + float64(src[1]), float64(src[2]) + float64(src[3])
}

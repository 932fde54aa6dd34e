package ag

import (
	"fmt"
	"math"
	"sync"

	"github.com/degradiff/degradiff/engine/tensor"
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
	tensor.Check(groups > 0 && c%groups == 0, op, fmt.Sprintf("%d channels do not split into %d groups", c, groups), shape)
	var gd, bd []float32
	if gamma != nil {
		tensor.Check(len(gamma.Value.Data) == c, op, "gamma needs C elements", shape, gamma.Value.Shape)
		gd = gamma.Value.Data
	}
	if beta != nil {
		tensor.Check(len(beta.Value.Data) == c, op, "beta needs C elements", shape, beta.Value.Shape)
		bd = beta.Value.Data
	}
	s := tensor.Numel(shape[2:])
	cg := c / groups
	l := cg * s // elements per (sample, group), contiguous
	units := n * groups
	out := g.AllocUninit(shape...)
	y := g.Result(out, x, gamma, beta)
	var stats []float32
	if y.requiresGrad {
		stats = g.AllocUninit(4 * units).Data
	}
	xd, od := x.Value.Data, out.Data
	grain := max(1, ewGrain/max(1, l))
	parallel.For(units, grain, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			blk := xd[u*l : (u+1)*l]
			// Round the statistics to what the backward pass will read.
			var st [4]float32
			mean, rstd := normStats(blk, eps)
			normPut(st[:], mean, rstd)
			mean, rstd = normGet(st[:])
			if stats != nil {
				copy(stats[4*u:4*u+4], st[:])
			}
			gi := u % groups
			for ci := 0; ci < cg; ci++ {
				src := blk[ci*s : (ci+1)*s]
				dst := od[u*l+ci*s : u*l+(ci+1)*s]
				if silu {
					k := normSiLUConsts(st[:], rstd, gd, bd, gi*cg+ci)
					normSiLURow(dst, src, &k)
				} else {
					sc, sh := normAffine(mean, rstd, gd, bd, gi*cg+ci)
					normAffineRow(dst, src, sc, sh)
				}
			}
		}
	})
	g.Record(y, func() {
		gx := g.GradOf(x)
		var ggm, gbt *tensor.Tensor
		if gamma != nil {
			ggm = g.GradOf(gamma)
		}
		if beta != nil {
			gbt = g.GradOf(beta)
		}
		gy := y.Grad.Data
		// Per-(sample, channel) partials of dgamma and dbeta, added over the
		// samples in order afterwards.
		var part []float64
		var partBuf *[]float64
		if ggm != nil || gbt != nil {
			partBuf = reduceScratch(2 * n * c)
			part = *partBuf
		}
		parallel.For(units, grain, func(lo, hi int) {
			var dzBuf *[]float32
			if silu {
				dzBuf = normScratch(l)
				defer normScratchPool.Put(dzBuf)
			}
			for u := lo; u < hi; u++ {
				st := stats[4*u : 4*u+4]
				mean, rstd := normGet(st)
				gi, ni := u%groups, u/groups
				xb, dz := xd[u*l:(u+1)*l], gy[u*l:(u+1)*l]
				var s1, s2 float64 // Σ γ·Σdz and Σ γ·Σ dz·(x-mean) over the group
				if silu {
					dz = (*dzBuf)[:l]
				}
				for ci := 0; ci < cg; ci++ {
					ch := gi*cg + ci
					xc, gyc, dzc := xb[ci*s:(ci+1)*s], gy[u*l+ci*s:u*l+(ci+1)*s], dz[ci*s:(ci+1)*s]
					var a, b float64 // Σdz and Σ dz·(x-mean) over the channel
					if silu {
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
					if part != nil {
						k := 2 * (ni*c + ch)
						part[k] = rstd * b
						part[k+1] = a
					}
				}
				if gx == nil {
					continue
				}
				// dx = rstd*(γ dz - mean(γ dz) - x̂ mean(γ dz x̂))
				//    = A·dz + B·(x-mean) + C, with the mean subtracted
				// first so that a large mean cancels no digits.
				m1 := s1 / float64(l)
				m2 := rstd * s2 / float64(l)
				bb := float32(-rstd * rstd * m2)
				cc := float32(-rstd * m1)
				for ci := 0; ci < cg; ci++ {
					gm := 1.0
					if gd != nil {
						gm = float64(gd[gi*cg+ci])
					}
					k := [5]float32{st[0], st[1], float32(rstd * gm), bb, cc}
					normDx(gx.Data[u*l+ci*s:u*l+(ci+1)*s], dz[ci*s:(ci+1)*s], xb[ci*s:(ci+1)*s], &k)
				}
			}
		})
		if part == nil {
			return
		}
		for ch := 0; ch < c; ch++ {
			var sg, sb float64
			for ni := 0; ni < n; ni++ {
				k := 2 * (ni*c + ch)
				sg += part[k]
				sb += part[k+1]
			}
			if ggm != nil {
				ggm.Data[ch] += float32(sg)
			}
			if gbt != nil {
				gbt.Data[ch] += float32(sb)
			}
		}
		reduceScratchPool.Put(partBuf)
	})
	return y
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
	if vexpPath != vexpGo {
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

// normScratchPool holds float32 buffers for the fused backward pass.
var normScratchPool sync.Pool

func normScratch(n int) *[]float32 {
	if p, ok := normScratchPool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]float32, n)
	return &b
}

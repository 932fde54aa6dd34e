package ag

import (
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/parallel"
)

// resampleGrain is the minimum number of output elements per parallel chunk
// in the resampling loops: small copies do not pay for a goroutine.
const resampleGrain = 1 << 14

// rowsGrain returns a chunk size, in rows of rowLen elements, of about
// resampleGrain elements.
func rowsGrain(rowLen int) int { return max(1, resampleGrain/max(rowLen, 1)) }

// UpsampleNearest2x doubles the height and width of x [N, C, H, W] by
// repeating every pixel 2x2, as PyTorch's interpolate(scale_factor=2,
// mode="nearest"). The result is [N, C, 2H, 2W].
func (g *Graph) UpsampleNearest2x(x *Var) *Var {
	xs := x.Value.Shape
	tensor.Check(len(xs) == 4, "UpsampleNearest2x", "want x [N,C,H,W]", xs)
	n, c, h, w := xs[0], xs[1], xs[2], xs[3]
	y := g.AllocUninit(n, c, 2*h, 2*w)
	xd, yd := x.Value.Data, y.Data
	rows := n * c * h
	// Input row r (plane p, row iy) becomes output rows 2r and 2r+1, since
	// output row index p*2h + 2iy = 2r.
	parallel.For(rows, rowsGrain(4*w), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			src := xd[r*w : r*w+w]
			o0 := yd[2*r*2*w : (2*r+1)*2*w]
			o1 := yd[(2*r+1)*2*w : (2*r+2)*2*w]
			for i, v := range src {
				o0[2*i], o0[2*i+1] = v, v
				o1[2*i], o1[2*i+1] = v, v
			}
		}
	})
	res := g.Result(y, x)
	if !res.requiresGrad {
		return res
	}
	g.Record(res, func() {
		dx := g.GradOf(x)
		if dx == nil {
			return
		}
		dxd, dy := dx.Data, res.Grad.Data
		parallel.For(rows, rowsGrain(4*w), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				d := dxd[r*w : r*w+w]
				g0 := dy[2*r*2*w : (2*r+1)*2*w]
				g1 := dy[(2*r+1)*2*w : (2*r+2)*2*w]
				for i := range d {
					d[i] += g0[2*i] + g0[2*i+1] + g1[2*i] + g1[2*i+1]
				}
			}
		})
	})
	return res
}

// AvgPool2d averages x [N, C, H, W] over non-overlapping k x k windows
// (kernel = stride = k, no padding), as PyTorch's avg_pool2d(x, k). Rows and
// columns beyond the last whole window are dropped, so the result is
// [N, C, H/k, W/k] rounded down.
func (g *Graph) AvgPool2d(x *Var, k int) *Var {
	xs := x.Value.Shape
	tensor.Check(len(xs) == 4, "AvgPool2d", "want x [N,C,H,W]", xs)
	tensor.Check(k >= 1 && xs[2] >= k && xs[3] >= k, "AvgPool2d", "kernel must be >= 1 and fit the input", xs, []int{k})
	n, c, h, w := xs[0], xs[1], xs[2], xs[3]
	ho, wo := h/k, w/k
	y := g.AllocUninit(n, c, ho, wo)
	xd, yd := x.Value.Data, y.Data
	inv := 1 / float32(k*k)
	rows := n * c * ho
	parallel.For(rows, rowsGrain(k*w), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			p, oy := r/ho, r%ho
			out := yd[r*wo : r*wo+wo]
			for ox := range out {
				var s float32
				for ky := 0; ky < k; ky++ {
					base := (p*h+oy*k+ky)*w + ox*k
					for _, v := range xd[base : base+k] {
						s += v
					}
				}
				out[ox] = s * inv
			}
		}
	})
	res := g.Result(y, x)
	if !res.requiresGrad {
		return res
	}
	g.Record(res, func() {
		dx := g.GradOf(x)
		if dx == nil {
			return
		}
		dxd, dy := dx.Data, res.Grad.Data
		// Each output row owns k whole input rows: disjoint writes.
		parallel.For(rows, rowsGrain(k*w), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				p, oy := r/ho, r%ho
				gr := dy[r*wo : r*wo+wo]
				for ky := 0; ky < k; ky++ {
					base := (p*h + oy*k + ky) * w
					d := dxd[base : base+wo*k]
					for ox, gv := range gr {
						gv *= inv
						win := d[ox*k : ox*k+k]
						for i := range win {
							win[i] += gv
						}
					}
				}
			}
		})
	})
	return res
}

// PixelShuffle rearranges x [N, C*r*r, H, W] into [N, C, H*r, W*r], as
// PyTorch's pixel_shuffle: out[n, c, h*r+i, w*r+j] = x[n, c*r*r+i*r+j, h, w].
func (g *Graph) PixelShuffle(x *Var, r int) *Var {
	xs := x.Value.Shape
	tensor.Check(len(xs) == 4 && r >= 1 && xs[1]%(r*r) == 0, "PixelShuffle", "want x [N, C*r*r, H, W]", xs, []int{r})
	n, c, h, w := xs[0], xs[1]/(r*r), xs[2], xs[3]
	y := g.AllocUninit(n, c, h*r, w*r)
	shuffleToHigh(y.Data, x.Value.Data, n, c, h, w, r, false)
	res := g.Result(y, x)
	if !res.requiresGrad {
		return res
	}
	g.Record(res, func() {
		if dx := g.GradOf(x); dx != nil {
			shuffleToLow(dx.Data, res.Grad.Data, n, c, h, w, r, true)
		}
	})
	return res
}

// PixelUnshuffle is the inverse of PixelShuffle: it rearranges
// x [N, C, H*r, W*r] into [N, C*r*r, H, W], as PyTorch's pixel_unshuffle.
func (g *Graph) PixelUnshuffle(x *Var, r int) *Var {
	xs := x.Value.Shape
	tensor.Check(len(xs) == 4 && r >= 1 && xs[2]%r == 0 && xs[3]%r == 0, "PixelUnshuffle", "want x [N, C, H*r, W*r]", xs, []int{r})
	n, c, h, w := xs[0], xs[1], xs[2]/r, xs[3]/r
	y := g.AllocUninit(n, c*r*r, h, w)
	shuffleToLow(y.Data, x.Value.Data, n, c, h, w, r, false)
	res := g.Result(y, x)
	if !res.requiresGrad {
		return res
	}
	g.Record(res, func() {
		if dx := g.GradOf(x); dx != nil {
			shuffleToHigh(dx.Data, res.Grad.Data, n, c, h, w, r, true)
		}
	})
	return res
}

// shuffleToHigh sets (or, with add, adds into) the high-resolution tensor
// hi [n, c, h*r, w*r] from lo [n, c*r*r, h, w] under the pixel-shuffle
// correspondence hi[n, c, y*r+i, x*r+j] = lo[n, c*r*r+i*r+j, y, x].
// Each unit (n, c, y, i) writes one row of hi.
func shuffleToHigh(hi, lo []float32, n, c, h, w, r int, add bool) {
	units := n * c * h * r
	wr := w * r
	parallel.For(units, rowsGrain(wr), func(u0, u1 int) {
		for u := u0; u < u1; u++ {
			// u = ((nc*h)+y)*r + i, and hi's row index is nc*h*r + y*r + i = u.
			i := u % r
			y := (u / r) % h
			nc := u / (r * h)
			dst := hi[u*wr : u*wr+wr]
			for j := 0; j < r; j++ {
				base := ((nc*r*r+i*r+j)*h + y) * w
				src := lo[base : base+w]
				if add {
					for x, v := range src {
						dst[x*r+j] += v
					}
				} else {
					for x, v := range src {
						dst[x*r+j] = v
					}
				}
			}
		}
	})
}

// shuffleToLow is the reverse of shuffleToHigh: it sets (or adds into) lo
// from hi. Each unit (n, c, y, i) writes rows y of the r channels
// c*r*r+i*r+j of lo.
func shuffleToLow(lo, hi []float32, n, c, h, w, r int, add bool) {
	units := n * c * h * r
	wr := w * r
	parallel.For(units, rowsGrain(wr), func(u0, u1 int) {
		for u := u0; u < u1; u++ {
			i := u % r
			y := (u / r) % h
			nc := u / (r * h)
			src := hi[u*wr : u*wr+wr]
			for j := 0; j < r; j++ {
				base := ((nc*r*r+i*r+j)*h + y) * w
				dst := lo[base : base+w]
				if add {
					for x := range dst {
						dst[x] += src[x*r+j]
					}
				} else {
					for x := range dst {
						dst[x] = src[x*r+j]
					}
				}
			}
		}
	})
}

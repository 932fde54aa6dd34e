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
	rows := n * c * h
	parallel.Loop(rows, rowsGrain(4*w), upsampleLoop{w: w, x: x.Value.Data, y: y.Data})
	res := g.Result(y, x)
	if res.requiresGrad {
		nd := New[upsampleNode](g)
		*nd = upsampleNode{x: x, y: res, rows: rows}
		g.RecordNode(res, nd)
	}
	return res
}

// upsampleNode is the tape node of UpsampleNearest2x.
type upsampleNode struct {
	x, y *Var
	rows int
}

func (n *upsampleNode) Backward(g *Graph) {
	if dx := g.GradOf(n.x); dx != nil {
		w := n.x.Value.Shape[3]
		parallel.Loop(n.rows, rowsGrain(4*w), upsampleLoop{w: w, dx: dx.Data, dy: n.y.Grad.Data})
	}
}

// upsampleLoop repeats input rows [lo, hi) of width w into output rows 2r
// and 2r+1 of y (output row index p*2h + 2iy = 2r for input row r, plane p
// and row iy), or, when dy is set, adds the four gradients of each input
// pixel into dx.
type upsampleLoop struct {
	w            int
	x, y, dx, dy []float32
}

func (l *upsampleLoop) Run(lo, hi int) {
	w := l.w
	for r := lo; r < hi; r++ {
		if l.dy != nil {
			d := l.dx[r*w : r*w+w]
			g0 := l.dy[2*r*2*w : (2*r+1)*2*w]
			g1 := l.dy[(2*r+1)*2*w : (2*r+2)*2*w]
			for i := range d {
				d[i] += g0[2*i] + g0[2*i+1] + g1[2*i] + g1[2*i+1]
			}
			continue
		}
		src := l.x[r*w : r*w+w]
		o0 := l.y[2*r*2*w : (2*r+1)*2*w]
		o1 := l.y[(2*r+1)*2*w : (2*r+2)*2*w]
		for i, v := range src {
			o0[2*i], o0[2*i+1] = v, v
			o1[2*i], o1[2*i+1] = v, v
		}
	}
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
	l := poolLoop{k: k, h: h, w: w, ho: h / k, wo: w / k}
	y := g.AllocUninit(n, c, l.ho, l.wo)
	l.x, l.y = x.Value.Data, y.Data
	rows := n * c * l.ho
	parallel.Loop(rows, rowsGrain(k*w), l)
	res := g.Result(y, x)
	if res.requiresGrad {
		l.x, l.y = nil, nil
		nd := New[poolNode](g)
		*nd = poolNode{x: x, y: res, l: l, rows: rows}
		g.RecordNode(res, nd)
	}
	return res
}

// poolNode is the tape node of AvgPool2d.
type poolNode struct {
	x, y *Var
	l    poolLoop
	rows int
}

func (n *poolNode) Backward(g *Graph) {
	if dx := g.GradOf(n.x); dx != nil {
		l := n.l
		l.dx, l.dy = dx.Data, n.y.Grad.Data
		// Each output row owns k whole input rows: disjoint writes.
		parallel.Loop(n.rows, rowsGrain(l.k*l.w), l)
	}
}

// poolLoop averages the windows of output rows [lo, hi) of x into y, or,
// when dy is set, spreads their gradients over the windows in dx.
type poolLoop struct {
	k, h, w, ho, wo int
	x, y, dx, dy    []float32
}

func (l *poolLoop) Run(lo, hi int) {
	k, h, w, ho, wo := l.k, l.h, l.w, l.ho, l.wo
	inv := 1 / float32(k*k)
	for r := lo; r < hi; r++ {
		p, oy := r/ho, r%ho
		if l.dy != nil {
			gr := l.dy[r*wo : r*wo+wo]
			for ky := 0; ky < k; ky++ {
				base := (p*h + oy*k + ky) * w
				d := l.dx[base : base+wo*k]
				for ox, gv := range gr {
					gv *= inv
					win := d[ox*k : ox*k+k]
					for i := range win {
						win[i] += gv
					}
				}
			}
			continue
		}
		out := l.y[r*wo : r*wo+wo]
		for ox := range out {
			var s float32
			for ky := 0; ky < k; ky++ {
				base := (p*h+oy*k+ky)*w + ox*k
				for _, v := range l.x[base : base+k] {
					s += v
				}
			}
			out[ox] = s * inv
		}
	}
}

// PixelShuffle rearranges x [N, C*r*r, H, W] into [N, C, H*r, W*r], as
// PyTorch's pixel_shuffle: out[n, c, h*r+i, w*r+j] = x[n, c*r*r+i*r+j, h, w].
func (g *Graph) PixelShuffle(x *Var, r int) *Var {
	xs := x.Value.Shape
	tensor.Check(len(xs) == 4 && r >= 1 && xs[1]%(r*r) == 0, "PixelShuffle", "want x [N, C*r*r, H, W]", xs, []int{r})
	l := shuffleLoop{n: xs[0], c: xs[1] / (r * r), h: xs[2], w: xs[3], r: r}
	y := g.AllocUninit(l.n, l.c, l.h*r, l.w*r)
	shuffle(g, l, y.Data, x.Value.Data, toHigh, false)
	return g.recordShuffle(x, y, l, toLow)
}

// PixelUnshuffle is the inverse of PixelShuffle: it rearranges
// x [N, C, H*r, W*r] into [N, C*r*r, H, W], as PyTorch's pixel_unshuffle.
func (g *Graph) PixelUnshuffle(x *Var, r int) *Var {
	xs := x.Value.Shape
	tensor.Check(len(xs) == 4 && r >= 1 && xs[2]%r == 0 && xs[3]%r == 0, "PixelUnshuffle", "want x [N, C, H*r, W*r]", xs, []int{r})
	l := shuffleLoop{n: xs[0], c: xs[1], h: xs[2] / r, w: xs[3] / r, r: r}
	y := g.AllocUninit(l.n, l.c*r*r, l.h, l.w)
	shuffle(g, l, y.Data, x.Value.Data, toLow, false)
	return g.recordShuffle(x, y, l, toHigh)
}

// recordShuffle returns the result y of a pixel (un)shuffle of x, recorded
// with a backward pass that rearranges the gradient in direction back.
func (g *Graph) recordShuffle(x *Var, y *tensor.Tensor, l shuffleLoop, back shuffleDir) *Var {
	res := g.Result(y, x)
	if res.requiresGrad {
		nd := New[shuffleNode](g)
		*nd = shuffleNode{x: x, y: res, l: l, back: back}
		g.RecordNode(res, nd)
	}
	return res
}

// shuffleNode is the tape node of PixelShuffle and PixelUnshuffle.
type shuffleNode struct {
	x, y *Var
	l    shuffleLoop
	back shuffleDir
}

func (n *shuffleNode) Backward(g *Graph) {
	if dx := g.GradOf(n.x); dx != nil {
		shuffle(g, n.l, dx.Data, n.y.Grad.Data, n.back, true)
	}
}

// shuffleDir is the direction of a pixel-shuffle rearrangement.
type shuffleDir bool

const (
	toHigh shuffleDir = true  // from [n, c*r*r, h, w] to [n, c, h*r, w*r]
	toLow  shuffleDir = false // the reverse
)

// shuffleLoop rearranges between the high-resolution tensor
// hi [n, c, h*r, w*r] and lo [n, c*r*r, h, w] under the pixel-shuffle
// correspondence hi[n, c, y*r+i, x*r+j] = lo[n, c*r*r+i*r+j, y, x]. Each
// unit (n, c, y, i) is one row of hi.
type shuffleLoop struct {
	n, c, h, w, r int
	dir           shuffleDir
	add           bool
	dst, src      []float32
}

// shuffle sets (or, with add, adds into) dst from src in direction dir,
// for the geometry of l.
func shuffle(g *Graph, l shuffleLoop, dst, src []float32, dir shuffleDir, add bool) {
	l.dst, l.src, l.dir, l.add = dst, src, dir, add
	parallel.Loop(l.n*l.c*l.h*l.r, rowsGrain(l.w*l.r), l)
}

func (l *shuffleLoop) Run(u0, u1 int) {
	r, h, w := l.r, l.h, l.w
	wr := w * r
	for u := u0; u < u1; u++ {
		// u = ((nc*h)+y)*r + i, and hi's row index is nc*h*r + y*r + i = u.
		i := u % r
		y := (u / r) % h
		nc := u / (r * h)
		for j := 0; j < r; j++ {
			base := ((nc*r*r+i*r+j)*h + y) * w
			if l.dir == toHigh {
				dst, src := l.dst[u*wr:u*wr+wr], l.src[base:base+w]
				if l.add {
					for x, v := range src {
						dst[x*r+j] += v
					}
				} else {
					for x, v := range src {
						dst[x*r+j] = v
					}
				}
			} else {
				dst, src := l.dst[base:base+w], l.src[u*wr:u*wr+wr]
				if l.add {
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
	}
}

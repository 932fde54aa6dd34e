package conv

import (
	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/internal/parallel"
)

// Stride-1 convolutions in the BF16 precision on AMX tiles run as shifted
// products (gemm.Shifted): the source image is laid out once as bf16
// pairs of channels, zero-padded, each channel pair a plane of flattened
// padded rows; output pixel (oy, ox) is then column oy*wp + ox of the sum,
// over the kernel taps, of the weights of the tap times the planes shifted
// by the tap's offset ky*wp + kx. The tiles load the shifted planes
// straight from the layout, so no im2col panel is packed, and the source
// is converted to bf16 once rather than once per tap.
//
// Where the output rows are whole blocks of 32 pixels, each row's columns
// go straight into the output. Otherwise the columns of the flattened
// padded grid are computed in blocks of 32 (those in the padding columns
// too, which are dropped) into a buffer, and its rows copied out.
//
// The sums round as the tile unit rounds them (differently from the
// im2col product's blocks in the last bits); the bias is added in float32,
// where the im2col product rounds it to bf16. Which method runs depends on
// the shape and the precision only.

// shiftedMode forces the choice in tests and benchmarks: 0 chooses the
// shifted product where it runs on tiles, 1 wherever the shape allows it
// (in Go elsewhere: slow, for tests), -1 never. Read when a call starts.
var shiftedMode = 0

// SetShifted turns the shifted products on (where they run on AMX tiles,
// the default) or off (im2col products) for later calls, and returns a
// function that restores the previous setting: for benchmarks that
// compare the two in one run.
func SetShifted(on bool) (restore func()) {
	old := shiftedMode
	shiftedMode = 0
	if !on {
		shiftedMode = -1
	}
	return func() { shiftedMode = old }
}

// shifted reports whether a convolution of stride stride whose source has
// srcC channels runs as a shifted product: the depth of each tap's product
// must be whole blocks of 32 channels.
func shifted(stride, srcC int) bool {
	if stride != 1 || srcC%32 != 0 || srcC == 0 || shiftedMode < 0 {
		return false
	}
	return shiftedMode > 0 || gemm.ShiftedTiles()
}

// shiftGeom is the geometry of a shifted convolution's source: c channels
// of h x w, padded by pad on each side to hp x wp, under a k x k kernel
// with ho x wo outputs; planes ldb pairs apart.
type shiftGeom struct {
	c, h, w, pad, k int
	hp, wp, ho, wo  int
	ldb             int
	flat            bool // output rows are not whole blocks of 32
}

func newShiftGeom(c, h, w, pad, k int) shiftGeom {
	g := shiftGeom{c: c, h: h, w: w, pad: pad, k: k, hp: h + 2*pad, wp: w + 2*pad}
	g.ho, g.wo = g.hp-k+1, g.wp-k+1
	g.ldb = g.hp * g.wp
	g.flat = g.wo%32 != 0
	return g
}

// size is the length of the laid-out source: the planes, then the columns
// that the last blocks of 32 read past the last plane (zeros).
func (g shiftGeom) size() int { return g.c/2*g.ldb + (g.k-1)*(g.wp+1) + 64 }

// flatStride is the row length of the buffer of flat outputs.
func (g shiftGeom) flatStride() int { return (g.ho*g.wp + 31) / 32 * 32 }

// prepareShifted records the source geometry of a shifted convolution of
// out channels and packs its weights: tap t's matrix has element (o, ci) at
// weights[(o*c+ci)*kk+t].
func (j *job) prepareShifted(c, h, w, pad, out int, weights []float32) {
	k := j.g.K
	kk := k * k
	j.shift, j.sg = true, newShiftGeom(c, h, w, pad, k)
	// Each tap's matrix as contiguous rows first, which pack fastest.
	grow(&j.wtap, out*c*kk)
	gemm.Transpose(j.wtap, out*c, weights, kk, out*c, kk)
	grow(&j.sa, gemm.ShiftedASize(out, c, kk))
	gemm.PackShiftedA(j.sa, j.wtap, out, c, kk, c, 1, out*c)
	grow(&j.soffs, kk)
	for t := range kk {
		j.soffs[t] = t/k*j.sg.wp + t%k
	}
	grow(&j.chanOffs, c)
	for ci := range j.chanOffs {
		j.chanOffs[ci] = ci * h * w
	}
}

// shiftImage computes one image of a shifted convolution: dst (out x ho x
// wo) = the convolution of src + bias, plus beta*dst (beta 0 or 1).
func (j *job) shiftImage(ws *workspace, src []float32, out int, bias, dst []float32, beta float32, serial bool) {
	g := j.sg
	growShared(&ws.pairs, g.size(), &most.pairs)
	ws.sh = gemm.Shifted{M: out, K: g.c, A: j.sa, Offs: j.soffs, B: ws.pairs, LDB: g.ldb, Bias: bias}
	loop := shiftLoop{j: j, ws: ws, src: src, dst: dst, beta: beta}
	run := func(op, n int) {
		loop.op = op
		if serial {
			loop.Run(0, n)
			return
		}
		parallel.Loop(n, 1, loop)
	}
	clear(ws.pairs[g.c/2*g.ldb : g.size()])
	run(shiftLayout, g.hp)
	if !g.flat {
		run(shiftRows, g.ho)
		return
	}
	growShared(&ws.flat, out*g.flatStride(), &most.flat)
	run(shiftBlocks, g.flatStride()/32)
	run(shiftStrip, out)
}

// The stages of a shifted convolution's image.
const (
	shiftLayout = iota // padded rows of the source into bf16 pair planes
	shiftRows          // output rows straight into dst
	shiftBlocks        // blocks of 32 flattened columns into ws.flat
	shiftStrip         // output channels' rows from ws.flat into dst
)

// shiftLoop runs one stage of shiftImage over its units (parallel.Body);
// every unit writes its own values, so the result does not depend on how
// the units are shared out.
type shiftLoop struct {
	op       int
	j        *job
	ws       *workspace
	src, dst []float32
	beta     float32
}

// Run implements parallel.Body: units lo to hi-1.
func (l *shiftLoop) Run(lo, hi int) {
	g, ws := l.j.sg, l.ws
	sh := &ws.sh
	for u := lo; u < hi; u++ {
		switch l.op {
		case shiftLayout: // u: padded row
			y := u - g.pad
			for cp := range g.c / 2 {
				row := ws.pairs[cp*g.ldb+u*g.wp:][:g.wp]
				if y < 0 || y >= g.h {
					clear(row)
					continue
				}
				clear(row[:g.pad])
				clear(row[g.pad+g.w:])
			}
			if y >= 0 && y < g.h {
				gemm.GatherRowsPairs(ws.pairs[u*g.wp+g.pad:], g.ldb, l.src[y*g.w:], l.j.chanOffs, g.w)
			}
		case shiftRows: // u: output row
			sh.Mul(l.dst[u*g.wo:], g.ho*g.wo, u*g.wp, g.wo, l.beta)
		case shiftBlocks: // u: block of 32 flattened columns
			ld := g.flatStride()
			sh.Mul(ws.flat[32*u:], ld, 32*u, 32, 0)
		case shiftStrip: // u: output channel
			ld := g.flatStride()
			for oy := range g.ho {
				from := ws.flat[u*ld+oy*g.wp:][:g.wo]
				to := l.dst[(u*g.ho+oy)*g.wo:][:g.wo]
				if l.beta == 0 {
					copy(to, from)
				} else {
					gemm.Axpy(1, from, to)
				}
			}
		}
	}
}

package conv

import (
	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/internal/parallel"
)

// Stride-1 convolutions in the BF16 precision on AMX tiles run as shifted
// products (gemm.Shifted): the source image is laid out once as bf16
// pairs of channels, zero-padded; output pixel (oy, ox) is then a column
// of the sum, over the kernel taps, of the weights of the tap times the
// layout shifted by the tap's offset. The tiles load the shifted pair rows
// straight from the layout, so no im2col panel is packed, and the source
// is converted to bf16 once rather than once per tap.
//
// Where the output rows are whole blocks of 32 pixels, each row's columns
// go straight into the output, and the layout keeps each padded row's
// channel pairs together (row yp, pair cp at (yp*c/2 + cp)*wp): the 16 pair
// rows a tile loads then lie a row of pixels apart, a few pages in all,
// rather than a whole plane apart (measured faster: fewer TLB misses).
// Otherwise each channel pair is a plane of flattened padded rows, output
// pixel (oy, ox) is column oy*wp + ox, and the columns of the flattened
// grid are computed in blocks of 32 (those in the padding columns too,
// which are dropped) into a buffer whose rows are then copied out.
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
func SetShifted(on bool) (restore func()) { return setMode(&shiftedMode, on) }

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
// with ho x wo outputs.
type shiftGeom struct {
	c, h, w, pad, k int
	hp, wp, ho, wo  int
	flat            bool // output rows are not whole blocks of 32
	// Padded row yp, channel pair cp, column x of the layout is at
	// yp*rowStep + cp*pairStep + x.
	rowStep, pairStep int
}

func newShiftGeom(c, h, w, pad, k int) shiftGeom {
	g := shiftGeom{c: c, h: h, w: w, pad: pad, k: k, hp: h + 2*pad, wp: w + 2*pad}
	g.ho, g.wo = g.hp-k+1, g.wp-k+1
	g.flat = g.wo%32 != 0
	g.rowStep, g.pairStep = c/2*g.wp, g.wp
	if g.flat {
		g.rowStep, g.pairStep = g.wp, g.hp*g.wp
	}
	return g
}

// size is the length of the laid-out source: the image, then the columns
// that the last blocks of 32 read past its end (zeros).
func (g shiftGeom) size() int { return g.c/2*g.hp*g.wp + (g.k-1)*(g.wp+1) + 64 }

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
		j.soffs[t] = t/k*j.sg.rowStep + t%k
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
	ws.sh = gemm.Shifted{M: out, K: g.c, A: j.sa, Offs: j.soffs, B: ws.pairs, LDB: g.pairStep, Bias: bias}
	loop := shiftLoop{j: j, ws: ws, src: src, dst: dst, beta: beta}
	clear(ws.pairs[g.c/2*g.hp*g.wp : g.size()])
	loop.run(shiftLayout, g.hp, serial)
	if !g.flat {
		loop.run(shiftRows, g.ho, serial)
		return
	}
	growShared(&ws.flat, out*g.flatStride(), &most.flat)
	loop.run(shiftBlocks, g.flatStride()/32, serial)
	loop.run(shiftStrip, out, serial)
}

// run runs stage op over n units, on this goroutine when serial.
func (l shiftLoop) run(op, n int, serial bool) {
	l.op = op
	if serial {
		l.Run(0, n)
		return
	}
	parallel.Loop(n, 1, l)
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
				row := ws.pairs[u*g.rowStep+cp*g.pairStep:][:g.wp]
				if y < 0 || y >= g.h {
					clear(row)
					continue
				}
				clear(row[:g.pad])
				clear(row[g.pad+g.w:])
			}
			if y >= 0 && y < g.h {
				gemm.GatherRowsPairs(ws.pairs[u*g.rowStep+g.pad:], g.pairStep, l.src[y*g.w:], l.j.chanOffs, g.w)
			}
		case shiftRows: // u: output row
			sh.Mul(l.dst[u*g.wo:], g.ho*g.wo, u*g.rowStep, g.wo, l.beta)
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

// The weight gradient of a shifted convolution is, tap by tap, a product
// whose depth runs over the output pixels: dW_t = dY * X_t^T, where X_t is
// the padded image shifted by the tap's offset. Both factors go to the
// tiles in bf16 pairs along the pixels: dY on the flattened grid of row
// pitch wq (zero in the padding columns), packed as tiles load it
// (gemm.PackShiftedA), and the image channel last with its rows of pixels
// paired (pe: pixels 2r and 2r+1; po: 2r+1 and 2r+2, for taps at odd
// offsets). Each tap's product, a gemm.Shifted of one shift, reads its
// factor straight from pe or po at the row of its offset.

// gradGeom is the geometry of a shifted weight gradient.
type gradGeom struct {
	wq   int // row pitch: padded width rounded up to even
	r    int // pixel pairs summed: the flattened output grid in blocks of 32
	rx   int // pair rows of pe and po: r and the largest tap offset
	npix int // pixels of the channel-last image
	pass int // pixel pairs of one pass of the products (a multiple of 16)
}

// prepareShiftedGrad records the geometry of a shifted weight gradient.
func (j *job) prepareShiftedGrad() {
	g := &j.g
	j.shift = true
	wp := g.W + 2*g.Pad
	gg := gradGeom{wq: wp + wp%2}
	gg.r = (g.ho*gg.wq + 31) / 32 * 16
	most := (g.K-1)*gg.wq + g.K - 1
	gg.rx = gg.r + most/2 + 1
	gg.npix = 2*gg.rx + 2
	// Equal passes of at most gradPassBytes of either factor.
	most = max(16, gradPassBytes/(4*max(g.Cin, g.Cout))/16*16)
	passes := (gg.r + most - 1) / most
	gg.pass = (gg.r/passes + 15) / 16 * 16
	j.gg = gg
	// soffs[t] is tap t's first element in pe or po.
	grow(&j.soffs, g.K*g.K)
	for t := range j.soffs {
		j.soffs[t] = (t/g.K*gg.wq + t%g.K) / 2 * g.Cin
	}
	grow(&j.chanOffs, 2*gg.rx)
	for i := range j.chanOffs {
		j.chanOffs[i] = i * g.Cin
	}
}

// shiftWeightImage sets (beta 0) or adds to (beta 1) the tap-major weight
// gradient dw (K*K matrices Cout x Cin) the contribution of one image.
func (j *job) shiftWeightImage(ws *workspace, x, dy, dw []float32, beta float32, serial bool) {
	g, gg := &j.g, j.gg
	lq := 2 * gg.r
	growShared(&ws.flat, gg.npix*g.Cin+g.Cout*lq, &most.flat)
	growShared(&ws.pairs, 2*gg.rx*g.Cin+g.Cout*gg.r, &most.pairs)
	xt := ws.flat[:gg.npix*g.Cin]
	grid := ws.flat[gg.npix*g.Cin:][:g.Cout*lq]
	pe := ws.pairs[:gg.rx*g.Cin]
	po := ws.pairs[gg.rx*g.Cin : 2*gg.rx*g.Cin]
	dyp := ws.pairs[2*gg.rx*g.Cin:][:g.Cout*gg.r]

	// The padded image, channel last (padding rows and columns zero), and
	// its pixels paired.
	loop := gradLoop{j: j, x: x, xt: xt, pe: pe, po: po, dyp: dyp, dw: dw}
	row := gg.wq * g.Cin
	clear(xt[:g.Pad*row])
	clear(xt[(g.Pad+g.H)*row:])
	loop.run(gradTranspose, g.H, serial)
	loop.run(gradPair, (gg.rx+gradRows-1)/gradRows, serial)

	// dY on the flattened grid, then packed in pairs along the pixels.
	for co := range g.Cout {
		gr := grid[co*lq:][:lq]
		for oy := range g.ho {
			seg := gr[oy*gg.wq:][:gg.wq]
			copy(seg, dy[(co*g.ho+oy)*g.wo:][:g.wo])
			clear(seg[g.wo:])
		}
		clear(gr[g.ho*gg.wq:])
	}
	gemm.PackShiftedA(dyp, grid, g.Cout, lq, 1, lq, 1, 0)

	// The taps' products over the pixels in passes, each pass's factors
	// shared by every tap while they are in cache; the passes add up in
	// order.
	for k0 := 0; k0 < gg.r; k0 += gg.pass {
		loop.k0, loop.kc, loop.beta = k0, min(gg.pass, gg.r-k0), beta
		if k0 > 0 {
			loop.beta = 1
		}
		loop.run(gradTaps, g.K*g.K, serial)
	}
}

// gradPassBytes bounds each factor of one pass of a shifted weight
// gradient's products, which every tap reads again from the L2 cache.
// Tests lower it to run several passes on small images.
var gradPassBytes = 1 << 20

// gradRows is the number of pixel-pair rows of pe and po paired at once.
const gradRows = 256

// The stages of a shifted weight gradient.
const (
	gradTranspose = iota // rows of the image, channel last, into xt
	gradPair             // blocks of gradRows pair rows of pe and po
	gradTaps             // taps' products over one pass of pixel pairs
)

// gradLoop runs one stage of a shifted weight gradient over its units
// (parallel.Body): every unit writes its own values.
type gradLoop struct {
	op          int
	j           *job
	x, xt       []float32
	pe, po, dyp []float32
	dw          []float32
	k0, kc      int // gradTaps: the pass's first pixel pair and its count
	beta        float32
}

// run runs stage op over n units, on this goroutine when serial.
func (l gradLoop) run(op, n int, serial bool) {
	l.op = op
	if serial {
		l.Run(0, n)
		return
	}
	parallel.Loop(n, 1, l)
}

// Run implements parallel.Body: units lo to hi-1.
func (l *gradLoop) Run(lo, hi int) {
	g, gg := &l.j.g, l.j.gg
	row := gg.wq * g.Cin
	for u := lo; u < hi; u++ {
		switch l.op {
		case gradTranspose: // u: image row
			line := l.xt[(u+g.Pad)*row:][:row]
			clear(line[:g.Pad*g.Cin])
			clear(line[(g.Pad+g.W)*g.Cin:])
			gemm.Transpose(line[g.Pad*g.Cin:], g.Cin, l.x[u*g.W:], g.H*g.W, g.Cin, g.W)
		case gradPair: // u: block of pair rows
			r0 := u * gradRows
			offs := l.j.chanOffs[:2*(min(gg.rx, r0+gradRows)-r0)] // from row 2*r0 on
			gemm.GatherRowsPairs(l.pe[r0*g.Cin:], g.Cin, l.xt[2*r0*g.Cin:], offs, g.Cin)
			gemm.GatherRowsPairs(l.po[r0*g.Cin:], g.Cin, l.xt[(2*r0+1)*g.Cin:], offs, g.Cin)
		case gradTaps: // u: tap
			b := l.pe
			if k := g.K; (u/k*gg.wq+u%k)%2 == 1 {
				b = l.po
			}
			sh := gemm.Shifted{M: g.Cout, K: 2 * l.kc, A: l.dyp[l.k0*g.Cout:], Offs: l.j.soffs[u : u+1],
				B: b[l.k0*g.Cin:], LDB: g.Cin}
			sh.Mul(l.dw[u*g.Cout*g.Cin:], g.Cin, 0, g.Cin, l.beta)
		}
	}
}

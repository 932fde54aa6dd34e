package conv

import (
	"runtime"

	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/internal/parallel"
)

type opKind int

const (
	opForward opKind = iota
	opBackwardData
	opBackwardWeight
)

// A job is one call of Forward, BackwardData or BackwardWeight: its
// arguments and the tables shared by the goroutines working on it. Jobs are
// recycled through jobs so that the steady state allocates nothing.
type job struct {
	op opKind
	g  geom

	in, w, bias, out []float32 // x or dy; weights; bias; y, dx or dw
	dy, db           []float32 // BackwardWeight only

	// The source image of the implicit im2col: channels, rows, row length,
	// the zero padding added on each side and the stride of the
	// convolution. It is laid out padded and split into stride x stride
	// phase planes (rows y = i*stride+ry, columns x = j*stride+rx go to
	// plane (ry, rx) at (i, j)), so that the values under a kernel tap for
	// a run of output pixels are contiguous, whatever the stride.
	srcC, srcH, srcW, srcPad, srcStride int
	// Phase plane rows and row length.
	phH, phW int
	// offs[p] is the offset in the laid-out source of summation index p
	// (channel, ky, kx) for output pixel (0, 0); pixel (oy, ox) adds
	// oy*phW + ox.
	offs []int
	// wt holds the flipped, transposed weights of a stride-1 data gradient.
	wt []float32
	// wb holds the weights of a Forward im2col product with each row's
	// bias appended: a stored matrix, which the products pack fastest
	// (AMX tiles straight from its rows).
	wb []float32
	// BackwardWeight: the gradients of each group of images, and a row of
	// ones for the bias gradient sums.
	partial []float32
	dbSum   []float64
	ones    []float32
	// direct says BackwardData is a convolution of dy (stride 1).
	direct bool
	// set says BackwardData overwrites dx rather than adding into it.
	set bool
	// wino says the job runs Winograd's F(2x2, 3x3) (winograd.go) on the
	// source of geometry wg; u holds the transformed filters (Forward and
	// BackwardData).
	wino bool
	wg   winoGeom
	u    []float32
	// shift says the job runs shifted products (shifted.go) on the source
	// of geometry sg (a weight gradient: gg): the weights tap by tap
	// (wtap) and packed (sa), tap offsets soffs, and the offsets of the
	// source's channels (a weight gradient: of its pixel rows) for laying
	// it out.
	shift    bool
	sg       shiftGeom
	gg       gradGeom
	wtap, sa []float32
	soffs    []int
	chanOffs []int
}

// jobs recycles jobs without allocating (see parallel.FreeList).
var jobs parallel.FreeList[job]

func getJob(op opKind, g geom) *job {
	j := jobs.Get()
	j.op, j.g = op, g
	return j
}

func putJob(j *job) {
	j.in, j.w, j.bias, j.out, j.dy, j.db = nil, nil, nil, nil, nil, nil
	j.set = false
	jobs.Put(j)
}

// prepare fills the shared tables of j.
func (j *job) prepare() {
	g := &j.g
	j.wino, j.shift = false, false
	switch j.op {
	case opForward, opBackwardWeight:
		if winograd(g.K, g.Stride, g.Pad, g.N, g.Cin, g.Cout, g.ho, g.wo) {
			j.wino, j.wg = true, newWinoGeom(g.Cin, g.H, g.W, g.Pad)
			if j.op == opForward {
				grow(&j.u, 16*g.Cout*g.Cin)
				transformFilters(j.w, g.Cout, g.Cin, j.u)
			}
		}
		if j.op == opForward && !j.wino && !g.plain() && shifted(g.Stride, g.Cin) {
			j.prepareShifted(g.Cin, g.H, g.W, g.Pad, g.Cout, j.w)
			return
		}
		// A single image's weight gradient stays with im2col, whose
		// products split over the cores better (BenchmarkConvShifted/512).
		if j.op == opBackwardWeight && !j.wino && !g.plain() && g.N >= 2 && shifted(g.Stride, g.Cin) {
			j.prepareShiftedGrad()
		} else {
			j.setSource(g.Cin, g.H, g.W, g.Pad, g.Stride)
		}
		if j.op == opForward && !j.wino && !g.plain() && j.bias != nil {
			k := g.ckk + 1
			grow(&j.wb, g.Cout*k)
			for co := range g.Cout {
				row := j.wb[co*k : (co+1)*k]
				copy(row, j.w[co*g.ckk:(co+1)*g.ckk])
				row[g.ckk] = j.bias[co]
			}
		}
		if j.op == opBackwardWeight && j.db != nil {
			grow(&j.ones, g.how)
			for i := range j.ones {
				j.ones[i] = 1
			}
		}
	case opBackwardData:
		// With stride 1, dx is the convolution of dy, padded by K-1-Pad,
		// with the weights flipped and Cin and Cout swapped.
		j.direct = g.Stride == 1 && g.Pad <= g.K-1 && !g.plain()
		if !j.direct {
			return
		}
		j.setSource(g.Cout, g.ho, g.wo, g.K-1-g.Pad, 1)
		kk := g.K * g.K
		grow(&j.wt, g.Cin*g.Cout*kk)
		for co := 0; co < g.Cout; co++ {
			for ci := 0; ci < g.Cin; ci++ {
				src := j.w[(co*g.Cin+ci)*kk:][:kk]
				dst := j.wt[(ci*g.Cout+co)*kk:][:kk]
				for t := range dst {
					dst[t] = src[kk-1-t]
				}
			}
		}
		if winograd(g.K, 1, g.K-1-g.Pad, g.N, g.Cout, g.Cin, g.H, g.W) {
			j.wino, j.wg = true, newWinoGeom(g.Cout, g.ho, g.wo, g.K-1-g.Pad)
			grow(&j.u, 16*g.Cin*g.Cout)
			transformFilters(j.wt, g.Cin, g.Cout, j.u)
		} else if shifted(1, g.Cout) {
			j.prepareShifted(g.Cout, g.ho, g.wo, g.K-1-g.Pad, g.Cin, j.wt)
		}
	}
}

// setSource records the geometry of the im2col source and fills j.offs.
func (j *job) setSource(c, h, w, pad, stride int) {
	j.srcC, j.srcH, j.srcW, j.srcPad, j.srcStride = c, h, w, pad, stride
	j.phH = (h + 2*pad + stride - 1) / stride
	j.phW = (w + 2*pad + stride - 1) / stride
	if j.g.plain() {
		return // no im2col
	}
	k := j.g.K
	grow(&j.offs, c*k*k)
	p := 0
	for ci := 0; ci < c; ci++ {
		for ky := 0; ky < k; ky++ {
			for kx := 0; kx < k; kx++ {
				plane := (ci*stride+ky%stride)*stride + kx%stride
				j.offs[p] = (plane*j.phH+ky/stride)*j.phW + kx/stride
				p++
			}
		}
	}
}

// runImages runs Forward or BackwardData image by image: on several
// goroutines that take images in turn when there are images for each, or
// else one at a time with the products split over the cores. Each image
// writes only its own output, so the result is the same either way.
func (j *job) runImages() {
	workers := runtime.GOMAXPROCS(0)
	parts := min(workers, j.g.N)
	if parts < 2 {
		ws := getWorkspace()
		for n := 0; n < j.g.N; n++ {
			j.image(ws, n, false)
		}
		putWorkspace(ws)
		return
	}
	parallel.ForBody(j.g.N, 1, j)
}

// Run is the body of a parallel job (parallel.Body): images (or
// BackwardWeight's groups of images) lo to hi-1, each on this goroutine
// alone.
func (j *job) Run(lo, hi int) {
	ws := getWorkspace()
	for n := lo; n < hi; n++ {
		if j.op == opBackwardWeight {
			j.weightChunk(ws, n, true)
		} else {
			j.image(ws, n, true)
		}
	}
	putWorkspace(ws)
}

// image computes image n of a Forward or BackwardData job, its products on
// the calling goroutine alone when serial.
func (j *job) image(ws *workspace, n int, serial bool) {
	g := &j.g
	mul := gemm.MulOperands
	if serial {
		mul = gemm.MulOperandsSerial
	}
	hw := g.H * g.W
	switch j.op {
	case opForward:
		x := j.in[n*g.Cin*hw:][:g.Cin*hw]
		y := j.out[n*g.Cout*g.how:][:g.Cout*g.how]
		if j.wino {
			winoForward(ws, j.wg, x, j.u, g.Cout, j.bias, y, false, serial)
			return
		}
		if j.shift {
			j.shiftImage(ws, x, g.Cout, j.bias, y, 0, serial)
			return
		}
		if !g.plain() {
			// With a bias, the product gets one more summation index:
			// a column of biases in the weights and a row of ones in the
			// im2col matrix, so y is written once and never read.
			k := g.ckk
			ws.a = gemm.Dense{Data: j.w, Stride: g.ckk, XMajor: true}
			ws.col = j.colOperand(ws, x)
			if j.bias != nil {
				k++
				ws.col.ones = g.ckk
				ws.a = gemm.Dense{Data: j.wb[:g.Cout*k], Stride: k, XMajor: true}
			}
			mul(g.Cout, g.how, k, 1, &ws.a, &ws.col, 0, y, g.how)
			return
		}
		beta := float32(0)
		if j.bias != nil {
			for co := 0; co < g.Cout; co++ {
				row := y[co*g.how : (co+1)*g.how]
				for i := range row {
					row[i] = j.bias[co]
				}
			}
			beta = 1
		}
		ws.a = gemm.Dense{Data: j.w, Stride: g.ckk, XMajor: true}
		ws.b = gemm.Dense{Data: x, Stride: hw}
		mul(g.Cout, g.how, g.Cin, 1, &ws.a, &ws.b, beta, y, g.how)

	case opBackwardData:
		dy := j.in[n*g.Cout*g.how:][:g.Cout*g.how]
		dx := j.out[n*g.Cin*hw:][:g.Cin*hw]
		beta := float32(1) // dx += ..., or dx = ... when set
		if j.set {
			beta = 0
		}
		switch {
		case g.plain():
			// dx += W^T dy.
			ws.a = gemm.Dense{Data: j.w, Stride: g.Cin}
			ws.b = gemm.Dense{Data: dy, Stride: g.how}
			mul(g.Cin, hw, g.Cout, 1, &ws.a, &ws.b, beta, dx, hw)
		case j.wino:
			winoForward(ws, j.wg, dy, j.u, g.Cin, nil, dx, !j.set, serial)
		case j.shift:
			j.shiftImage(ws, dy, g.Cin, nil, dx, beta, serial)
		case j.direct:
			// dx += conv(pad(dy), flipped W^T), a stride-1 convolution
			// whose output is exactly H x W.
			ws.a = gemm.Dense{Data: j.wt, Stride: g.Cout * g.K * g.K, XMajor: true}
			ws.col = j.colOperand(ws, dy)
			ws.col.wo = g.W
			mul(g.Cin, hw, g.Cout*g.K*g.K, 1, &ws.a, &ws.col, beta, dx, hw)
		default:
			// col = W^T dy, then scatter-add col into dx.
			if j.set {
				clear(dx)
			}
			growShared(&ws.colBuf, g.ckk*g.how, &most.col)
			ws.a = gemm.Dense{Data: j.w, Stride: g.ckk}
			ws.b = gemm.Dense{Data: dy, Stride: g.how}
			mul(g.ckk, g.how, g.Cout, 1, &ws.a, &ws.b, 0, ws.colBuf, g.how)
			col2im(g, ws.colBuf, dx)
		}
	}
}

// colOperand lays src (one image of the job's source) out in ws and
// returns the im2col operand reading it.
func (j *job) colOperand(ws *workspace, src []float32) colOperand {
	return colOperand{src: j.layout(ws, src), offs: j.offs, wp: j.phW, wo: j.g.wo, ones: -1}
}

// layout returns src laid out as the im2col source: src itself without
// padding or stride, else a zero-padded copy split into phase planes in ws.
func (j *job) layout(ws *workspace, src []float32) []float32 {
	p, s := j.srcPad, j.srcStride
	if p == 0 && s == 1 {
		return src
	}
	h, w := j.srcH, j.srcW
	ph, pw := j.phH, j.phW
	n := j.srcC * s * s * ph * pw
	growShared(&ws.pad, n, &most.pad)
	dst := ws.pad[:n]
	for c := 0; c < j.srcC; c++ {
		plane := src[c*h*w : (c+1)*h*w]
		planes := dst[c*s*s*ph*pw : (c+1)*s*s*ph*pw]
		// Padded row yp = i*s+ry goes to row i of planes (ry, 0..s-1).
		for yp := 0; yp < ph*s; yp++ {
			ry, i := yp%s, yp/s
			y := yp - p
			if y < 0 || y >= h {
				for rx := 0; rx < s; rx++ {
					clear(planes[((ry*s+rx)*ph+i)*pw:][:pw])
				}
				continue
			}
			in := plane[y*w : (y+1)*w]
			if s == 1 {
				row := planes[i*pw : (i+1)*pw]
				clear(row[:p])
				copy(row[p:p+w], in)
				clear(row[p+w:])
				continue
			}
			if s == 2 {
				// Source column t goes to padded column t+p: even ones to
				// plane 0, odd ones to plane 1, in pairs.
				r0 := planes[(ry*2*ph+i)*pw:][:pw]
				r1 := planes[((ry*2+1)*ph+i)*pw:][:pw]
				clear(r0)
				clear(r1)
				ev, od := r0[p/2:][:(w+1)/2], r1[p/2:][:w/2]
				if p%2 == 1 {
					ev, od = r1[(p-1)/2:][:(w+1)/2], r0[(p+1)/2:][:w/2]
				}
				for u := range od {
					ev[u], od[u] = in[2*u], in[2*u+1]
				}
				if w%2 == 1 {
					ev[w/2] = in[w-1]
				}
				continue
			}
			for rx := 0; rx < s; rx++ {
				row := planes[((ry*s+rx)*ph+i)*pw:][:pw]
				// Plane column jx holds padded column jx*s+rx, source
				// column jx*s+rx-p: valid for jx in [lo, hi).
				lo, hi := max(0, (p-rx+s-1)/s), 0
				if last := w - 1 + p - rx; last >= 0 {
					hi = min(pw, last/s+1)
				}
				if lo >= hi {
					clear(row)
					continue
				}
				clear(row[:lo])
				x := lo*s + rx - p
				for jx := range row[lo:hi] {
					row[lo+jx] = in[x]
					x += s
				}
				clear(row[hi:])
			}
		}
	}
	return dst
}

// col2im adds the column gradient col (Cin*K*K x Ho*Wo) into dx, one image.
func col2im(g *geom, col, dx []float32) {
	k := g.K
	for ci := 0; ci < g.Cin; ci++ {
		plane := dx[ci*g.H*g.W : (ci+1)*g.H*g.W]
		for ky := 0; ky < k; ky++ {
			for kx := 0; kx < k; kx++ {
				row := col[((ci*k+ky)*k+kx)*g.how:][:g.how]
				for oy := 0; oy < g.ho; oy++ {
					iy := oy*g.Stride + ky - g.Pad
					if iy < 0 || iy >= g.H {
						continue
					}
					drow := plane[iy*g.W : (iy+1)*g.W]
					crow := row[oy*g.wo : (oy+1)*g.wo]
					// ox range with 0 <= ox*stride + kx - pad < W.
					lo := 0
					if d := g.Pad - kx; d > 0 {
						lo = (d + g.Stride - 1) / g.Stride
					}
					hi := min(g.wo, (g.W-1+g.Pad-kx)/g.Stride+1)
					ix := lo*g.Stride + kx - g.Pad
					for ox := lo; ox < hi; ox++ {
						drow[ix] += crow[ox]
						ix += g.Stride
					}
				}
			}
		}
	}
}

// maxWeightChunks is the most groups of images whose weight gradients are
// computed separately (in parallel) and then added in order. The grouping
// depends only on N, so the result does not depend on GOMAXPROCS.
const maxWeightChunks = 8

// weightChunks returns the number of image groups of BackwardWeight.
func (g *geom) weightChunks() int { return min(g.N, maxWeightChunks) }

// backwardWeight computes the weight (and bias) gradient of each group of
// images into its own buffer, the groups spread over the cores (or, with one
// group, the product of each image split by gemm), then adds the groups into
// dw and db in order.
func (j *job) backwardWeight() {
	g := &j.g
	chunks := g.weightChunks()
	size := j.partialSize()
	grow(&j.partial, chunks*size)
	grow(&j.dbSum, chunks*g.Cout)
	workers := runtime.GOMAXPROCS(0)
	if min(workers, chunks) >= 2 {
		parallel.ForBody(chunks, 1, j)
	} else {
		ws := getWorkspace()
		for c := 0; c < chunks; c++ {
			j.weightChunk(ws, c, false)
		}
		putWorkspace(ws)
	}
	// The groups in order, into the first one's buffer: each element is
	// summed in the same order as a scalar loop would (Axpy with alpha 1
	// adds exactly x + y). Then into dw, through Gᵀ · G with Winograd.
	first := j.partial[:size]
	for c := 1; c < chunks; c++ {
		gemm.Axpy(1, j.partial[c*size:(c+1)*size], first)
	}
	switch {
	case j.wino:
		addFilterGrad(first, g.Cout, g.Cin, j.out)
	case j.shift:
		// Tap-major sums into dw's layout (taps last), then added.
		kk := g.K * g.K
		grow(&j.wtap, size)
		gemm.Transpose(j.wtap, kk, first, g.Cout*g.Cin, kk, g.Cout*g.Cin)
		gemm.Axpy(1, j.wtap, j.out[:size])
	default:
		gemm.Axpy(1, first, j.out[:size])
	}
	if j.db != nil {
		for co := range j.db[:g.Cout] {
			var s float64
			for c := 0; c < chunks; c++ {
				s += j.dbSum[c*g.Cout+co]
			}
			j.db[co] += float32(s)
		}
	}
}

// partialSize is the size of one group's weight gradient: Cout x Cin*K*K
// (with shifted products K*K matrices Cout x Cin, tap by tap), or with
// Winograd the 16 Cout x Cin matrices of the transformed filters'.
func (j *job) partialSize() int {
	if j.wino {
		return 16 * j.g.Cout * j.g.Cin
	}
	return j.g.Cout * j.g.ckk
}

// weightChunk computes the gradient of image group c into its partial
// buffers: the sum over its images, in order, of dy * col^T (the summation
// runs over the output pixels) and of each channel's dy.
func (j *job) weightChunk(ws *workspace, c int, serial bool) {
	g := &j.g
	mul := gemm.MulOperands
	if serial {
		mul = gemm.MulOperandsSerial
	}
	chunks := g.weightChunks()
	size := j.partialSize()
	dw := j.partial[c*size:][:size]
	dbSum := j.dbSum[c*g.Cout:][:g.Cout]
	clear(dbSum)
	if g.Cin == 0 {
		clear(dw)
	}
	hw := g.H * g.W
	for n := c * g.N / chunks; n < (c+1)*g.N/chunks; n++ {
		x := j.in[n*g.Cin*hw:][:g.Cin*hw]
		dy := j.dy[n*g.Cout*g.how:][:g.Cout*g.how]
		beta := float32(1)
		if n == c*g.N/chunks {
			beta = 0
		}
		if g.Cin > 0 {
			ws.a = gemm.Dense{Data: dy, Stride: g.how, XMajor: true}
			if j.wino {
				winoWeightGrad(ws, j.wg, x, dy, g.Cout, dw, beta, serial)
			} else if j.shift {
				j.shiftWeightImage(ws, x, dy, dw, beta, serial)
			} else if g.plain() {
				ws.b = gemm.Dense{Data: x, Stride: hw, XMajor: true}
				mul(g.Cout, g.Cin, hw, 1, &ws.a, &ws.b, beta, dw, g.ckk)
			} else {
				ws.colT = colTOperand(j.colOperand(ws, x))
				mul(g.Cout, g.ckk, g.how, 1, &ws.a, &ws.colT, beta, dw, g.ckk)
			}
		}
		if j.db != nil {
			// Fixed-order float32 sums over the pixels (gemm.Dot), added
			// in float64 while this image's dy is still in cache.
			for co := range dbSum {
				dbSum[co] += float64(gemm.Dot(dy[co*g.how:(co+1)*g.how], j.ones))
			}
		}
	}
}

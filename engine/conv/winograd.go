package conv

import (
	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/internal/parallel"
)

// Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray 2016, "Fast
// Algorithms for Convolutional Neural Networks") computes each 2x2 block
// of output pixels of a 3x3 stride-1 convolution from a 4x4 block of input
// pixels with 16 multiplications per channel pair instead of 36. Each 4x4
// input tile d becomes V = Bᵀ d B, each 3x3 filter g becomes U = G g Gᵀ,
// and for each of the 16 positions k of the 4x4 transformed tiles the sum
// over input channels is one matrix product,
//
//	M[k] (tiles x Cout) = V[k] (tiles x Cin) · U[k]ᵀ (Cin x Cout),
//
// (tiles and channels laid out channel last), done by package gemm (in
// the current precision, like every product); the output block is
// Y = Aᵀ M A. The weight gradient runs the same way
// backwards: dU[k] = dM[k]ᵀ · V[k] with dM = A dY Aᵀ, then dW = Gᵀ dU G.
// The products have 2.25 times fewer multiply-adds than im2col's, but
// they are 16 smaller products, and the transforms, the channel-last
// copies and the packing of the transformed tiles cost about as much as
// the multiply-adds saved at 64 channels: the method pays a little from
// 128 channels on (see winograd).
//
// The matrices, with the rows of Bᵀ, G and Aᵀ:
//
//	Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
//	G  = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1]
//	Aᵀ = [1 1 1 0; 0 1 -1 -1]
//
// Every value is still summed in a fixed order whatever the number of
// goroutines, so results stay reproducible bit for bit; they differ from
// the im2col path's in the last bits, and which path runs depends on the
// shape, the batch size and the precision, never on the goroutines.

// winogradMinChannels is the fewest input and output channels for which
// a 3x3 convolution chooses F(2x2, 3x3) by itself.
var winogradMinChannels = 128

// winogradMode forces the choice in tests and benchmarks: 0 chooses by
// shape, 1 always uses Winograd where it applies, -1 never. It is read
// when a call starts; change it only between calls.
var winogradMode = 0

// SetWinograd turns Winograd's F(2x2, 3x3) on (where the shape chooses
// it, the default) or off (every convolution by im2col) for later calls,
// and returns a function that restores the previous setting. It is for
// benchmarks that compare the two in one run; results of either are
// reproducible.
func SetWinograd(on bool) (restore func()) { return setMode(&winogradMode, on) }

// setMode sets a method's mode to 0 (chosen by shape) when on, else -1
// (never), and returns a function that restores the previous mode.
func setMode(mode *int, on bool) (restore func()) {
	old := *mode
	*mode = 0
	if !on {
		*mode = -1
	}
	return func() { *mode = old }
}

// winogradMaxValues bounds the transformed tiles of one image (16 values
// per tile and channel, in each of V and M): larger images take im2col,
// which needs no such buffers, so that a workspace stays below about 64
// MB a buffer (at 128 channels, images up to about 180x180 pixels).
const winogradMaxValues = 16 << 20

// winograd reports whether the stride-1 3x3 convolution of n images of
// srcC channels to outC channels, padding pad, with ho x wo outputs, uses
// F(2x2, 3x3).
//
// By itself it does so only where it was measured to be faster
// (BenchmarkWinograd, 2 cores, six interleaved rounds, time of im2col over
// Winograd's: 128 channels at 32x32, forward 1.23, forward and backward
// 1.08; 192 channels at 16x16, 1.10 and 1.07; 64 channels at 64x64 0.86
// and 1.07): with the assembly tile routines, float32 products (bf16
// products are already about twice as fast, and the transforms then cost
// what the products save), at least two images (a single image's
// transforms cost more than its split products save) and 128 channels or
// more, multiples of 16. The choice depends on the shape, the batch and
// the precision, never on the number of goroutines.
func winograd(k, stride, pad, n, srcC, outC, ho, wo int) bool {
	if k != 3 || stride != 1 || pad > 2 || winogradMode < 0 {
		return false
	}
	if tiles := ((ho + 1) / 2) * ((wo + 1) / 2); 16*tiles*max(srcC, outC) > winogradMaxValues {
		return false
	}
	if winogradMode > 0 {
		return true
	}
	return winoTilesFast && gemm.CurrentPrecision() == gemm.FP32 && n >= 2 &&
		min(srcC, outC) >= winogradMinChannels &&
		srcC%winoTileChannels == 0 && outC%winoTileChannels == 0
}

// transformFilters sets u[k][co][ci] (k = 4i+j the position in the 4x4
// tile, u laid out as 16 Cout x Cin matrices) to G g Gᵀ for each 3x3
// filter g = w[co][ci] of the cout x cin x 3 x 3 weights w.
func transformFilters(w []float32, cout, cin int, u []float32) {
	parallel.Loop(cout, max(1, 4096/(cin+1)), filterLoop{w: w, u: u, cout: cout, cin: cin})
}

// addFilterGrad adds Gᵀ du G, for each of the 16 cout x cin matrices du
// (k = 4i+j), to the cout x cin x 3 x 3 gradient dw: the adjoint of
// transformFilters.
func addFilterGrad(du []float32, cout, cin int, dw []float32) {
	parallel.Loop(cout, max(1, 4096/(cin+1)), filterLoop{w: dw, u: du, cout: cout, cin: cin, grad: true})
}

// filterLoop runs transformFilters (or, when grad, addFilterGrad) for
// output channels lo to hi-1, each written by one goroutine.
type filterLoop struct {
	w, u      []float32
	cout, cin int
	grad      bool
}

// Run implements parallel.Body.
func (l *filterLoop) Run(lo, hi int) {
	if l.grad {
		addFilterGradRows(l.u, l.cout, l.cin, l.w, lo, hi)
	} else {
		transformFilterRows(l.w, l.cout, l.cin, l.u, lo, hi)
	}
}

func transformFilterRows(w []float32, cout, cin int, u []float32, lo, hi int) {
	plane := cout * cin
	for co := lo; co < hi; co++ {
		for ci := 0; ci < cin; ci++ {
			g := w[(co*cin+ci)*9:][:9]
			// t = G g, 4x3.
			var t [4][3]float32
			for c := 0; c < 3; c++ {
				g0, g1, g2 := g[c], g[3+c], g[6+c]
				t[0][c] = g0
				t[1][c] = 0.5 * (g0 + g1 + g2)
				t[2][c] = 0.5 * (g0 - g1 + g2)
				t[3][c] = g2
			}
			o := co*cin + ci
			for i := 0; i < 4; i++ {
				t0, t1, t2 := t[i][0], t[i][1], t[i][2]
				u[(4*i+0)*plane+o] = t0
				u[(4*i+1)*plane+o] = 0.5 * (t0 + t1 + t2)
				u[(4*i+2)*plane+o] = 0.5 * (t0 - t1 + t2)
				u[(4*i+3)*plane+o] = t2
			}
		}
	}
}

func addFilterGradRows(du []float32, cout, cin int, dw []float32, lo, hi int) {
	plane := cout * cin
	for co := lo; co < hi; co++ {
		for ci := 0; ci < cin; ci++ {
			o := co*cin + ci
			// t = du G, 4x3: Gᵀ's rows applied along each row of du.
			var t [4][3]float32
			for i := 0; i < 4; i++ {
				u0, u1, u2, u3 := du[(4*i+0)*plane+o], du[(4*i+1)*plane+o], du[(4*i+2)*plane+o], du[(4*i+3)*plane+o]
				t[i][0] = u0 + 0.5*(u1+u2)
				t[i][1] = 0.5 * (u1 - u2)
				t[i][2] = 0.5*(u1+u2) + u3
			}
			g := dw[o*9:][:9]
			for c := 0; c < 3; c++ {
				t0, t1, t2, t3 := t[0][c], t[1][c], t[2][c], t[3][c]
				g[c] += t0 + 0.5*(t1+t2)
				g[3+c] += 0.5 * (t1 - t2)
				g[6+c] += 0.5*(t1+t2) + t3
			}
		}
	}
}

// winoGeom is the tiling of one Winograd convolution of a c x h x w
// source, zero-padded by pad, to an ho x wo output: th x tw tiles.
type winoGeom struct {
	c, h, w, pad int
	ho, wo       int
	th, tw       int
}

func newWinoGeom(c, h, w, pad int) winoGeom {
	ho, wo := h+2*pad-2, w+2*pad-2
	return winoGeom{c: c, h: h, w: w, pad: pad, ho: ho, wo: wo, th: (ho + 1) / 2, tw: (wo + 1) / 2}
}

func (g winoGeom) tiles() int { return g.th * g.tw }

// The transforms run on channel-last copies, so that the tile routines
// (wino_tiles.go) work on runs of channels, 16 at a time in assembly: the
// source padded to (2*th+2) x (2*tw+2) pixels, and the output blocks,
// 2*th x 2*tw pixels, cropped when copied back.

// winoStage is one data-movement stage of a Winograd convolution, row
// by row so that a single image spreads over the cores (parallel.Body).
// Every row writes its own values, so the result does not depend on how
// the rows are shared out.
type winoStage struct {
	op  int
	g   winoGeom
	c   int       // channels of the stage's data
	src []float32 // the stage's input
	dst []float32 // its output
	// toChannelLast: src is c x h x w; dst has rows of wp pixels and src
	// goes at (top, left).
	h, w, wp, top, left int
	// Tile stages: strides of the 16 transformed matrices and the bias.
	ks   int
	bias []float32
}

// The stages.
const (
	stageToChannelLast   = iota // src (c x h x w) rows into the channel-last dst
	stageInputTiles             // tile rows of the padded source into V
	stageOutputTiles            // tile rows of M into output blocks
	stageOutputGradTiles        // tile rows of the output gradient into dM
	stageFromChannelLast        // output rows of the blocks into dst (c x ho x wo)
	stageAdd                    // channels: dst += src
)

// run runs the stage over its n rows, on this goroutine when serial.
func (s winoStage) run(n int, serial bool) {
	if serial {
		s.Run(0, n)
		return
	}
	parallel.Loop(n, 1, s)
}

// Run implements parallel.Body: rows lo to hi-1.
func (s *winoStage) Run(lo, hi int) {
	g, c := s.g, s.c
	for r := lo; r < hi; r++ {
		switch s.op {
		case stageToChannelLast: // r: source row
			gemm.Transpose(s.dst[((r+s.top)*s.wp+s.left)*c:], c, s.src[r*s.w:], s.h*s.w, c, s.w)
		case stageInputTiles:
			wp := 2*g.tw + 2
			inputTiles(s.src[2*r*wp*c:], wp*c, c, g.tw, s.dst[r*g.tw*c:], s.ks)
		case stageOutputTiles:
			wq := 2 * g.tw
			outputTiles(s.src[r*g.tw*c:], s.ks, c, g.tw, s.bias, s.dst[2*r*wq*c:], wq*c)
		case stageOutputGradTiles:
			wq := 2 * g.tw
			outputGradTiles(s.src[2*r*wq*c:], wq*c, c, g.tw, s.dst[r*g.tw*c:], s.ks)
		case stageFromChannelLast:
			wq := 2 * g.tw
			gemm.Transpose(s.dst[r*g.wo:], g.ho*g.wo, s.src[r*wq*c:], c, g.wo, c)
		case stageAdd:
			hw := g.ho * g.wo
			gemm.Axpy(1, s.src[r*hw:(r+1)*hw], s.dst[r*hw:(r+1)*hw])
		}
	}
}

// winoSource lays the image src of the geometry g out channel last and
// transforms its tiles into ws.winoV: 16 matrices of tiles x g.c.
func winoSource(ws *workspace, g winoGeom, src []float32, serial bool) []float32 {
	nt := g.tiles()
	hp, wp := 2*g.th+2, 2*g.tw+2
	growShared(&ws.winoP, hp*wp*g.c, &most.winoP)
	growShared(&ws.winoV, 16*nt*g.c, &most.winoV)
	p, v := ws.winoP[:hp*wp*g.c], ws.winoV[:16*nt*g.c]
	clear(p)
	winoStage{op: stageToChannelLast, g: g, c: g.c, src: src, dst: p, h: g.h, w: g.w, wp: wp, top: g.pad, left: g.pad}.run(g.h, serial)
	winoStage{op: stageInputTiles, g: g, c: g.c, src: p, dst: v, ks: nt * g.c}.run(g.th, serial)
	return v
}

// winoForward computes one image of a Winograd convolution: the source
// src (g.c x g.h x g.w) convolved with the transformed filters u (16 of
// cout x g.c) into dst (cout x g.ho x g.wo), plus bias (nil: none), or
// added to dst when accumulate; serial as for winoProducts.run.
func winoForward(ws *workspace, g winoGeom, src, u []float32, cout int, bias, dst []float32, accumulate, serial bool) {
	nt := g.tiles()
	v := winoSource(ws, g, src, serial)
	growShared(&ws.winoM, 16*nt*cout, &most.winoM)
	m := ws.winoM[:16*nt*cout]
	// M[k] (tiles x cout) = V[k] (tiles x c) · U[k]ᵀ.
	winoProducts{
		a: v, aStride: g.c, aX: true, aStep: nt * g.c,
		b: u, bStride: g.c, bX: true, bStep: cout * g.c,
		c: m, ldc: cout, cStep: nt * cout,
		m: nt, n: cout, k: g.c,
	}.run(serial)
	wq := 2 * g.tw
	growShared(&ws.winoQ, 2*g.th*wq*cout, &most.winoQ)
	q := ws.winoQ[:2*g.th*wq*cout]
	if bias == nil {
		growShared(&ws.zeros, cout, &most.zeros)
		clear(ws.zeros)
		bias = ws.zeros
	}
	winoStage{op: stageOutputTiles, g: g, c: cout, src: m, dst: q, ks: nt * cout, bias: bias}.run(g.th, serial)
	out := dst
	if accumulate {
		growShared(&ws.winoT, cout*g.ho*g.wo, &most.winoT)
		out = ws.winoT[:cout*g.ho*g.wo]
	}
	winoStage{op: stageFromChannelLast, g: g, c: cout, src: q, dst: out}.run(g.ho, serial)
	if accumulate {
		winoStage{op: stageAdd, g: g, src: out, dst: dst}.run(cout, serial)
	}
}

// winoWeightGrad sets (beta 0) or adds to (beta 1) du, the 16 cout x g.c
// matrices of the transformed filters' gradient, the products dM[k]ᵀ ·
// V[k] of one image: its source src and its output gradient dy.
func winoWeightGrad(ws *workspace, g winoGeom, src, dy []float32, cout int, du []float32, beta float32, serial bool) {
	nt := g.tiles()
	v := winoSource(ws, g, src, serial)
	wq := 2 * g.tw
	growShared(&ws.winoQ, 2*g.th*wq*cout, &most.winoQ)
	growShared(&ws.winoM, 16*nt*cout, &most.winoM)
	q, dm := ws.winoQ[:2*g.th*wq*cout], ws.winoM[:16*nt*cout]
	clear(q)
	winoStage{op: stageToChannelLast, g: g, c: cout, src: dy, dst: q, h: g.ho, w: g.wo, wp: wq}.run(g.ho, serial)
	winoStage{op: stageOutputGradTiles, g: g, c: cout, src: q, dst: dm, ks: nt * cout}.run(g.th, serial)
	// dU[k] (cout x c) += dM[k]ᵀ (cout x tiles) · V[k] (tiles x c).
	winoProducts{
		a: dm, aStride: cout, aStep: nt * cout,
		b: v, bStride: g.c, bStep: nt * g.c,
		c: du, ldc: g.c, cStep: cout * g.c,
		m: cout, n: g.c, k: nt, beta: beta,
	}.run(serial)
}

// winoProducts are the 16 products of one image, k = 0..15: C[k] =
// op(A[k]) · op(B[k]) + beta C[k], with A[k] = a[k*aStep:] (m x k, of
// leading dimension aStride, x-major when aX: see gemm.Dense), likewise
// B[k] (k x n) and C[k] (m x n, leading dimension ldc).
type winoProducts struct {
	a, b, c             []float32
	aStride, bStride    int
	aX, bX              bool
	aStep, bStep, cStep int
	m, n, k, ldc        int
	beta                float32
}

// run computes the products on this goroutine when serial (the caller
// runs several images at once), else spread over the cores, each product
// on one of them: one image's products are too small to split well.
// Either way each product is summed in the same order.
func (p winoProducts) run(serial bool) {
	if serial {
		p.Run(0, 16)
		return
	}
	parallel.Loop(16, 1, p)
}

// Run implements parallel.Body: products lo to hi-1.
func (p *winoProducts) Run(lo, hi int) {
	ws := getWorkspace()
	for k := lo; k < hi; k++ {
		ws.a = gemm.Dense{Data: p.a[k*p.aStep:][:p.aStep], Stride: p.aStride, XMajor: p.aX}
		ws.b = gemm.Dense{Data: p.b[k*p.bStep:][:p.bStep], Stride: p.bStride, XMajor: p.bX}
		gemm.MulOperandsSerial(p.m, p.n, p.k, 1, &ws.a, &ws.b, p.beta, p.c[k*p.cStep:][:p.cStep], p.ldc)
	}
	putWorkspace(ws)
}

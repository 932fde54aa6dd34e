package blur

import (
	"fmt"
	"math"

	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/raster"
)

// Filter2D returns img filtered with k as BasicSR's filter2D does: every
// plane is padded by k.Size/2 on each side with reflection about the edge
// pixel (torch's 'reflect': d c b | a b c d | c b a), then cross-correlated
// with k (no kernel flip): out(y, x) = Σ k(i, j)·pad(y+i, x+j). The weights
// are rounded to float32 and the sums are accumulated in float32, as the
// torch reference computes on float32 tensors; results agree with it to
// float32 rounding (about 1e-6 for values in [0, 1]).
//
// torch refuses a reflect pad as large as the image side; Filter2D instead
// keeps reflecting (the index sequence 0, 1, ..., n-1, n-2, ..., 1, 0, 1, ...
// repeats with period 2n-2, and a side of 1 repeats its pixel), so any
// kernel works on any image, and the result equals torch wherever torch
// accepts the input.
//
// Work is cut where the result cannot change beyond float32 rounding:
// zero borders (Real-ESRGAN pads every kernel to 21x21) and edge rows and
// columns holding less than 1e-9 of the total |weight| (underflowing
// Gaussian tails) are skipped, and kernels that are an outer product to
// within 1e-7 (isotropic Gaussians, USM) run as a horizontal and a
// vertical pass. Other kernels cost one multiply-add per tap and pixel, 16
// or 8 pixels at a time with AVX-512 or AVX2 (see corrRow); with fused
// multiply-adds the sums round differently from the pure-Go path by float32
// rounding only.
func Filter2D(img *raster.Image, k Kernel) *raster.Image {
	return correlate(img, k.Float32(), k.Size)
}

// Convolve returns the true convolution of img with k, with the same
// reflect padding as Filter2D: it equals scipy.ndimage.convolve(img, k,
// mode='mirror') per plane, the blur of KAIR's BSRGAN degradation
// (add_blur), to float32 rounding (scipy sums in float64).
func Convolve(img *raster.Image, k Kernel) *raster.Image {
	return Filter2D(img, k.Flip())
}

// reflectIndex maps i (possibly outside [0, n)) to [0, n) by reflection
// about the first and last samples, repeating with period 2n-2.
func reflectIndex(i, n int) int {
	if n == 1 {
		return 0
	}
	if i >= 0 && i < n {
		return i
	}
	p := 2*n - 2
	i %= p
	if i < 0 {
		i += p
	}
	if i >= n {
		i = p - i
	}
	return i
}

// correlate is Filter2D on float32 weights w of an n x n kernel.
func correlate(img *raster.Image, w []float32, n int) *raster.Image {
	if n <= 0 || n%2 == 0 || len(w) != n*n {
		panic(fmt.Sprintf("blur.Filter2D: kernel size %d with %d weights: want an odd size and size² weights", n, len(w)))
	}
	out := raster.New(img.C, img.H, img.W)
	r0, r1, c0, c1, ok := support(w, n)
	if !ok {
		return out // all-zero kernel
	}
	if u, v, ok := separable(w, n, r0, r1, c0, c1); ok {
		sepCorrelate(out, img, u, v, r0-n/2, c0-n/2)
		return out
	}
	direct(out, img, w, n, r0, r1, c0, c1)
	return out
}

// trimTol bounds the total |weight| that support may drop from the edges
// of a kernel, relative to Σ|w|: the output changes by at most that times
// the largest |pixel|, far below float32 rounding of the sums.
const trimTol = 1e-9

// support returns the box [r0, r1] x [c0, c1] that holds the kernel's
// weight: the bounding box of the non-zero weights (Real-ESRGAN pads every
// kernel to 21x21 with zeros), then shrunk by edge rows and columns whose
// total |weight| stays within trimTol (Gaussian tails that underflow in
// effect). It returns false when all weights are zero.
func support(w []float32, n int) (r0, r1, c0, c1 int, ok bool) {
	r0, c0 = n, n
	r1, c1 = -1, -1
	total := 0.0
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if v := w[i*n+j]; v != 0 {
				r0, r1 = min(r0, i), max(r1, i)
				c0, c1 = min(c0, j), max(c1, j)
				total += math.Abs(float64(v))
			}
		}
	}
	if r1 < 0 {
		return 0, 0, 0, 0, false
	}
	rowSum := func(i, a, b int) float64 {
		s := 0.0
		for j := a; j <= b; j++ {
			s += math.Abs(float64(w[i*n+j]))
		}
		return s
	}
	colSum := func(j, a, b int) float64 {
		s := 0.0
		for i := a; i <= b; i++ {
			s += math.Abs(float64(w[i*n+j]))
		}
		return s
	}
	budget := trimTol * total
	for r0 < r1 || c0 < c1 {
		// Drop the lightest edge while the budget allows; ties go to the
		// first of top, bottom, left, right so the result is deterministic.
		best, side := math.Inf(1), -1
		if r0 < r1 {
			if v := rowSum(r0, c0, c1); v < best {
				best, side = v, 0
			}
			if v := rowSum(r1, c0, c1); v < best {
				best, side = v, 1
			}
		}
		if c0 < c1 {
			if v := colSum(c0, r0, r1); v < best {
				best, side = v, 2
			}
			if v := colSum(c1, r0, r1); v < best {
				best, side = v, 3
			}
		}
		// Written so that NaN weights (best or budget NaN) also stop the
		// loop: otherwise no side is dropped and it never ends.
		if side < 0 || !(best <= budget) {
			break
		}
		budget -= best
		switch side {
		case 0:
			r0++
		case 1:
			r1--
		case 2:
			c0++
		case 3:
			c1--
		}
	}
	return r0, r1, c0, c1, true
}

// sepTol bounds Σ|w - u⊗v| relative to Σ|w| for a kernel to be applied
// separably: about the float32 rounding the weights already carry, so the
// output error stays below 1e-7 of the image range.
const sepTol = 1e-7

// separable reports whether the box [r0, r1] x [c0, c1] of w is an outer
// product u⊗v to within sepTol, and returns the factors as float32.
func separable(w []float32, n, r0, r1, c0, c1 int) (u, v []float32, ok bool) {
	if r1 == r0 && c1 == c0 {
		return nil, nil, false // a pulse: the direct path is one tap anyway
	}
	// Pivot on the largest weight; factor through its row and column.
	pi, pj := r0, c0
	big, total := 0.0, 0.0
	for i := r0; i <= r1; i++ {
		for j := c0; j <= c1; j++ {
			a := math.Abs(float64(w[i*n+j]))
			total += a
			if a > big {
				big, pi, pj = a, i, j
			}
		}
	}
	p := float64(w[pi*n+pj])
	u64 := make([]float64, r1-r0+1)
	v64 := make([]float64, c1-c0+1)
	for i := range u64 {
		u64[i] = float64(w[(r0+i)*n+pj]) / p
	}
	for j := range v64 {
		v64[j] = float64(w[pi*n+c0+j])
	}
	dev := 0.0
	for i := range u64 {
		for j := range v64 {
			dev += math.Abs(float64(w[(r0+i)*n+c0+j]) - u64[i]*v64[j])
		}
	}
	if dev > sepTol*total {
		return nil, nil, false
	}
	u = make([]float32, len(u64))
	v = make([]float32, len(v64))
	for i, x := range u64 {
		u[i] = float32(x)
	}
	for j, x := range v64 {
		v[j] = float32(x)
	}
	return u, v, true
}

// rowGrain is the number of output rows per parallel chunk.
const rowGrain = 4

// direct computes out = correlate(img, w) tap by tap over the support box.
func direct(out, img *raster.Image, w []float32, n, r0, r1, c0, c1 int) {
	h, wd := img.H, img.W
	half := n / 2
	kh, kw := r1-r0+1, c1-c0+1
	// Compact weights of the support box.
	box := make([]float32, kh*kw)
	for i := 0; i < kh; i++ {
		copy(box[i*kw:(i+1)*kw], w[(r0+i)*n+c0:(r0+i)*n+c0+kw])
	}
	// Padded rows only need the columns the box touches: x+c0-half ...
	// x+c1-half for x in [0, wd).
	left := c0 - half
	pw := wd + kw - 1
	rows := kh + rowGrain - 1 // padded rows live per chunk
	parallel.For(img.C*h, rowGrain, func(lo, hi int) {
		buf := make([]float32, rows*pw)
		for r := lo; r < hi; {
			c, y0 := r/h, r%h
			y1 := min(y0+rowGrain, h, y0+(hi-r))
			plane := img.Plane(c)
			// Pad the source rows y0+r0-half ... y1-1+r1-half.
			nr := y1 - y0 + kh - 1
			for i := 0; i < nr; i++ {
				sy := reflectIndex(y0+r0-half+i, h)
				padRow(buf[i*pw:(i+1)*pw], plane[sy*wd:(sy+1)*wd], left)
			}
			dst := out.Plane(c)
			for y := y0; y < y1; y++ {
				corrRow(dst[y*wd:(y+1)*wd], buf[(y-y0)*pw:], pw, box, kh, kw)
			}
			r += y1 - y0
		}
	})
}

// padRow fills dst[i] = src[reflect(i+left)].
func padRow(dst, src []float32, left int) {
	n := len(src)
	i := 0
	for ; i < len(dst) && i+left < 0; i++ {
		dst[i] = src[reflectIndex(i+left, n)]
	}
	if i < len(dst) && i+left < n {
		i += copy(dst[i:], src[i+left:])
	}
	for ; i < len(dst); i++ {
		dst[i] = src[reflectIndex(i+left, n)]
	}
}

// sepCorrelate computes out = correlate(img, u⊗v) as a horizontal pass
// with v (taps at column offsets dx0 ...) into a temporary image, then a
// vertical pass with u (row offsets dy0 ...), both with reflect padding.
// The temporary planes hold the len(u)-1 reflected rows the vertical pass
// reads beyond the edges (reflecting rows commutes with filtering along
// them), so that every output row is one correlation of evenly spaced rows.
func sepCorrelate(out, img *raster.Image, u, v []float32, dy0, dx0 int) {
	h, wd := img.H, img.W
	th := h + len(u) - 1 // rows of a temporary plane: source rows dy0, dy0+1, ...
	tmp := make([]float32, img.C*th*wd)
	pw := wd + len(v) - 1
	parallel.For(img.C*h, 16, func(lo, hi int) {
		buf := make([]float32, pw)
		for r := lo; r < hi; r++ {
			c, y := r/h, r%h
			if y-dy0 < 0 || y-dy0 >= th {
				continue // a row the vertical pass never reads
			}
			padRow(buf, img.Plane(c)[y*wd:(y+1)*wd], dx0)
			k := c*th + y - dy0
			corrRow(tmp[k*wd:(k+1)*wd], buf, pw, v, 1, len(v))
		}
	})
	// The reflected rows: copies of computed rows, or for kernels off
	// centre on tiny images, rows the first pass skipped.
	buf := make([]float32, pw)
	for c := 0; c < img.C; c++ {
		plane := tmp[c*th*wd : (c+1)*th*wd]
		for k := 0; k < th; k++ {
			y := dy0 + k
			if y >= 0 && y < h {
				continue
			}
			y = reflectIndex(y, h)
			if k0 := y - dy0; k0 >= 0 && k0 < th {
				copy(plane[k*wd:(k+1)*wd], plane[k0*wd:(k0+1)*wd])
				continue
			}
			padRow(buf, img.Plane(c)[y*wd:(y+1)*wd], dx0)
			corrRow(plane[k*wd:(k+1)*wd], buf, pw, v, 1, len(v))
		}
	}
	parallel.For(img.C*h, 16, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			c, y := r/h, r%h
			corrRow(out.Pix[r*wd:(r+1)*wd], tmp[(c*th+y)*wd:], wd, u, len(u), 1)
		}
	})
}

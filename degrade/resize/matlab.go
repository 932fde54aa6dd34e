package resize

import (
	"fmt"
	"math"

	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/raster"
)

// matlabCubic is MATLAB's bicubic kernel (Keys, a = -0.5).
func matlabCubic(x float64) float64 {
	ax := math.Abs(x)
	ax2, ax3 := ax*ax, ax*ax*ax
	switch {
	case ax <= 1:
		return 1.5*ax3 - 2.5*ax2 + 1
	case ax <= 2:
		return -0.5*ax3 + 2.5*ax2 - 4*ax + 2
	}
	return 0
}

// symmetricIndex maps i to [0, n) by half-sample symmetric extension
// (-1 -> 0, -2 -> 1, n -> n-1), repeating with period 2n.
func symmetricIndex(i, n int) int {
	p := 2 * n
	i %= p
	if i < 0 {
		i += p
	}
	if i >= n {
		i = p - 1 - i
	}
	return i
}

// matlabTaps is calculate_weights_indices of KAIR / BasicSR for one axis:
// output pixel x (1-based) maps to u = x/scale + (1 - 1/scale)/2; the
// ceil(width)+2 pixels from floor(u - width/2) get the cubic weights of
// their distance to u (for antialiased shrinking the kernel is stretched:
// width 4/scale, weights scale·cubic(d·scale)), normalised to sum 1.
// Indices use symmetric extension.
func matlabTaps(in, out int, scale float64, antialias bool) (idx []int32, w []float64, n int) {
	width := 4.0
	shrink := scale < 1 && antialias
	if shrink {
		width /= scale
	}
	n = int(math.Ceil(width)) + 2
	idx = make([]int32, n*out)
	w = make([]float64, n*out)
	for o := 0; o < out; o++ {
		u := float64(o+1)/scale + 0.5*(1-1/scale)
		left := math.Floor(u - width/2)
		sum := 0.0
		for k := 0; k < n; k++ {
			d := u - (left + float64(k))
			var v float64
			if shrink {
				v = scale * matlabCubic(d*scale)
			} else {
				v = matlabCubic(d)
			}
			w[o*n+k] = v
			sum += v
			idx[o*n+k] = int32(symmetricIndex(int(left)+k-1, in))
		}
		for k := 0; k < n; k++ {
			w[o*n+k] /= sum
		}
	}
	return idx, w, n
}

// Imresize returns img scaled by scale as MATLAB's imresize(img, scale,
// 'bicubic') does, as KAIR's imresize_np and BasicSR's imresize compute it:
// output sides ceil(in·scale), the a = -0.5 cubic kernel, stretched for
// antialiasing when scale < 1 and antialias is set, and half-sample
// symmetric borders (images smaller than the kernel keep reflecting, where
// the references fail). Rows are resized first, then columns. The weights
// and sums are computed in float64 (the references use float32 tensors),
// so results agree with them to float32 rounding.
func Imresize(img *raster.Image, scale float64, antialias bool) *raster.Image {
	if !(scale > 0) || math.IsInf(scale, 0) {
		panic(fmt.Sprintf("resize.Imresize: scale %v", scale))
	}
	h := int(math.Ceil(float64(img.H) * scale))
	w := int(math.Ceil(float64(img.W) * scale))
	checkSize("Imresize", img, h, w)
	yi, yw, yn := matlabTaps(img.H, h, scale, antialias)
	xi, xw, xn := matlabTaps(img.W, w, scale, antialias)
	// Height first, as the references do: tmp is h x img.W.
	tmp := make([]float64, img.C*h*img.W)
	parallel.For(img.C*h, 8, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			c, y := r/h, r%h
			plane := img.Plane(c)
			dst := tmp[r*img.W : (r+1)*img.W]
			clear(dst)
			for k := 0; k < yn; k++ {
				wk := yw[y*yn+k]
				src := plane[int(yi[y*yn+k])*img.W:][:img.W]
				for x, v := range src {
					dst[x] += wk * float64(v)
				}
			}
		}
	})
	out := raster.New(img.C, h, w)
	parallel.For(img.C*h, 8, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			src := tmp[r*img.W : (r+1)*img.W]
			dst := out.Pix[r*w : (r+1)*w]
			for x := range dst {
				s := 0.0
				for k := 0; k < xn; k++ {
					s += xw[x*xn+k] * src[xi[x*xn+k]]
				}
				dst[x] = float32(s)
			}
		}
	})
	return out
}

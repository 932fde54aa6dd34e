package blur

import (
	"fmt"
	"math"
	"sync"

	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/raster"
)

// smallGaussian holds OpenCV's fixed kernels for odd sizes up to 7 with
// sigma <= 0 (getGaussianKernel's small_gaussian_tab).
var smallGaussian = [][]float64{
	{1},
	{0.25, 0.5, 0.25},
	{0.0625, 0.25, 0.375, 0.25, 0.0625},
	{0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125},
}

// GaussianKernel1D returns cv2.getGaussianKernel(n, sigma): n samples of a
// Gaussian centred at (n-1)/2, normalised to sum 1. A sigma <= 0 means
// 0.3·((n-1)/2 - 1) + 0.8, and odd n <= 7 with sigma <= 0 use OpenCV's
// fixed binomial-like tables.
func GaussianKernel1D(n int, sigma float64) []float64 {
	if n <= 0 {
		panic(fmt.Sprintf("blur.GaussianKernel1D: size %d", n))
	}
	if n%2 == 1 && n <= 7 && sigma <= 0 {
		return append([]float64(nil), smallGaussian[n/2]...)
	}
	if sigma <= 0 {
		sigma = 0.3*(float64(n-1)*0.5-1) + 0.8
	}
	scale := -0.5 / (sigma * sigma)
	out := make([]float64, n)
	sum := 0.0
	for i := range out {
		x := float64(i) - float64(n-1)*0.5
		out[i] = math.Exp(scale * x * x)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// USM is BasicSR's USMSharp unsharp masking: a Gaussian blur B of the image
// I, the sharpened K = clip(I + weight·(I-B), 0, 1), and a soft mask M, the
// same blur of the indicator |I-B|·255 > threshold; the result is
// M·K + (1-M)·I.
type USM struct {
	kernel Kernel
}

// NewUSM returns the sharpener with BasicSR's kernel for radius and sigma:
// the outer product of cv2.getGaussianKernel(radius, sigma), where an even
// radius is increased by one. BasicSR's default is NewUSM(50, 0): a 51x51
// kernel with sigma 8.
func NewUSM(radius int, sigma float64) *USM {
	if radius <= 0 {
		panic(fmt.Sprintf("blur.NewUSM: radius %d", radius))
	}
	if radius%2 == 0 {
		radius++
	}
	g := GaussianKernel1D(radius, sigma)
	k := NewKernel(radius)
	for i, a := range g {
		for j, b := range g {
			k.W[i*radius+j] = a * b
		}
	}
	return &USM{kernel: k}
}

var defaultUSM = sync.OnceValue(func() *USM { return NewUSM(50, 0) })

// USMSharp returns img sharpened with BasicSR's defaults, USMSharp()(img):
// a 51x51 kernel with sigma 8, weight 0.5 and threshold 10. KAIR's
// add_sharpening (cv2.GaussianBlur with the same kernel and mirrored
// borders) computes the same function.
func USMSharp(img *raster.Image) *raster.Image { return defaultUSM().Apply(img, 0.5, 10) }

// Kernel returns a copy of the 2-D blur kernel.
func (u *USM) Kernel() Kernel { return u.kernel.Clone() }

// Apply returns img sharpened with the given weight and threshold (in 0-255
// units); BasicSR's defaults are 0.5 and 10. The arithmetic is float32 in
// the order of the torch reference, and the blurs use Filter2D.
func (u *USM) Apply(img *raster.Image, weight, threshold float64) *raster.Image {
	out, _, _ := u.apply(img, weight, threshold)
	return out
}

// apply is Apply returning also the blur and the soft mask.
func (u *USM) apply(img *raster.Image, weight, threshold float64) (out, blur, soft *raster.Image) {
	blur = Filter2D(img, u.kernel)
	mask := raster.New(img.C, img.H, img.W)
	thr, wt := float32(threshold), float32(weight)
	parallel.For(len(img.Pix), 1<<14, func(lo, hi int) {
		src, b, m := img.Pix[lo:hi], blur.Pix[lo:hi], mask.Pix[lo:hi]
		for i := range src {
			r := src[i] - b[i]
			if r < 0 {
				r = -r
			}
			if r*255 > thr {
				m[i] = 1
			}
		}
	})
	soft = Filter2D(mask, u.kernel)
	out = raster.New(img.C, img.H, img.W)
	parallel.For(len(img.Pix), 1<<14, func(lo, hi int) {
		src, b, s, o := img.Pix[lo:hi], blur.Pix[lo:hi], soft.Pix[lo:hi], out.Pix[lo:hi]
		for i := range src {
			k := src[i] + wt*(src[i]-b[i])
			k = min(max(k, 0), 1)
			o[i] = s[i]*k + (1-s[i])*src[i]
		}
	})
	return out, blur, soft
}

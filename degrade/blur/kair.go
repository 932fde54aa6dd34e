package blur

import (
	"fmt"
	"math"

	"github.com/degradiff/degradiff/rng"
)

// AnisotropicGaussianKAIR returns KAIR's anisotropic_Gaussian(ksize, theta,
// l1, l2) (utils_blindsr.py): the normalised Gaussian density with
// covariance V·diag(l1, l2)·V⁻¹, where V = [[cos θ, sin θ], [sin θ, -cos θ]]
// has eigenvector (cos θ, sin θ) for l1. l1 and l2 are variances (not
// standard deviations). Grid point (x, y) is column x and row y offset from
// the centre, as in gm_blur_kernel.
//
// V is its own inverse, so the quadratic form is evaluated in closed form,
// (u²/l1 + w²/l2) with u = x cos θ + y sin θ and w = x sin θ - y cos θ,
// instead of through scipy's eigen-decomposition; the two agree to float64
// rounding after normalisation.
func AnisotropicGaussianKAIR(size int, theta, l1, l2 float64) Kernel {
	checkSize("AnisotropicGaussianKAIR", size)
	if !(l1 > 0 && l2 > 0) {
		panic(fmt.Sprintf("blur.AnisotropicGaussianKAIR: eigenvalues l1=%v l2=%v must be > 0", l1, l2))
	}
	c, s := math.Cos(theta), math.Sin(theta)
	k := NewKernel(size)
	for i := 0; i < size; i++ {
		y := meshOffset(i, size)
		for j := 0; j < size; j++ {
			x := meshOffset(j, size)
			u := x*c + y*s
			w := x*s - y*c
			k.W[i*size+j] = math.Exp(-0.5 * (u*u/l1 + w*w/l2))
		}
	}
	return k.normalize()
}

// FspecialGaussian returns MATLAB's fspecial('gaussian', size, sigma) as
// KAIR's fspecial_gaussian computes it: exp(-(x²+y²)/(2σ²)), values below
// eps·max set to zero (eps = 2⁻⁵²), normalised to sum 1.
func FspecialGaussian(size int, sigma float64) Kernel {
	checkSize("FspecialGaussian", size)
	if !(sigma > 0) {
		panic(fmt.Sprintf("blur.FspecialGaussian: sigma %v must be > 0", sigma))
	}
	k := NewKernel(size)
	hmax := 0.0
	for i := 0; i < size; i++ {
		y := meshOffset(i, size)
		for j := 0; j < size; j++ {
			x := meshOffset(j, size)
			v := math.Exp(-(x*x + y*y) / (2 * sigma * sigma))
			k.W[i*size+j] = v
			hmax = max(hmax, v)
		}
	}
	cut := 0x1p-52 * hmax
	for i, v := range k.W {
		if v < cut {
			k.W[i] = 0
		}
	}
	return k.normalize()
}

// SampleBSRGAN draws the blur kernel of KAIR's add_blur(img, sf) (BSRGAN,
// utils_blindsr.py) in its order of draws: with probability ½ an
// anisotropic kernel with l1 and l2 uniform in [0, 4+sf), size 2·r+3 with r
// uniform in {2, ..., 11}, and θ uniform in [0, π); otherwise
// fspecial('gaussian') with size 2·r+3 and sigma uniform in [0, 2+0.2·sf).
// Apply the kernel with Convolve (KAIR uses scipy.ndimage.convolve with
// mode 'mirror'). A draw of exactly 0 for l1, l2 or sigma (probability
// 2⁻⁵³ each), on which KAIR fails too, is reported as an error.
func SampleBSRGAN(s *rng.Stream, sf float64) (Kernel, Params, error) {
	wd2 := 4.0 + sf
	wd := 2.0 + 0.2*sf
	var p Params
	if s.Float64() < 0.5 {
		p.Type = TypeKAIRAniso
		p.L1 = wd2 * s.Float64()
		p.L2 = wd2 * s.Float64()
		p.Size = 2*s.IntRange(2, 11) + 3
		p.Theta = s.Float64() * math.Pi
	} else {
		p.Type = TypeKAIRGaussian
		p.Size = 2*s.IntRange(2, 11) + 3
		p.SigmaX = wd * s.Float64()
	}
	k, err := Build(p)
	return k, p, err
}

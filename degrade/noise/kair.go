package noise

import (
	"fmt"
	"math"

	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// KAIRMode selects the branch of BSRGAN's Gaussian and speckle noise.
type KAIRMode string

// The three branches of KAIR's add_Gaussian_noise and add_speckle_noise,
// drawn with probabilities 0.4, 0.4 and 0.2.
const (
	KAIRColour     KAIRMode = "colour"     // independent noise per plane
	KAIRGray       KAIRMode = "gray"       // one plane repeated on R, G, B
	KAIRCorrelated KAIRMode = "correlated" // 3-vector with a random covariance
)

// KAIRCorrelation holds the random covariance of the correlated branch.
type KAIRCorrelation struct {
	// Level is KAIR's noise_level2 (0-255 scale), which this branch uses in
	// place of the sampled level.
	Level float64 `json:"level"`
	// D holds the diagonal of the random matrix D (uniform [0,1)).
	D [3]float64 `json:"d"`
	// U is scipy.linalg.orth of a uniform random 3x3 matrix, row-major.
	U [3][3]float64 `json:"u"`
}

// Covariance returns the covariance the branch uses, |L^2 U^T D U| taken
// element-wise with L = Level/255.
func (k *KAIRCorrelation) Covariance() [3][3]float64 {
	return kairCovariance(k.Level/255, k.D, mat3(k.U))
}

// KAIRNoiseParams are the parameters of KAIR's add_Gaussian_noise and
// add_speckle_noise (utils_blindsr.py).
type KAIRNoiseParams struct {
	// Level is the standard deviation on the 0-255 scale of the colour and
	// gray branches (an integer in [noise_level1, noise_level2]).
	Level float64  `json:"level"`
	Mode  KAIRMode `json:"mode"`
	// Corr is set for the correlated branch only.
	Corr *KAIRCorrelation `json:"correlated,omitempty"`
}

// SampleKAIRNoise draws the parameters of KAIR's add_Gaussian_noise or
// add_speckle_noise (the same draws): an integer level uniform in
// [level1, level2], then u uniform in [0,1) choosing colour (u > 0.6), gray
// (u < 0.4) or correlated noise; the correlated branch then draws
// D = diag(rand(3)) and U = orth(rand(3,3)) and uses level2.
func SampleKAIRNoise(s *rng.Stream, level1, level2 int) KAIRNoiseParams {
	p := KAIRNoiseParams{Level: float64(s.IntRange(level1, level2))}
	u := s.Float64()
	switch {
	case u > 0.6:
		p.Mode = KAIRColour
	case u < 0.4:
		p.Mode = KAIRGray
	default:
		p.Mode = KAIRCorrelated
		c := &KAIRCorrelation{Level: float64(level2)}
		for i := range c.D {
			c.D[i] = s.Float64()
		}
		var a mat3
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				a[i][j] = s.Float64()
			}
		}
		c.U = orth(a)
		p.Corr = c
	}
	return p
}

// kairNoise draws the noise of p for an image of img's size from s, as
// float32 values (the reference casts its float64 draws to float32).
func kairNoise(img *raster.Image, p KAIRNoiseParams, s *rng.Stream) *raster.Image {
	switch p.Mode {
	case KAIRColour, KAIRGray:
		if p.Level < 0 {
			panic(fmt.Sprintf("noise: negative KAIR noise level %g", p.Level))
		}
		return GaussianNoise(img, p.Level, p.Mode == KAIRGray, s)
	case KAIRCorrelated:
		if img.C != 3 || p.Corr == nil {
			panic(fmt.Sprintf("noise: correlated KAIR noise needs 3 planes and a covariance (image has %d planes)", img.C))
		}
		m := sqrtFactor(p.Corr.Covariance())
		n := img.H * img.W
		z := make([]float32, 3*n)
		s.FillNormal(z, 1)
		out := raster.New(3, img.H, img.W)
		parallel.For(n, 8192, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				z0, z1, z2 := float64(z[3*i]), float64(z[3*i+1]), float64(z[3*i+2])
				for c := 0; c < 3; c++ {
					out.Pix[c*n+i] = float32(m[c][0]*z0 + m[c][1]*z1 + m[c][2]*z2)
				}
			}
		})
		return out
	}
	panic(fmt.Sprintf("noise: unknown KAIR noise mode %q", p.Mode))
}

// AddKAIRGaussian is KAIR's add_Gaussian_noise with parameters p: it adds
// the noise drawn from s to img and clips to [0, 1].
func AddKAIRGaussian(img *raster.Image, p KAIRNoiseParams, s *rng.Stream) *raster.Image {
	return finish(img, kairNoise(img, p, s), true, false)
}

// AddKAIRSpeckle is KAIR's add_speckle_noise with parameters p: it clips img
// to [0, 1], adds img times the noise drawn from s and clips again.
func AddKAIRSpeckle(img *raster.Image, p KAIRNoiseParams, s *rng.Stream) *raster.Image {
	out := kairNoise(img, p, s)
	for i, v := range img.Pix {
		v = clamp01(v)
		out.Pix[i] = clamp01(v + float32(v*out.Pix[i]))
	}
	return out
}

// RandomKAIRGaussian samples KAIR noise parameters from s with levels in
// [level1, level2] (BSRGAN uses 2 and 25) and applies AddKAIRGaussian,
// drawing the noise from s.
func RandomKAIRGaussian(img *raster.Image, level1, level2 int, s *rng.Stream) (*raster.Image, KAIRNoiseParams) {
	p := SampleKAIRNoise(s, level1, level2)
	return AddKAIRGaussian(img, p, s), p
}

// RandomKAIRSpeckle samples KAIR noise parameters from s with levels in
// [level1, level2] and applies AddKAIRSpeckle, drawing the noise from s.
func RandomKAIRSpeckle(img *raster.Image, level1, level2 int, s *rng.Stream) (*raster.Image, KAIRNoiseParams) {
	p := SampleKAIRNoise(s, level1, level2)
	return AddKAIRSpeckle(img, p, s), p
}

// KAIRPoissonParams are the parameters of KAIR's add_Poisson_noise.
type KAIRPoissonParams struct {
	// Vals is the photon count scale, 10^(2u+2) for u uniform in [0,1).
	Vals float64 `json:"vals"`
	// Gray adds the Poisson noise of the luma (0.299, 0.587, 0.114) to every
	// plane instead of replacing each plane by its own Poisson sample.
	Gray bool `json:"gray"`
}

// SampleKAIRPoisson draws the parameters of KAIR's add_Poisson_noise:
// vals = 10^(2u+2), then colour with probability 0.5.
func SampleKAIRPoisson(s *rng.Stream) KAIRPoissonParams {
	vals := math.Pow(10, 2*s.Float64()+2)
	return KAIRPoissonParams{Vals: vals, Gray: s.Float64() >= 0.5}
}

// AddKAIRPoisson is KAIR's add_Poisson_noise with parameters p, drawing the
// counts from s. The image is first rounded to 1/255. The colour branch
// replaces each value r by poisson(r*vals)/vals; the gray branch adds
// poisson(y*vals)/vals - y, with y the rounded luma 0.299R+0.587G+0.114B, to
// every plane. The result is clipped to [0, 1].
func AddKAIRPoisson(img *raster.Image, p KAIRPoissonParams, s *rng.Stream) *raster.Image {
	if !(p.Vals > 0) {
		panic(fmt.Sprintf("noise.AddKAIRPoisson: vals %g is not positive", p.Vals))
	}
	out := raster.New(img.C, img.H, img.W)
	vals32 := float32(p.Vals)
	var pl poissonLevels
	if !p.Gray {
		levels := make([]uint8, len(img.Pix))
		for i, v := range img.Pix {
			levels[i] = uint8(quantise255(v))
		}
		for q := range pl.lambda {
			pl.lambda[q] = float64(float32(q) / 255 * vals32)
		}
		drawPoisson(out.Pix, levels, &pl, s)
		for i, k := range out.Pix {
			out.Pix[i] = clamp01(k / vals32)
		}
		return out
	}
	if img.C != 3 {
		panic(fmt.Sprintf("noise.AddKAIRPoisson: gray noise needs 3 planes, image has %d", img.C))
	}
	// The luma is computed in float64, as numpy's dot with a list does,
	// then rounded to a level; the rate is float32(y*vals).
	n := img.H * img.W
	levels := make([]uint8, n)
	for i := range levels {
		r := float64(float32(quantise255(img.Pix[i])) / 255)
		g := float64(float32(quantise255(img.Pix[n+i])) / 255)
		b := float64(float32(quantise255(img.Pix[2*n+i])) / 255)
		levels[i] = uint8(quantise255f64(r*0.299 + g*0.587 + b*0.114))
	}
	var y [256]float64
	for q := range y {
		y[q] = float64(q) / 255
		pl.lambda[q] = float64(float32(y[q] * p.Vals))
	}
	counts := make([]float32, n)
	drawPoisson(counts, levels, &pl, s)
	for c := 0; c < 3; c++ {
		src := img.Pix[c*n : (c+1)*n]
		dst := out.Pix[c*n : (c+1)*n]
		for i, v := range src {
			base := float64(float32(quantise255(v)) / 255)
			noise := float64(counts[i]/vals32) - y[levels[i]]
			dst[i] = clamp01(float32(base + noise))
		}
	}
	return out
}

// quantise255f64 is quantise255 for a float64 value.
func quantise255f64(v float64) int {
	r := math.RoundToEven(v * 255)
	if !(r > 0) {
		return 0
	}
	if r > 255 {
		return 255
	}
	return int(r)
}

// RandomKAIRPoisson samples KAIR Poisson parameters from s and applies
// AddKAIRPoisson, drawing the counts from s.
func RandomKAIRPoisson(img *raster.Image, s *rng.Stream) (*raster.Image, KAIRPoissonParams) {
	p := SampleKAIRPoisson(s)
	return AddKAIRPoisson(img, p, s), p
}

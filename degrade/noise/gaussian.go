package noise

import (
	"fmt"

	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// GaussianParams are the parameters of BasicSR's add_gaussian_noise_pt.
type GaussianParams struct {
	// Sigma is the standard deviation on the 0-255 scale.
	Sigma float64 `json:"sigma"`
	// Gray draws one noise plane and adds it to every plane.
	Gray bool `json:"gray"`
	// Clip clamps the result to [0, 1].
	Clip bool `json:"clip"`
	// Rounds quantises the result to multiples of 1/255.
	Rounds bool `json:"rounds"`
}

// GaussianRange configures BasicSR's random_add_gaussian_noise_pt.
type GaussianRange struct {
	Sigma    [2]float64 `json:"sigma_range" yaml:"sigma_range"`
	GrayProb float64    `json:"gray_prob" yaml:"gray_prob"`
	Clip     bool       `json:"clip" yaml:"clip"`
	Rounds   bool       `json:"rounds" yaml:"rounds"`
}

// GaussianNoise returns the noise of BasicSR's generate_gaussian_noise_pt for
// an image of img's size: independent N(0, (sigma/255)^2) values, or with
// gray one such plane repeated on every plane. It consumes s.
func GaussianNoise(img *raster.Image, sigma float64, gray bool, s *rng.Stream) *raster.Image {
	out := raster.New(img.C, img.H, img.W)
	std := sigma / 255
	if !gray {
		s.FillNormal(out.Pix, std)
		return out
	}
	p0 := out.Plane(0)
	s.FillNormal(p0, std)
	for c := 1; c < img.C; c++ {
		copy(out.Plane(c), p0)
	}
	return out
}

// AddGaussian adds Gaussian noise with parameters p to img, drawing the
// noise from s (BasicSR add_gaussian_noise_pt), and returns a new image.
func AddGaussian(img *raster.Image, p GaussianParams, s *rng.Stream) *raster.Image {
	if p.Sigma < 0 {
		panic(fmt.Sprintf("noise.AddGaussian: negative sigma %g", p.Sigma))
	}
	return finish(img, GaussianNoise(img, p.Sigma, p.Gray, s), p.Clip, p.Rounds)
}

// SampleGaussian draws the parameters of random_generate_gaussian_noise_pt:
// sigma uniform in r.Sigma (rounded to float32 like the reference's tensor),
// then gray with probability r.GrayProb.
func SampleGaussian(s *rng.Stream, r GaussianRange) GaussianParams {
	sigma := sampleUniform32(s, r.Sigma[0], r.Sigma[1])
	gray := s.Float64() < r.GrayProb
	return GaussianParams{Sigma: sigma, Gray: gray, Clip: r.Clip, Rounds: r.Rounds}
}

// RandomGaussian is BasicSR's random_add_gaussian_noise_pt for one image:
// it samples the parameters from s, then draws the noise from s.
func RandomGaussian(img *raster.Image, r GaussianRange, s *rng.Stream) (*raster.Image, GaussianParams) {
	p := SampleGaussian(s, r)
	return AddGaussian(img, p, s), p
}

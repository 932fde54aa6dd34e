package noise

import (
	"fmt"
	"math"

	"github.com/degradiff/degradiff/degrade/color"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// PoissonParams are the parameters of BasicSR's add_poisson_noise_pt.
type PoissonParams struct {
	// Scale multiplies the noise.
	Scale float64 `json:"scale"`
	// Gray computes the noise on the grayscale image and adds it to every
	// plane.
	Gray bool `json:"gray"`
	// Clip clamps the result to [0, 1].
	Clip bool `json:"clip"`
	// Rounds quantises the result to multiples of 1/255.
	Rounds bool `json:"rounds"`
}

// PoissonRange configures BasicSR's random_add_poisson_noise_pt.
type PoissonRange struct {
	Scale    [2]float64 `json:"scale_range" yaml:"scale_range"`
	GrayProb float64    `json:"gray_prob" yaml:"gray_prob"`
	Clip     bool       `json:"clip" yaml:"clip"`
	Rounds   bool       `json:"rounds" yaml:"rounds"`
}

// Levels returns the "vals" of BasicSR's Poisson noise for the values of
// img: 2^ceil(log2(n)), where n is the number of distinct values of
// clamp(round(img*255), 0, 255) over all planes.
func Levels(img *raster.Image) float64 {
	var seen [256]bool
	for _, v := range img.Pix {
		seen[quantise255(v)] = true
	}
	return levelsOf(&seen)
}

// levelsOf is Levels given which of the 256 levels occur.
func levelsOf(seen *[256]bool) float64 {
	n := 0
	for _, ok := range seen {
		if ok {
			n++
		}
	}
	return math.Exp2(math.Ceil(math.Log2(float64(n))))
}

// shotNoise returns the Poisson noise of img (one or more planes) at scale:
// with r = clamp(round(img*255), 0, 255)/255 and vals = Levels(img),
// (poisson(r*vals)/vals - r) * scale, evaluated in float32.
func shotNoise(img *raster.Image, scale float64, s *rng.Stream) *raster.Image {
	levels := make([]uint8, len(img.Pix))
	var seen [256]bool
	for i, v := range img.Pix {
		q := quantise255(v)
		levels[i] = uint8(q)
		seen[q] = true
	}
	vals := float32(levelsOf(&seen))
	// The rate of level q is the float32 product the reference computes.
	var p poissonLevels
	var r [256]float32
	for q := range r {
		r[q] = float32(q) / 255
		p.lambda[q] = float64(r[q] * vals)
	}
	out := raster.New(img.C, img.H, img.W)
	drawPoisson(out.Pix, levels, &p, s)
	sc := float32(scale)
	for i, k := range out.Pix {
		rq := r[levels[i]]
		out.Pix[i] = (k/vals - rq) * sc
	}
	return out
}

// PoissonNoise returns the noise of BasicSR's generate_poisson_noise_pt:
// Poisson noise of the image rounded to 1/255, with vals = Levels of that
// image, times scale. With gray the noise is computed on torchvision's
// grayscale of img (its own Levels) and repeated on every plane. It consumes
// s.
func PoissonNoise(img *raster.Image, scale float64, gray bool, s *rng.Stream) *raster.Image {
	if !gray || img.C == 1 {
		return shotNoise(img, scale, s)
	}
	if img.C != 3 {
		panic(fmt.Sprintf("noise.PoissonNoise: gray noise needs 1 or 3 planes, image has %d", img.C))
	}
	g := shotNoise(color.Gray(img), scale, s)
	out := raster.New(3, img.H, img.W)
	for c := 0; c < 3; c++ {
		copy(out.Plane(c), g.Pix)
	}
	return out
}

// AddPoisson adds Poisson noise with parameters p to img, drawing the counts
// from s (BasicSR add_poisson_noise_pt). The noise is computed against the
// image rounded to 1/255 and added to the unrounded image, as in BasicSR.
func AddPoisson(img *raster.Image, p PoissonParams, s *rng.Stream) *raster.Image {
	return finish(img, PoissonNoise(img, p.Scale, p.Gray, s), p.Clip, p.Rounds)
}

// SamplePoisson draws the parameters of random_generate_poisson_noise_pt:
// scale uniform in r.Scale (rounded to float32), then gray with probability
// r.GrayProb.
func SamplePoisson(s *rng.Stream, r PoissonRange) PoissonParams {
	scale := sampleUniform32(s, r.Scale[0], r.Scale[1])
	gray := s.Float64() < r.GrayProb
	return PoissonParams{Scale: scale, Gray: gray, Clip: r.Clip, Rounds: r.Rounds}
}

// RandomPoisson is BasicSR's random_add_poisson_noise_pt for one image: it
// samples the parameters from s, then draws the counts from s.
func RandomPoisson(img *raster.Image, r PoissonRange, s *rng.Stream) (*raster.Image, PoissonParams) {
	p := SamplePoisson(s, r)
	return AddPoisson(img, p, s), p
}

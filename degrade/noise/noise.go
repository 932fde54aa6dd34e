// Package noise implements the additive noise degradations of Real-ESRGAN
// (BasicSR basicsr/data/degradations.py, the *_pt tensor versions) and of
// BSRGAN (KAIR utils/utils_blindsr.py) on planar float32 images in [0, 1].
//
// Every operation is split in two: a Sample function draws the random
// parameters (sigma, scale, gray or colour, ...) into a JSON-tagged Params
// value, and an Add function applies the noise given the Params and a
// stream for the per-pixel draws. The Random functions do both with one
// stream: they sample, then continue the same stream for the pixels, so a
// manifest holding the Params and the stream state after sampling (or the
// stream key, replaying the sampling) reproduces the result.
//
// Per-pixel draws never depend on GOMAXPROCS: normal numbers come from
// rng.Stream.FillNormal, and Poisson counts are drawn in fixed chunks of
// values, each from its own stream derived from one draw of the caller's
// stream. Both references round the image to 8 bits before drawing Poisson
// counts, so an image has at most 256 rates: each count is drawn by
// inversion of its rate's cumulative table with one 53-bit uniform.
//
// Arithmetic follows the float32 order of the PyTorch reference where that
// is cheap, so the only differences from it are the random draws.
package noise

import (
	"fmt"
	"math"

	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// finish combines image and noise as BasicSR's add_*_noise_pt: out = img +
// noise, then with clip and rounds clamp(round(out*255), 0, 255)/255, with
// clip only clamp(out, 0, 1), with rounds only round(out*255)/255. Rounding
// is half to even like torch.round. It writes into noise and returns it.
func finish(img, noise *raster.Image, clip, rounds bool) *raster.Image {
	if !raster.SameSize(img, noise) {
		panic(fmt.Sprintf("noise: image %dx%dx%d and noise %dx%dx%d differ",
			img.C, img.H, img.W, noise.C, noise.H, noise.W))
	}
	src := img.Pix
	dst := noise.Pix[:len(src)]
	parallel.For(len(dst), 1<<15, func(lo, hi int) {
		s, d := src[lo:hi], dst[lo:hi]
		switch {
		case clip && rounds:
			for i, v := range s {
				d[i] = min(max(roundEven(float32(v+d[i])*255), 0), 255) / 255
			}
		case clip:
			for i, v := range s {
				d[i] = clamp01(v + d[i])
			}
		case rounds:
			for i, v := range s {
				d[i] = roundEven(float32(v+d[i])*255) / 255
			}
		default:
			for i, v := range s {
				d[i] = v + d[i]
			}
		}
	})
	return noise
}

// roundEven rounds half to even, like torch.round.
func roundEven(v float32) float32 { return float32(math.RoundToEven(float64(v))) }

// clamp01 limits v to [0, 1] like torch.clamp (NaN stays NaN).
func clamp01(v float32) float32 {
	if v < 0 {
		return 0
	}
	if v > 1 {
		return 1
	}
	return v
}

// quantise255 returns clamp(round(v*255), 0, 255) as an integer level, the
// rounding BasicSR applies before counting values for Poisson noise.
func quantise255(v float32) int { return int(raster.To8(v)) }

// sampleUniform32 draws lo + (hi-lo)*u rounded to float32, like
// torch.rand(b) * (hi - lo) + lo on a float32 tensor.
func sampleUniform32(s *rng.Stream, lo, hi float64) float64 {
	return float64(float32(lo + (hi-lo)*s.Float64()))
}

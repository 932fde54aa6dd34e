// Package jpeg implements the JPEG compression degradations of Real-ESRGAN
// and BSRGAN on planar float32 RGB images in [0, 1]:
//
//   - DiffJPEG reproduces BasicSR's DiffJPEG(differentiable=False), the
//     tensor JPEG simulation of the Real-ESRGAN training pipeline, including
//     its quirks (transposed quantisation tables, zero padding to a multiple
//     of 16, output not quantised to 8 bits).
//   - Real does an actual JPEG encode/decode round trip with image/jpeg, like
//     cv2.imencode/imdecode in BasicSR's add_jpg_compression and KAIR's
//     add_JPEG_noise.
//
// The random quality is drawn by SampleQuality (BasicSR's jpeg_range) or
// SampleKAIRQuality (BSRGAN) into a JSON-tagged Params value.
package jpeg

import (
	"github.com/degradiff/degradiff/rng"
)

// Params records the sampled JPEG quality.
type Params struct {
	Quality float64 `json:"quality"`
}

// SampleQuality draws a quality uniform in [lo, hi], rounded to float32 as
// the Real-ESRGAN pipeline draws it into a float32 tensor
// (out.new_zeros(b).uniform_(*jpeg_range)) before calling DiffJPEG.
func SampleQuality(s *rng.Stream, lo, hi float64) Params {
	return Params{Quality: float64(float32(s.Uniform(lo, hi)))}
}

// SampleKAIRQuality draws BSRGAN's JPEG quality, an integer uniform in
// [30, 95] (KAIR add_JPEG_noise), for use with Real.
func SampleKAIRQuality(s *rng.Stream) Params {
	return Params{Quality: float64(s.IntRange(30, 95))}
}

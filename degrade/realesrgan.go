package degrade

import (
	"fmt"
	"math"

	"github.com/degradiff/degradiff/degrade/blur"
	"github.com/degradiff/degradiff/degrade/color"
	"github.com/degradiff/degradiff/degrade/noise"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// resizeModes are Real-ESRGAN's random interpolation modes.
var resizeModes = []string{"area", "bilinear", "bicubic"}

// ResizeParams is one random resize of the Real-ESRGAN pipeline.
type ResizeParams struct {
	Direction string  `json:"direction"` // up, down or keep
	Scale     float64 `json:"scale"`
	Mode      string  `json:"mode"`
}

// NoiseParams is one noise step: Gaussian or Poisson.
type NoiseParams struct {
	Gaussian *noise.GaussianParams `json:"gaussian,omitempty"`
	Poisson  *noise.PoissonParams  `json:"poisson,omitempty"`
}

// RealESRGANParams holds every sampled value of one Real-ESRGAN degradation.
type RealESRGANParams struct {
	Kernel1 blur.Params  `json:"kernel1"`
	Resize1 ResizeParams `json:"resize1"`
	Noise1  NoiseParams  `json:"noise1"`
	JPEG1   float64      `json:"jpeg1"`

	Blur2   bool         `json:"blur2"`
	Kernel2 blur.Params  `json:"kernel2"`
	Resize2 ResizeParams `json:"resize2"`
	Noise2  NoiseParams  `json:"noise2"`

	// FinalOrder is "resize_sinc_jpeg" or "jpeg_resize_sinc".
	FinalOrder string      `json:"final_order"`
	FinalMode  string      `json:"final_mode"`
	Sinc       blur.Params `json:"sinc"`
	JPEG2      float64     `json:"jpeg2"`
	// BackMode is the mode of the optional resize back to the HR size.
	BackMode string `json:"back_mode,omitempty"`
}

type realesrganPipeline struct{ cfg Config }

func (p *realesrganPipeline) Config() Config { return p.cfg }

func (p *realesrganPipeline) PrepareHR(hr *raster.Image, r *rng.Stream) (*raster.Image, HRParams, error) {
	c := p.cfg.RealESRGAN
	out, box, err := modCrop(hr, p.cfg.Scale)
	if err != nil {
		return nil, HRParams{}, err
	}
	hp := HRParams{Crop: box}
	// Draw every augmentation decision whether or not it applies, so that
	// changing one probability does not shift the others.
	jitter := r.Float64() < c.ColorJitterProb
	shift := color.SampleShift(r, c.ColorJitterShift)
	gray := r.Float64() < c.GrayProb
	if jitter {
		out = color.ApplyShift(out, shift)
		v := shift.Shift
		hp.Shift = &v
	}
	if gray {
		out = color.Grayscale(out)
		hp.Gray = true
	}
	if c.USMSharpen {
		out = blur.USMSharp(out)
		hp.Sharpen = true
	}
	return out, hp, nil
}

func sampleResize(r *rng.Stream, probs [3]float64, rang [2]float64) ResizeParams {
	var rp ResizeParams
	switch r.Choice(probs[:]) {
	case 0:
		rp = ResizeParams{Direction: "up", Scale: r.Uniform(1, rang[1])}
	case 1:
		rp = ResizeParams{Direction: "down", Scale: r.Uniform(rang[0], 1)}
	default:
		rp = ResizeParams{Direction: "keep", Scale: 1}
	}
	rp.Mode = resizeModes[r.Intn(len(resizeModes))]
	return rp
}

func sampleNoise(r *rng.Stream, gaussProb float64, sigma, poisson [2]float64, grayProb float64) NoiseParams {
	if r.Float64() < gaussProb {
		g := noise.SampleGaussian(r, noise.GaussianRange{Sigma: sigma, GrayProb: grayProb, Clip: true})
		return NoiseParams{Gaussian: &g}
	}
	ps := noise.SamplePoisson(r, noise.PoissonRange{Scale: poisson, GrayProb: grayProb, Clip: true})
	return NoiseParams{Poisson: &ps}
}

func (p *realesrganPipeline) Sample(r *rng.Stream) Params {
	c := p.cfg.RealESRGAN
	var q RealESRGANParams
	// Kernels first, as RealESRGANDataset draws them before the model runs.
	_, q.Kernel1, _ = c.Kernels.Sample(r)
	_, q.Kernel2, _ = c.Kernels2.Sample(r)
	_, q.Sinc, _ = c.finalSinc().Sample(r)

	q.Resize1 = sampleResize(r, c.ResizeProb, c.ResizeRange)
	q.Noise1 = sampleNoise(r, c.GaussianNoiseProb, c.NoiseRange, c.PoissonScaleRange, c.GrayNoiseProb)
	q.JPEG1 = r.Uniform(c.JPEGRange[0], c.JPEGRange[1])

	q.Blur2 = r.Float64() < c.SecondBlurProb
	q.Resize2 = sampleResize(r, c.ResizeProb2, c.ResizeRange2)
	q.Noise2 = sampleNoise(r, c.GaussianNoiseProb2, c.NoiseRange2, c.PoissonScaleRange2, c.GrayNoiseProb2)

	if r.Float64() < 0.5 {
		q.FinalOrder = "resize_sinc_jpeg"
	} else {
		q.FinalOrder = "jpeg_resize_sinc"
	}
	q.FinalMode = resizeModes[r.Intn(len(resizeModes))]
	q.JPEG2 = r.Uniform(c.JPEGRange2[0], c.JPEGRange2[1])
	if p.cfg.ResizeBack {
		q.BackMode = resizeModes[r.Intn(len(resizeModes))]
	}
	return Params{RealESRGAN: &q}
}

func (p *realesrganPipeline) Apply(hr *raster.Image, params Params, ns *rng.Stream) (*raster.Image, error) {
	q := params.RealESRGAN
	if q == nil {
		return nil, fmt.Errorf("realesrgan: parameters of another pipeline")
	}
	c := p.cfg.RealESRGAN
	scale := p.cfg.Scale
	oriH, oriW := hr.H, hr.W
	jpegOp := func(m *raster.Image, quality float64) *raster.Image {
		m.Clamp()
		if c.JPEGMode == "real" {
			return realJPEG(m, int(math.Round(quality)))
		}
		return diffJPEG(m, quality)
	}
	k1, err := blur.Build(q.Kernel1)
	if err != nil {
		return nil, fmt.Errorf("realesrgan: kernel1: %w", err)
	}
	k2, err := blur.Build(q.Kernel2)
	if err != nil {
		return nil, fmt.Errorf("realesrgan: kernel2: %w", err)
	}
	sinc, err := blur.Build(q.Sinc)
	if err != nil {
		return nil, fmt.Errorf("realesrgan: sinc: %w", err)
	}

	// The first degradation.
	out := blur.Filter2D(hr, k1)
	if out, err = interpScale(out, q.Resize1.Mode, q.Resize1.Scale); err != nil {
		return nil, fmt.Errorf("realesrgan: resize1: %w", err)
	}
	out = applyNoise(out, q.Noise1, ns.Derive("noise1"))
	out = jpegOp(out, q.JPEG1)

	// The second degradation.
	if q.Blur2 {
		out = blur.Filter2D(out, k2)
	}
	h2 := int(float64(oriH) / float64(scale) * q.Resize2.Scale)
	w2 := int(float64(oriW) / float64(scale) * q.Resize2.Scale)
	if out, err = interpSize(out, q.Resize2.Mode, max(h2, 1), max(w2, 1)); err != nil {
		return nil, fmt.Errorf("realesrgan: resize2: %w", err)
	}
	out = applyNoise(out, q.Noise2, ns.Derive("noise2"))

	// Resize to the LR size with the final sinc filter, and JPEG, in one of
	// two orders.
	resizeSinc := func(m *raster.Image) (*raster.Image, error) {
		m, err := interpSize(m, q.FinalMode, oriH/scale, oriW/scale)
		if err != nil {
			return nil, fmt.Errorf("realesrgan: final resize: %w", err)
		}
		return blur.Filter2D(m, sinc), nil
	}
	if q.FinalOrder == "resize_sinc_jpeg" {
		if out, err = resizeSinc(out); err != nil {
			return nil, err
		}
		out = jpegOp(out, q.JPEG2)
	} else {
		out = jpegOp(out, q.JPEG2)
		if out, err = resizeSinc(out); err != nil {
			return nil, err
		}
	}
	if p.cfg.ResizeBack {
		if out, err = interpSize(out, q.BackMode, oriH, oriW); err != nil {
			return nil, fmt.Errorf("realesrgan: resize back: %w", err)
		}
	}
	return out.Round(), nil
}

func applyNoise(m *raster.Image, np NoiseParams, s *rng.Stream) *raster.Image {
	switch {
	case np.Gaussian != nil:
		return noise.AddGaussian(m, *np.Gaussian, s)
	case np.Poisson != nil:
		return noise.AddPoisson(m, *np.Poisson, s)
	}
	return m
}

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

// FaceParams holds every sampled value of one GFPGAN face degradation.
type FaceParams struct {
	Kernel     blur.Params           `json:"kernel"`
	Downsample float64               `json:"downsample"`
	Noise      *noise.GaussianParams `json:"noise,omitempty"`
	Quality    int                   `json:"quality"`
	Shift      *color.ShiftParams    `json:"shift,omitempty"`
	Jitter     *color.JitterParams   `json:"jitter,omitempty"`
	Gray       bool                  `json:"gray,omitempty"`
}

type facePipeline struct{ cfg Config }

func (p *facePipeline) Config() Config { return p.cfg }

func (p *facePipeline) PrepareHR(hr *raster.Image, r *rng.Stream) (*raster.Image, HRParams, error) {
	out, box, err := modCrop(hr, p.cfg.Scale)
	if err != nil {
		return nil, HRParams{}, err
	}
	hp := HRParams{Crop: box}
	// With gt_gray the gray decision is the HR's, shared by every variant.
	if p.cfg.Face.GTGray && r.Float64() < p.cfg.Face.GrayProb {
		out = color.Grayscale(out)
		hp.Gray = true
	}
	return out, hp, nil
}

// mixed is the blur kernel distribution of GFPGAN's degradation.
func (f FaceConfig) mixed() blur.Mixed {
	return blur.Mixed{Kinds: f.KernelList, Probs: f.KernelProb, SigmaX: f.BlurSigma, SigmaY: f.BlurSigma, Rotation: [2]float64{-math.Pi, math.Pi}}
}

func (p *facePipeline) Sample(r *rng.Stream) Params {
	c := p.cfg.Face
	var q FaceParams
	// The config was validated, so Sample cannot fail.
	_, q.Kernel, _ = c.mixed().Sample(r, c.BlurKernelSize)
	q.Downsample = r.Uniform(c.DownsampleRange[0], c.DownsampleRange[1])
	if c.NoiseRange[1] > 0 {
		g := noise.SampleGaussian(r, noise.GaussianRange{Sigma: c.NoiseRange, Clip: true})
		q.Noise = &g
	}
	q.Quality = int(r.Uniform(c.JPEGRange[0], c.JPEGRange[1]))
	if r.Float64() < c.ColorJitterProb {
		s := color.SampleShift(r, c.ColorJitterShift)
		q.Shift = &s
	}
	if !c.GTGray && r.Float64() < c.GrayProb {
		q.Gray = true
	}
	if r.Float64() < c.ColorJitterPtProb {
		j := color.SampleJitter(r, color.DefaultJitterRanges())
		q.Jitter = &j
	}
	return Params{Face: &q}
}

func (p *facePipeline) Apply(hr *raster.Image, params Params, ns *rng.Stream) (*raster.Image, error) {
	q := params.Face
	if q == nil {
		return nil, fmt.Errorf("face: parameters of another pipeline")
	}
	k, err := blur.Build(q.Kernel)
	if err != nil {
		return nil, fmt.Errorf("face: kernel: %w", err)
	}
	outH, outW := hr.H/p.cfg.Scale, hr.W/p.cfg.Scale
	if p.cfg.ResizeBack {
		outH, outW = hr.H, hr.W
	}
	src := hr
	if size := p.cfg.Face.DegradeSize; size > 0 && min(hr.H, hr.W) != size {
		s := float64(size) / float64(min(hr.H, hr.W))
		if src, err = cvResize(hr, "cubic", max(int(math.Round(float64(hr.H)*s)), 1), max(int(math.Round(float64(hr.W)*s)), 1)); err != nil {
			return nil, fmt.Errorf("face: resize to degrade_size: %w", err)
		}
	}
	// cv2.filter2D: correlation with BORDER_REFLECT_101, as Filter2D.
	img := blur.Filter2D(src, k)
	h, w := src.H, src.W
	img, err = cvResize(img, "linear", max(int(float64(h)/q.Downsample), 1), max(int(float64(w)/q.Downsample), 1))
	if err != nil {
		return nil, fmt.Errorf("face: downsample: %w", err)
	}
	if q.Noise != nil {
		img = noise.AddGaussian(img, *q.Noise, ns.Derive("noise"))
	}
	img = realJPEG(img, q.Quality)
	if src == hr {
		if img, err = cvResize(img, "linear", outH, outW); err != nil {
			return nil, fmt.Errorf("face: resize back: %w", err)
		}
	} else {
		// Back to the degrade size as GFPGAN, then to the output size.
		if img, err = cvResize(img, "linear", h, w); err != nil {
			return nil, fmt.Errorf("face: resize back: %w", err)
		}
		interp := "area"
		if outH > h {
			interp = "cubic"
		}
		if img, err = cvResize(img, interp, outH, outW); err != nil {
			return nil, fmt.Errorf("face: resize to the output size: %w", err)
		}
	}
	if q.Shift != nil {
		img = color.ApplyShift(img, *q.Shift)
	}
	if q.Gray || (p.cfg.Face.GTGray && isGray(hr)) {
		img = color.Grayscale(img)
	}
	if q.Jitter != nil {
		img = color.ApplyJitter(img, *q.Jitter)
	}
	return img.Round(), nil
}

// isGray reports whether all three planes of m are equal.
func isGray(m *raster.Image) bool {
	if m.C != 3 {
		return m.C == 1
	}
	r, g, b := m.Plane(0), m.Plane(1), m.Plane(2)
	for i := range r {
		if r[i] != g[i] || r[i] != b[i] {
			return false
		}
	}
	return true
}

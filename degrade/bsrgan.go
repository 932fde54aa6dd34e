package degrade

import (
	"fmt"

	"github.com/degradiff/degradiff/degrade/blur"
	"github.com/degradiff/degradiff/degrade/noise"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// OpenCV interpolation codes that KAIR draws from: INTER_LINEAR,
// INTER_CUBIC, INTER_AREA.
var cvInterps = []string{"linear", "cubic", "area"}

// BSRGANStep is one operation of the shuffled BSRGAN sequence; Op names it
// and the matching field holds its parameters.
type BSRGANStep struct {
	Op string `json:"op"` // blur, downsample2, downsample3, resize, gaussian_noise, poisson_noise, speckle_noise, jpeg, skip
	// Blur is the kernel of a blur step (applied by true convolution with
	// mirror padding, as scipy.ndimage.convolve).
	Blur *blur.Params `json:"blur,omitempty"`
	// Factor is the downscaling factor of downsample2 or the scale of resize.
	Factor float64 `json:"factor,omitempty"`
	// Interp is the OpenCV interpolation of a resize (linear, cubic, area).
	Interp string `json:"interp,omitempty"`
	// ShiftedSigma is set when downsample2 blurs with a shifted Gaussian
	// and keeps every sf-th pixel instead of resizing.
	ShiftedSigma float64                  `json:"shifted_sigma,omitempty"`
	SF           int                      `json:"sf,omitempty"`
	Noise        *noise.KAIRNoiseParams   `json:"noise,omitempty"`
	Poisson      *noise.KAIRPoissonParams `json:"poisson,omitempty"`
	Quality      int                      `json:"quality,omitempty"`
}

// BSRGANParams holds every sampled value of one BSRGAN degradation.
type BSRGANParams struct {
	Plus bool `json:"plus"`
	// Halve is the optional first downsampling by 2 ("matlab" imresize or
	// an OpenCV interpolation); empty when not drawn.
	Halve string `json:"halve,omitempty"`
	// Order is the sequence of operation indices as KAIR numbers them.
	Order []int        `json:"order"`
	Steps []BSRGANStep `json:"steps"`
	// FinalInterp is the final resize to HR/scale (plus only).
	FinalInterp  string `json:"final_interp,omitempty"`
	FinalQuality int    `json:"final_quality"`
}

type bsrganPipeline struct{ cfg Config }

func (p *bsrganPipeline) Config() Config { return p.cfg }

func (p *bsrganPipeline) PrepareHR(hr *raster.Image, r *rng.Stream) (*raster.Image, HRParams, error) {
	out, box, err := modCrop(hr, p.cfg.Scale)
	if err != nil {
		return nil, HRParams{}, err
	}
	hp := HRParams{Crop: box}
	if p.cfg.BSRGAN.Plus && p.cfg.BSRGAN.SharpenHR {
		out = blur.USMSharp(out)
		hp.Sharpen = true
	}
	return out, hp, nil
}

func (p *bsrganPipeline) quality(r *rng.Stream) int {
	q := p.cfg.BSRGAN.JPEGQuality
	return r.IntRange(q[0], q[1])
}

func (p *bsrganPipeline) blurStep(r *rng.Stream, sf int) BSRGANStep {
	_, kp, err := blur.SampleBSRGAN(r, float64(sf))
	if err != nil {
		// A zero draw (probability 2^-53): fall back to the identity.
		kp = blur.Params{Type: blur.TypePulse, Size: 1}
	}
	return BSRGANStep{Op: "blur", Blur: &kp}
}

func (p *bsrganPipeline) Sample(r *rng.Stream) Params {
	c := p.cfg.BSRGAN
	sf := p.cfg.Scale
	q := BSRGANParams{Plus: c.Plus}
	noiseStep := func() BSRGANStep {
		n := noise.SampleKAIRNoise(r, c.NoiseLevel[0], c.NoiseLevel[1])
		return BSRGANStep{Op: "gaussian_noise", Noise: &n}
	}
	if !c.Plus {
		if sf == 4 && r.Float64() < c.Scale2Prob {
			if r.Float64() < 0.5 {
				q.Halve = cvInterps[r.Intn(3)]
			} else {
				q.Halve = "matlab"
			}
			sf = 2
		}
		order := r.Perm(7)
		i2, i3 := indexOf(order, 2), indexOf(order, 3)
		if i2 > i3 { // keep downsample3 after downsample2
			order[i2], order[i3] = order[i3], order[i2]
		}
		q.Order = order
		for _, op := range order {
			switch op {
			case 0, 1:
				q.Steps = append(q.Steps, p.blurStep(r, sf))
			case 2:
				if r.Float64() < 0.75 {
					q.Steps = append(q.Steps, BSRGANStep{Op: "downsample2", Factor: r.Uniform(1, 2*float64(sf)), Interp: cvInterps[r.Intn(3)]})
				} else {
					q.Steps = append(q.Steps, BSRGANStep{Op: "downsample2", ShiftedSigma: r.Uniform(0.1, 0.6*float64(sf)), SF: sf})
				}
			case 3:
				q.Steps = append(q.Steps, BSRGANStep{Op: "downsample3", SF: sf, Interp: cvInterps[r.Intn(3)]})
			case 4:
				q.Steps = append(q.Steps, noiseStep())
			case 5:
				if r.Float64() < c.JPEGProb {
					q.Steps = append(q.Steps, BSRGANStep{Op: "jpeg", Quality: p.quality(r)})
				} else {
					q.Steps = append(q.Steps, BSRGANStep{Op: "skip"})
				}
			case 6: // camera ISP: needs a model KAIR does not ship
				q.Steps = append(q.Steps, BSRGANStep{Op: "skip"})
			}
		}
		q.FinalQuality = p.quality(r)
		return Params{BSRGAN: &q}
	}
	// degradation_bsrgan_plus: 13 steps, shuffled with probability shuffle_prob.
	if r.Float64() < c.ShuffleProb {
		q.Order = r.Perm(13)
	} else {
		q.Order = []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	}
	for _, op := range q.Order {
		switch op {
		case 0, 7:
			q.Steps = append(q.Steps, p.blurStep(r, sf))
		case 1, 8:
			resSF := sf
			if op == 1 {
				resSF = 4 // KAIR calls add_resize(img, sf=4) here
			}
			q.Steps = append(q.Steps, sampleKAIRResize(r, resSF))
		case 2, 9:
			q.Steps = append(q.Steps, noiseStep())
		case 3, 10:
			if r.Float64() < c.PoissonProb {
				pp := noise.SampleKAIRPoisson(r)
				q.Steps = append(q.Steps, BSRGANStep{Op: "poisson_noise", Poisson: &pp})
			} else {
				q.Steps = append(q.Steps, BSRGANStep{Op: "skip"})
			}
		case 4, 11:
			if r.Float64() < c.SpeckleProb {
				n := noise.SampleKAIRNoise(r, c.NoiseLevel[0], c.NoiseLevel[1])
				q.Steps = append(q.Steps, BSRGANStep{Op: "speckle_noise", Noise: &n})
			} else {
				q.Steps = append(q.Steps, BSRGANStep{Op: "skip"})
			}
		case 5, 12:
			q.Steps = append(q.Steps, BSRGANStep{Op: "skip"}) // camera ISP
		case 6:
			q.Steps = append(q.Steps, BSRGANStep{Op: "jpeg", Quality: p.quality(r)})
		}
	}
	q.FinalInterp = cvInterps[r.Intn(3)]
	q.FinalQuality = p.quality(r)
	return Params{BSRGAN: &q}
}

// sampleKAIRResize draws KAIR's add_resize: up (1-2x) with probability 0.2,
// down (0.5/sf-1x) with 0.7, keep otherwise, with a random interpolation.
func sampleKAIRResize(r *rng.Stream, sf int) BSRGANStep {
	u := r.Float64()
	var f float64
	switch {
	case u > 0.8:
		f = r.Uniform(1, 2)
	case u < 0.7:
		f = r.Uniform(0.5/float64(sf), 1)
	default:
		f = 1
	}
	return BSRGANStep{Op: "resize", Factor: f, Interp: cvInterps[r.Intn(3)]}
}

func indexOf(xs []int, v int) int {
	for i, x := range xs {
		if x == v {
			return i
		}
	}
	return -1
}

func (p *bsrganPipeline) Apply(hr *raster.Image, params Params, ns *rng.Stream) (*raster.Image, error) {
	q := params.BSRGAN
	if q == nil {
		return nil, fmt.Errorf("bsrgan: parameters of another pipeline")
	}
	img := hr.Clone()
	var err error
	if q.Halve != "" {
		if q.Halve == "matlab" {
			img, err = matlabResize(img, 0.5)
		} else {
			img, err = cvResize(img, q.Halve, img.H/2, img.W/2)
		}
		if err != nil {
			return nil, fmt.Errorf("bsrgan: halve: %w", err)
		}
		img.Clamp()
	}
	// a, b: the size before downsample2, which downsample3 divides.
	preH, preW := img.H, img.W
	for i, st := range q.Steps {
		s := ns.Derive("step", fmt.Sprint(i))
		switch st.Op {
		case "blur":
			k, err := blur.Build(*st.Blur)
			if err != nil {
				return nil, fmt.Errorf("bsrgan: step %d: %w", i, err)
			}
			img = blur.Convolve(img, k)
		case "downsample2":
			preH, preW = img.H, img.W
			if st.ShiftedSigma > 0 {
				k := shiftKernel(blur.FspecialGaussian(25, st.ShiftedSigma), st.SF)
				img = strided(blur.Convolve(img, k), st.SF)
			} else {
				img, err = cvResize(img, st.Interp, int(float64(img.H)/st.Factor), int(float64(img.W)/st.Factor))
			}
			img.Clamp()
		case "downsample3":
			img, err = cvResize(img, st.Interp, int(float64(preH)/float64(st.SF)), int(float64(preW)/float64(st.SF)))
			img.Clamp()
		case "resize":
			img, err = cvResize(img, st.Interp, int(st.Factor*float64(img.H)), int(st.Factor*float64(img.W)))
			img.Clamp()
		case "gaussian_noise":
			img = noise.AddKAIRGaussian(img, *st.Noise, s)
		case "speckle_noise":
			img = noise.AddKAIRSpeckle(img, *st.Noise, s)
		case "poisson_noise":
			img = noise.AddKAIRPoisson(img, *st.Poisson, s)
		case "jpeg":
			img = realJPEG(img, st.Quality)
		case "skip":
		default:
			return nil, fmt.Errorf("bsrgan: step %d: unknown op %q", i, st.Op)
		}
		if err != nil {
			return nil, fmt.Errorf("bsrgan: step %d (%s): %w", i, st.Op, err)
		}
	}
	if q.Plus {
		img, err = cvResize(img, q.FinalInterp, hr.H/p.cfg.Scale, hr.W/p.cfg.Scale)
		if err != nil {
			return nil, fmt.Errorf("bsrgan: final resize: %w", err)
		}
	}
	img = realJPEG(img, q.FinalQuality)
	if p.cfg.ResizeBack {
		if img, err = interpSize(img, "bicubic", hr.H, hr.W); err != nil {
			return nil, fmt.Errorf("bsrgan: resize back: %w", err)
		}
	}
	return img.Round(), nil
}

// shiftKernel moves a kernel by (sf-1)/2 pixels towards the upper left with
// bilinear interpolation and renormalises it, as KAIR's shift_pixel does
// (scipy interp2d, coordinates clipped to the kernel), so that keeping every
// sf-th pixel after blurring stays aligned with the HR grid.
func shiftKernel(k blur.Kernel, sf int) blur.Kernel {
	n := k.Size
	shift := float64(sf-1) * 0.5
	out := blur.NewKernel(n)
	coord := func(i int) (int, int, float64) {
		x := min(max(float64(i)+shift, 0), float64(n-1))
		x0 := int(x)
		x1 := min(x0+1, n-1)
		return x0, x1, x - float64(x0)
	}
	sum := 0.0
	for y := 0; y < n; y++ {
		y0, y1, fy := coord(y)
		for x := 0; x < n; x++ {
			x0, x1, fx := coord(x)
			v := (1-fy)*((1-fx)*k.At(y0, x0)+fx*k.At(y0, x1)) + fy*((1-fx)*k.At(y1, x0)+fx*k.At(y1, x1))
			out.W[y*n+x] = v
			sum += v
		}
	}
	for i := range out.W {
		out.W[i] /= sum
	}
	return out
}

// strided keeps every sf-th pixel starting at 0 (nearest downsampling).
func strided(m *raster.Image, sf int) *raster.Image {
	h, w := (m.H+sf-1)/sf, (m.W+sf-1)/sf
	out := raster.New(m.C, h, w)
	for c := 0; c < m.C; c++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				out.Set(c, y, x, m.At(c, y*sf, x*sf))
			}
		}
	}
	return out
}

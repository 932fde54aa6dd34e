// Package diagnose measures what a diffusion model does to low-quality
// images, the two questions behind the method's claim that refinement moves
// an initial LQ image into the real LQ distribution while keeping its
// content:
//
//   - Self-consistency: real LQ images refined as if they were initial LQ
//     images. A model of the real LQ distribution leaves them in it: the
//     gap between refined real images and other real images should stay at
//     the level of two halves of the real set against each other (the
//     reference), and their content should be kept.
//   - The realism–fidelity curve: initial LQ images from a degradation
//     pipeline, refined at increasing strengths. Realism is the gap to real
//     LQ images; fidelity is PSNR and SSIM of the refined image against
//     its initial image, plain and after a Gaussian low-pass that ignores
//     fine-scale degradation (noise, compression, texture), so that "the
//     content is kept" is measured apart from "the degradation changed".
//     A better model moves the curve toward "closer and faithful".
//
// The package does not run a model itself: callers pass a Refiner (package
// synth provides one for any diffusion model), so it depends on the
// metrics alone.
package diagnose

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/degradiff/degradiff/degrade/blur"
	"github.com/degradiff/degradiff/measure"
	"github.com/degradiff/degradiff/measure/fidelity"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// Refiner refines an image (3 planes in [0, 1]) at an img2img strength.
// name identifies the image; a Refiner should key its random draws by
// (name, strength) so that results do not depend on order.
type Refiner func(img *raster.Image, strength float64, name string) (*raster.Image, error)

// DefaultStrengths are the strengths of the issue that defined the
// diagnostics: the reference implementation refines at up to 0.25.
var DefaultStrengths = []float64{0.05, 0.1, 0.15, 0.25}

// Options configures the diagnostics.
type Options struct {
	// Strengths at which every image is refined (DefaultStrengths when
	// empty). Each must be in (0, 1].
	Strengths []float64 `json:"strengths"`
	// Uniform, when positive, adds a point where each image is refined at
	// its own strength drawn uniformly in [0, Uniform] (keyed by Seed and
	// the image's name), as synth draws strengths.
	Uniform float64 `json:"uniform,omitempty"`
	// LowPassSigma is the standard deviation in pixels of the Gaussian
	// low-pass applied before the low-pass fidelity (default 1.5).
	LowPassSigma float64 `json:"low_pass_sigma"`
	// Gap configures the realism measures (measure.Gap).
	Gap measure.Options `json:"gap"`
	// Seed keys the half split and the uniform strengths.
	Seed uint64 `json:"seed"`
	// Progress, if not nil, is called after each refinement.
	Progress func(done, total int) `json:"-"`
}

func (o Options) withDefaults() (Options, error) {
	if len(o.Strengths) == 0 {
		o.Strengths = DefaultStrengths
	}
	for _, s := range o.Strengths {
		if !(s > 0 && s <= 1) {
			return o, fmt.Errorf("diagnose: strength %v is outside (0, 1]", s)
		}
	}
	if !(o.Uniform >= 0 && o.Uniform <= 1) {
		return o, fmt.Errorf("diagnose: uniform strength bound %v is outside [0, 1]", o.Uniform)
	}
	if o.LowPassSigma == 0 {
		o.LowPassSigma = 1.5
	}
	if !(o.LowPassSigma > 0 && o.LowPassSigma <= 20) {
		return o, fmt.Errorf("diagnose: low-pass sigma %v is outside (0, 20]", o.LowPassSigma)
	}
	return o, nil
}

// Realism summarises a measure.Report: lower is closer.
type Realism struct {
	KID    float64 `json:"kid"`
	KIDStd float64 `json:"kid_std"`
	FD     float64 `json:"fd"`
	// C2ST is the classifier test's accuracy with its interval; absent
	// when the test was skipped.
	C2ST     *float64 `json:"c2st,omitempty"`
	C2STLow  *float64 `json:"c2st_low,omitempty"`
	C2STHigh *float64 `json:"c2st_high,omitempty"`
	// Features holds the effect (standardised mean difference, refined or
	// synthetic minus real) of every degradation feature, by name: which
	// statistic a model moves, and which way (noise_chroma, blur_crete, ...).
	Features map[string]float64 `json:"features,omitempty"`
}

func realismOf(r measure.Report) Realism {
	out := Realism{KID: r.KID.Mean, KIDStd: r.KID.Std, FD: r.FD, Features: map[string]float64{}}
	for _, f := range r.Features {
		out.Features[f.Name] = f.Effect
	}
	if r.C2ST != nil {
		a, lo, hi := r.C2ST.Accuracy, r.C2ST.CILow, r.C2ST.CIHigh
		out.C2ST, out.C2STLow, out.C2STHigh = &a, &lo, &hi
	}
	return out
}

// Fidelity compares refined images with the images they started from, as
// means over the images (PSNR in dB on 8-bit RGB, SSIM on RGB).
type Fidelity struct {
	PSNR float64 `json:"psnr"`
	SSIM float64 `json:"ssim"`
	// LowPSNR and LowSSIM compare the two images after the Gaussian
	// low-pass; LowPSNRMin is the worst image.
	LowPSNR    float64 `json:"low_psnr"`
	LowSSIM    float64 `json:"low_ssim"`
	LowPSNRMin float64 `json:"low_psnr_min"`
	Images     int     `json:"images"`
}

// Point is one strength of a diagnostic.
type Point struct {
	// Strength is the img2img strength, or the bound of the uniform draw
	// when Uniform is set.
	Strength float64  `json:"strength"`
	Uniform  bool     `json:"uniform,omitempty"`
	Realism  Realism  `json:"realism"`
	Fidelity Fidelity `json:"fidelity"`
}

// Label names the point's strength for tables and plots.
func (p Point) Label() string {
	if p.Uniform {
		return fmt.Sprintf("U[0,%g]", p.Strength)
	}
	return fmt.Sprintf("%g", p.Strength)
}

// SelfConsistencyResult is the outcome of SelfConsistency.
type SelfConsistencyResult struct {
	// Reference is half A of the real images against half B: the level a
	// perfect model's refined images stay at.
	Reference Realism `json:"reference"`
	// Points: refined half A against half B (realism) and against the
	// unrefined half A (fidelity).
	Points       []Point  `json:"points"`
	HalfA, HalfB []string `json:"-"`
	Images       int      `json:"images"`
}

// SelfConsistency refines one half of the real images at each strength
// and measures the result against the other half. The halves are drawn by
// a keyed hash of the names, so they do not depend on the order.
func SelfConsistency(real []measure.Image, refine Refiner, opt Options) (*SelfConsistencyResult, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(real) < 4 {
		return nil, fmt.Errorf("diagnose: self-consistency needs at least 4 real images, got %d", len(real))
	}
	a, b := halves(real, opt.Seed)
	res := &SelfConsistencyResult{Images: len(real)}
	for _, m := range a {
		res.HalfA = append(res.HalfA, m.Name)
	}
	for _, m := range b {
		res.HalfB = append(res.HalfB, m.Name)
	}
	ref, err := measure.Gap(measure.Images(b), measure.Images(a), opt.Gap)
	if err != nil {
		return nil, fmt.Errorf("diagnose: real against real: %w", err)
	}
	res.Reference = realismOf(ref)
	res.Points, err = points(a, measure.Images(b), refine, opt)
	return res, err
}

// Curve is the realism–fidelity curve of one model.
type Curve struct {
	Model string `json:"model"`
	// Points start with strength 0: the initial images themselves.
	Points []Point `json:"points"`
}

// RealismFidelity refines the initial LQ images at each strength and
// measures realism against the real images and fidelity against the
// initial images. The first point (strength 0) measures the initial images
// themselves.
func RealismFidelity(model string, inits []measure.Image, real measure.Source, refine Refiner, opt Options) (*Curve, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(inits) == 0 {
		return nil, errors.New("diagnose: no initial images")
	}
	rep, err := measure.Gap(real, measure.Images(inits), opt.Gap)
	if err != nil {
		return nil, fmt.Errorf("diagnose: initial images: %w", err)
	}
	c := &Curve{Model: model, Points: []Point{{Realism: realismOf(rep),
		Fidelity: Fidelity{PSNR: maxPSNR, SSIM: 1, LowPSNR: maxPSNR, LowSSIM: 1, LowPSNRMin: maxPSNR, Images: len(inits)}}}}
	pts, err := points(inits, real, refine, opt)
	c.Points = append(c.Points, pts...)
	return c, err
}

// points refines imgs at every strength of opt (and the uniform draw) and
// measures each set against ref.
func points(imgs []measure.Image, ref measure.Source, refine Refiner, opt Options) ([]Point, error) {
	type job struct {
		strength float64
		uniform  bool
	}
	var jobs []job
	for _, s := range opt.Strengths {
		jobs = append(jobs, job{s, false})
	}
	if opt.Uniform > 0 {
		jobs = append(jobs, job{opt.Uniform, true})
	}
	total, done := len(jobs)*len(imgs), 0
	lowPass := blur.LowPass(opt.LowPassSigma)
	lows := make([]*raster.Image, len(imgs))
	for i, m := range imgs {
		lows[i] = blur.Filter2D(rgb(m.Image), lowPass)
	}
	var out []Point
	for _, j := range jobs {
		refined := make([]measure.Image, len(imgs))
		fid := Fidelity{LowPSNRMin: math.Inf(1), Images: len(imgs)}
		for i, m := range imgs {
			s := j.strength
			if j.uniform {
				s = rng.New(opt.Seed, "diagnose-uniform", m.Name).Float64() * j.strength
			}
			r := rgb(m.Image)
			if s > 0 {
				var err error
				if r, err = refine(r, s, m.Name); err != nil {
					return out, fmt.Errorf("diagnose: refining %s at strength %g: %w", m.Name, s, err)
				}
			}
			refined[i] = measure.Image{Name: m.Name, Image: r}
			src := rgb(m.Image)
			fid.PSNR += capped(fidelity.PSNR(r, src, fidelity.Options{}))
			fid.SSIM += fidelity.SSIM(r, src, fidelity.Options{})
			low := blur.Filter2D(r, lowPass)
			lp := capped(fidelity.PSNR(low, lows[i], fidelity.Options{}))
			fid.LowPSNR += lp
			fid.LowPSNRMin = math.Min(fid.LowPSNRMin, lp)
			fid.LowSSIM += fidelity.SSIM(low, lows[i], fidelity.Options{})
			done++
			if opt.Progress != nil {
				opt.Progress(done, total)
			}
		}
		n := float64(len(imgs))
		fid.PSNR, fid.SSIM, fid.LowPSNR, fid.LowSSIM = fid.PSNR/n, fid.SSIM/n, fid.LowPSNR/n, fid.LowSSIM/n
		rep, err := measure.Gap(ref, measure.Images(refined), opt.Gap)
		if err != nil {
			return out, fmt.Errorf("diagnose: strength %g: %w", j.strength, err)
		}
		out = append(out, Point{Strength: j.strength, Uniform: j.uniform, Realism: realismOf(rep), Fidelity: fid})
	}
	return out, nil
}

// maxPSNR caps the PSNR of identical images (the initial images against
// themselves) so that means stay finite and JSON can hold them: 8-bit
// images of 128x128 that differ in one value of one pixel are at about
// 100 dB.
const maxPSNR = 100

func capped(p float64) float64 { return math.Min(p, maxPSNR) }

// rgb returns m with three planes (gray images repeated).
func rgb(m *raster.Image) *raster.Image {
	if m.C == 3 {
		return m
	}
	out := raster.New(3, m.H, m.W)
	n := m.H * m.W
	for c := 0; c < 3; c++ {
		copy(out.Pix[c*n:(c+1)*n], m.Pix[:n])
	}
	return out
}

// halves splits imgs in two halves by a keyed hash of their names.
func halves(imgs []measure.Image, seed uint64) (a, b []measure.Image) {
	idx := make([]int, len(imgs))
	keys := make([]uint64, len(imgs))
	for i := range idx {
		idx[i] = i
		keys[i] = rng.New(seed, "diagnose-half", imgs[i].Name).Uint64()
	}
	sort.Slice(idx, func(x, y int) bool { return keys[idx[x]] < keys[idx[y]] })
	for k, i := range idx {
		if k < len(idx)/2 {
			a = append(a, imgs[i])
		} else {
			b = append(b, imgs[i])
		}
	}
	return a, b
}

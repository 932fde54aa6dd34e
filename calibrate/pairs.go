package calibrate

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/degrade/blur"
	"github.com/degradiff/degradiff/degrade/resize"
	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/measure/fidelity"
	"github.com/degradiff/degradiff/measure/response"
	"github.com/degradiff/degradiff/pairset/pairread"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/synth"
)

// ObjectivePSNR is the objective of a fit to real pairs: the mean Y-PSNR
// of each degraded HR crop against the real LR crop of the same scene,
// negated so that lower is closer. (Comparing both after a low-pass
// instead was tried on RealSR and fitted a degradation far too sharp:
// nothing held the frequencies the low-pass removes; docs/RESULTS.md.)
const ObjectivePSNR = "psnr"

// ObjectiveResponse is the other objective of a fit to real pairs: how far
// the degradation's frequency response is from the camera's, pair by
// pair. Each response is that of the ResponseSize x ResponseSize filter
// (LR pixels, on the luma) that best maps a pair's HR crops downscaled
// without blur to, respectively, their degraded crops and their real LR
// crops (package measure/response); the objective is the mean over the
// pairs fitted on of response.Distance between the two, the RMS log ratio
// of their gains from 0.05 cycles per LR pixel to Nyquist. PSNR weighs
// each frequency by the power the scenes have there, so it fits the low
// frequencies and lets the high ones go; a network trained on the pairs
// learns to undo the degradation's gain at every frequency, so this
// objective weighs them alike. Pair by pair, because a degradation that
// draws very different blurs can have the cameras' response on average
// while no image has it: a response pooled over all pairs, tried first on
// RealSR, fitted such a mixture.
const ObjectiveResponse = "response"

// ObjectiveLinearSR is the third objective of a fit to real pairs, the
// closest to the downstream question: how well the simplest restorer the
// degradation can train restores the real LR crops. That restorer is a
// linear upscaler (response.Upscaler: a LinearSRSize x LinearSRSize LR
// neighbourhood per HR phase, least squares on the luma) fitted to the
// degraded crops and their HR crops; the objective is its mean Y-PSNR on
// the real LR crops against the same HR crops, negated. A network learns
// to undo what its degradation does; where the degradation loses more
// than the camera, it over-sharpens the camera's images, where it loses
// less, it under-sharpens them, and this score weighs the two as PSNR
// does downstream. On RealSR it ordered six SR networks' test PSNRs
// but for one swap (docs/RESULTS.md).
const ObjectiveLinearSR = "linear-sr"

// LinearSRSize is the LR neighbourhood of ObjectiveLinearSR's upscaler.
const LinearSRSize = 5

// PairedObjectives are the objectives of a fit to real pairs; the first
// is the default.
var PairedObjectives = []string{ObjectivePSNR, ObjectiveResponse, ObjectiveLinearSR}

// higherIsBetter reports an objective whose value is a PSNR, negated as
// a proxy.
func higherIsBetter(objective string) bool {
	return objective == ObjectivePSNR || objective == ObjectiveLinearSR
}

// ResponseSize is the size, in LR pixels, of the filters of
// ObjectiveResponse and of the response of held-out pairs.
const ResponseSize = 7

// CoarseGroups are the groups a fit to real pairs moves by default. A
// paired fit rewards the degradation that predicts each real LR image
// best, and noise or JPEG artefacts, which are not the same draw as the
// camera's, only lower that: it would switch them off. Blur, resizing and
// the final sinc shape what the camera keeps of the scene, which pairs
// measure well; noise and compression are left to the configuration
// given (or to the diffusion model).
var CoarseGroups = []string{"blur", "kernel", "resize", "sinc"}

// PairBorder is the LR border of each crop left out of its PSNR: the
// degradation pads the crop's edges, while the camera saw past them.
const PairBorder = 4

// lowPassSigma is the Gaussian, in LR pixels, that removes noise and
// compression before the low-pass comparison of held-out pairs.
const lowPassSigma = 1.5

// PairFit is how well a configuration explains held-out real pairs: the
// mean Y-PSNR of its LR images (whole images, another degradation seed
// than the fit's, border of the scale left out) against the real ones,
// plain and after a Gaussian low-pass of sigma 1.5 LR pixels that ignores
// noise and compression.
//
// Response is the distance of the degradation's frequency response from
// the camera's on the same images (ObjectiveResponse), and Gains and
// CameraGains are the two responses at response.Frequencies. PairResponse
// is the mean over the pairs of the same distance between the responses
// fitted on each pair alone: a degradation that draws very different
// blurs can have the cameras' mean response (small Response) while no
// single image has it (large PairResponse).
type PairFit struct {
	Pairs        int     `json:"pairs"`
	PSNR         float64 `json:"psnr"`
	LowPSNR      float64 `json:"low_psnr"`
	Response     float64 `json:"response"`
	PairResponse float64 `json:"pair_response"`
	// LinearSR is the Y-PSNR on the held-out pairs of the linear upscaler
	// of ObjectiveLinearSR fitted to the degraded crops fitted on.
	LinearSR    float64   `json:"linear_sr"`
	Gains       []float64 `json:"gains"`
	CameraGains []float64 `json:"camera_gains"`
}

// proxy is the objective on the held-out pairs: lower is closer.
func (f *PairFit) proxy(objective string) float64 {
	switch objective {
	case ObjectiveResponse:
		return f.PairResponse
	case ObjectiveLinearSR:
		return -f.LinearSR
	}
	return -f.PSNR
}

// PreparePairs is Prepare for real pairs (a camera's HR and LR images of
// the same scenes): the pairs are split by a hash of their names as
// Split does, the fit compares aligned crops of the pairs it keeps
// (opt.Crop HR pixels every opt.CropStep, at most opt.MaxCrops) by one of
// PairedObjectives, and the held-out pairs are measured at the end both
// as pairs (PairFit) and, by their LR images, as unpaired real LQ images
// (KID, FD, classifier). Without opt.Groups it fits the CoarseGroups the
// pipeline has.
func PreparePairs(set *pairread.Set, opt Options) (*Problem, error) {
	if opt.Objective == "" {
		opt.Objective = ObjectivePSNR
	}
	if !slices.Contains(PairedObjectives, opt.Objective) {
		return nil, fmt.Errorf("--objective: %s compares feature statistics with unpaired images; a fit to --pairs uses %s", opt.Objective, strings.Join(PairedObjectives, ", "))
	}
	if opt.Step != nil {
		// The paired objectives compare each degraded crop with its real
		// LR crop pixel by pixel, which the step's random changes do not
		// serve.
		return nil, fmt.Errorf("--model: a fit through the diffusion step takes --real-lq and --hq, not --pairs")
	}
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	opt = opt.WithDefaults()
	if set.Scale != opt.Base.Scale {
		return nil, fmt.Errorf("--pairs %s: opened at scale %d, the degradation's is %d", set.Dir, set.Scale, opt.Base.Scale)
	}
	if len(opt.Groups) == 0 {
		all, err := NewSpace(opt.Base, nil)
		if err != nil {
			return nil, err
		}
		for _, g := range CoarseGroups {
			if slices.ContainsFunc(all.Knobs, func(k Knob) bool { return k.Group == g }) {
				opt.Groups = append(opt.Groups, g)
			}
		}
		if len(opt.Groups) == 0 {
			return nil, fmt.Errorf("--fit: the %s pipeline has none of the groups a paired fit moves by default (%v): name the groups to fit", opt.Base.Type, CoarseGroups)
		}
	}
	if opt.Objective == ObjectiveLinearSR && opt.Log != nil && (slices.Contains(opt.Groups, "noise") || slices.Contains(opt.Groups, "jpeg")) {
		// On RealSR such a fit went to JPEG quality 20 and strong noise
		// (docs/RESULTS.md): a linear upscaler is served by them in ways
		// no network is.
		fmt.Fprintf(opt.Log, "calibrate: warning: --objective %s scores a linear upscaler, which noise and JPEG can fool; fit the coarse groups (%s) and keep noise and JPEG light in --config\n", ObjectiveLinearSR, strings.Join(CoarseGroups, ","))
	}
	space, err := NewSpace(opt.Base, opt.Groups)
	if err != nil {
		return nil, err
	}
	lrs := make(Files, set.Len())
	index := map[string]int{}
	for i, p := range set.Pairs {
		lrs[i] = File{Name: p.Name, Path: p.LRPath}
		index[p.Name] = i
	}
	fit, held, err := split(lrs, opt.Holdout, "--pairs", "pairs")
	if err != nil {
		return nil, err
	}
	sc := set.Scale
	size, step := opt.Crop/sc, max(1, opt.CropStep/sc)
	var crops []Crop
	pairOf := map[string]int{} // crop name -> pair index
	for _, f := range fit {
		i := index[f.Name]
		p := set.Pairs[i]
		for j, b := range synth.Crops(p.LRH, p.LRW, size, step, 0) {
			c := Crop{Name: synth.CropName(p.Name, j+1), File: p.HRPath, Box: [4]int{b[0] * sc, b[1] * sc, b[2] * sc, b[3] * sc}}
			crops, pairOf[c.Name] = append(crops, c), i
		}
	}
	if len(crops) == 0 {
		return nil, fmt.Errorf("--crop: no pair fitted on has an LR image of at least %dx%d pixels (--crop %d at scale %d)", size, size, opt.Crop, sc)
	}
	kept := keepRandom(crops, opt.MaxCrops, opt.Seed)
	p := &Problem{Opt: opt, Space: space, Fit: fit, Held: held, Crops: kept, set: set}
	p.imgs, p.lrs = make([]*raster.Image, len(kept)), make([]*raster.Image, len(kept))
	errs := make([]error, len(kept))
	parallel.For(len(kept), 1, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			b := kept[k].Box // HR pixels, multiples of the scale
			p.imgs[k], p.lrs[k], errs[k] = set.LoadPatch(pairOf[kept[k].Name], b[0]/sc, b[1]/sc, b[2]/sc, b[3]/sc)
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("--pairs: %w", err)
	}
	if opt.Objective == ObjectiveResponse {
		if err := p.prepareResponse(pairOf); err != nil {
			return nil, err
		}
	}
	for _, f := range held {
		p.heldPairs = append(p.heldPairs, index[f.Name])
	}
	// The held-out LR images are also unpaired real LQ images: the final
	// measures compare the fit with them as a fit without pairs would be.
	feats, used, err := realFeatures(held, opt.Features)
	if err != nil {
		return nil, err
	}
	if used < 2 {
		return nil, fmt.Errorf("--pairs: %d of the %d held-out LR images are at least %dx%d pixels (the feature crops), need 2",
			used, len(held), opt.Features.PatchSize, opt.Features.PatchSize)
	}
	p.held = newTarget("moments", feats)
	return p, nil
}

// downscale reduces an HR image by scale without blur (MATLAB's
// antialiased bicubic, rounded to 8 bits): the source of the response
// filters.
func downscale(hr *raster.Image, scale int) *raster.Image {
	return resize.Imresize(hr, 1/float64(scale), true).Round()
}

// responseFitter returns the normal equations of the response filter from
// down to the luma of target, border b left out.
func responseFitter(down, target *raster.Image, b int) (*response.Fitter, error) {
	f, err := response.NewFitter(ResponseSize)
	if err != nil {
		return nil, err
	}
	return f, f.Add(down, response.Luma(target), b)
}

// solveResponse merges the fitters in order (the same sums for any number
// of workers) and solves for the filter.
func solveResponse(fitters []*response.Fitter, errs []error) (*response.Filter, error) {
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	all, err := response.NewFitter(ResponseSize)
	if err != nil {
		return nil, err
	}
	for _, f := range fitters {
		all.Merge(f)
	}
	return all.Solve()
}

// prepareResponse groups the crops by pair and fits each pair's camera
// response on them (ObjectiveResponse). A pair whose crops do not
// determine a filter (flat scenes) is left out of the objective.
func (p *Problem) prepareResponse(pairOf map[string]int) error {
	n := len(p.Crops)
	p.downs = make([]*raster.Image, n)
	fitters, errs := make([]*response.Fitter, n), make([]error, n)
	parallel.For(n, 1, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			p.downs[k] = response.Luma(downscale(p.imgs[k], p.set.Scale))
			fitters[k], errs[k] = responseFitter(p.downs[k], p.lrs[k], PairBorder)
		}
	})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("--pairs: %w", err)
	}
	byPair := map[int][]int{}
	var order []int
	for k, c := range p.Crops {
		i := pairOf[c.Name]
		if byPair[i] == nil {
			order = append(order, i)
		}
		byPair[i] = append(byPair[i], k)
	}
	for _, i := range order {
		group := byPair[i]
		parts := make([]*response.Fitter, len(group))
		for j, k := range group {
			parts[j] = fitters[k]
		}
		cam, err := solveResponse(parts, nil)
		if errors.Is(err, response.ErrSingular) {
			continue
		} else if err != nil {
			return fmt.Errorf("--pairs: %s: the camera's response: %w", p.set.Pairs[i].HRPath, err)
		}
		p.respGroups, p.cameras = append(p.respGroups, group), append(p.cameras, cam)
	}
	if len(p.cameras) == 0 {
		return fmt.Errorf("--pairs: no pair fitted on has crops that determine its camera's response (flat images?)")
	}
	return nil
}

// pairObjective returns the objective of a fit to pairs (one of
// PairedObjectives) for c, the crops degraded with seed.
func (p *Problem) pairObjective(c degrade.Config, seed uint64) (float64, error) {
	lqs, err := degradeAll(c, p.Crops, p.imgs, seed)
	if err != nil {
		return 0, err
	}
	for i, lq := range lqs {
		if !raster.SameSize(lq, p.lrs[i]) {
			return 0, fmt.Errorf("%s: the degradation made a %dx%d LR crop, the real one is %dx%d", p.Crops[i].Name, lq.W, lq.H, p.lrs[i].W, p.lrs[i].H)
		}
	}
	if p.Opt.Objective == ObjectiveResponse {
		fitters, errs := make([]*response.Fitter, len(lqs)), make([]error, len(lqs))
		parallel.For(len(lqs), 1, func(lo, hi int) {
			for k := lo; k < hi; k++ {
				fitters[k], errs[k] = responseFitter(p.downs[k], lqs[k], PairBorder)
			}
		})
		if err := errors.Join(errs...); err != nil {
			return 0, err
		}
		var sum float64
		for g, group := range p.respGroups {
			parts := make([]*response.Fitter, len(group))
			for j, k := range group {
				parts[j] = fitters[k]
			}
			f, err := solveResponse(parts, nil)
			if err != nil {
				return 0, fmt.Errorf("%s: the degradation's response: %w", p.Crops[group[0]].Name, err)
			}
			sum += response.Distance(f, p.cameras[g])
		}
		return sum / float64(len(p.cameras)), nil
	}
	if p.Opt.Objective == ObjectiveLinearSR {
		u, err := p.fitUpscaler(lqs)
		if err != nil {
			return 0, err
		}
		scores := make([]float64, len(lqs))
		parallel.For(len(lqs), 1, func(lo, hi int) {
			for k := lo; k < hi; k++ {
				scores[k] = u.PSNR(p.lrs[k], p.imgs[k], PairBorder*p.set.Scale)
			}
		})
		var sum float64
		for _, v := range scores {
			sum += v
		}
		return -sum / float64(len(lqs)), nil
	}
	fo := fidelity.Options{CropBorder: PairBorder, TestY: true}
	var sum float64
	for i, lq := range lqs {
		sum += fidelity.PSNR(lq, p.lrs[i], fo)
	}
	return -sum / float64(len(lqs)), nil
}

// fitUpscaler fits ObjectiveLinearSR's upscaler to the degraded crops lqs
// and their HR crops, summing the crops' equations in order (the same fit
// for any number of workers).
func (p *Problem) fitUpscaler(lqs []*raster.Image) (*response.Upscaler, error) {
	parts, errs := make([]*response.Upscaler, len(lqs)), make([]error, len(lqs))
	parallel.For(len(lqs), 1, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			if parts[k], errs[k] = response.NewUpscaler(LinearSRSize, p.set.Scale); errs[k] == nil {
				errs[k] = parts[k].Add(lqs[k], p.imgs[k])
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	u := parts[0]
	for _, v := range parts[1:] {
		u.Merge(v)
	}
	if err := u.Solve(); err != nil {
		return nil, fmt.Errorf("the linear upscaler: %w", err)
	}
	return u, nil
}

// measurePairs degrades the whole HR image of every held-out pair with c
// (the evaluation seed) and compares it with the real LR image.
func (p *Problem) measurePairs(c degrade.Config, lqs []*raster.Image) (*PairFit, error) {
	pipe, err := degrade.New(c)
	if err != nil {
		return nil, err
	}
	up, err := p.fitUpscaler(lqs)
	if err != nil {
		return nil, err
	}
	n := len(p.heldPairs)
	plain, low, linear := make([]float64, n), make([]float64, n), make([]float64, n)
	degFit, camFit := make([]*response.Fitter, n), make([]*response.Fitter, n)
	errs := make([]error, n)
	sc := p.set.Scale
	fo := fidelity.Options{CropBorder: sc, TestY: true}
	lowPass := blur.LowPass(lowPassSigma)
	parallel.For(n, 1, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			pair := p.set.Pairs[p.heldPairs[k]]
			hr, lr, err := p.set.Load(p.heldPairs[k])
			if err != nil {
				errs[k] = err
				continue
			}
			_, lq, _, err := degrade.Degrade(pipe, hr, p.evalSeed(), pair.Name, 0)
			if err != nil {
				errs[k] = fmt.Errorf("%s: %w", pair.HRPath, err)
				continue
			}
			if !raster.SameSize(lq, lr) {
				errs[k] = fmt.Errorf("%s: the degradation made a %dx%d LR image, the real one is %dx%d", pair.HRPath, lq.W, lq.H, lr.W, lr.H)
				continue
			}
			plain[k] = fidelity.PSNR(lq, lr, fo)
			linear[k] = up.PSNR(lr, hr, sc)
			low[k] = fidelity.PSNR(blur.Filter2D(lq, lowPass), blur.Filter2D(lr, lowPass), fo)
			down := response.Luma(downscale(hr, sc))
			if degFit[k], errs[k] = responseFitter(down, lq, sc); errs[k] == nil {
				camFit[k], errs[k] = responseFitter(down, lr, sc)
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	deg, err := solveResponse(degFit, nil)
	if err != nil {
		return nil, fmt.Errorf("the degradation's response: %w", err)
	}
	cam, err := solveResponse(camFit, nil)
	if err != nil {
		return nil, fmt.Errorf("the cameras' response: %w", err)
	}
	f := &PairFit{Pairs: n, Response: response.Distance(deg, cam), Gains: deg.Gains(), CameraGains: cam.Gains()}
	// Pair by pair, over the pairs whose images determine both filters
	// (a flat scene determines none).
	var determined int
	for k := range n {
		degResp, errD := degFit[k].Solve()
		camResp, errC := camFit[k].Solve()
		for _, err := range []error{errD, errC} {
			if err != nil && !errors.Is(err, response.ErrSingular) {
				return nil, fmt.Errorf("%s: the response: %w", p.set.Pairs[p.heldPairs[k]].HRPath, err)
			}
		}
		if errD == nil && errC == nil {
			f.PairResponse += response.Distance(degResp, camResp)
			determined++
		}
	}
	if determined == 0 {
		return nil, fmt.Errorf("no held-out pair determines its response (flat images?)")
	}
	f.PairResponse /= float64(determined)
	for k := range n {
		f.PSNR += plain[k] / float64(n)
		f.LowPSNR += low[k] / float64(n)
		f.LinearSR += linear[k] / float64(n)
	}
	return f, nil
}

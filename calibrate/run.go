package calibrate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/internal/atomicfile"
	"github.com/degradiff/degradiff/internal/progress"
	"github.com/degradiff/degradiff/measure/features"
	"github.com/degradiff/degradiff/pairset/pairread"
)

// Param is one fitted setting against the preset's.
type Param struct {
	Key    string    `json:"key"`
	Group  string    `json:"group"`
	Kind   string    `json:"kind"`
	Preset []float64 `json:"preset"`
	Fitted []float64 `json:"fitted"`
	Lo     float64   `json:"lo"`
	Hi     float64   `json:"hi"`
}

// Result is the outcome of Run, CAL/result.json.
type Result struct {
	Preset     string   `json:"preset"`
	ConfigFile string   `json:"config_file,omitempty"`
	RealLQ     string   `json:"real_lq,omitempty"`
	HQ         []string `json:"hq,omitempty"`
	// Pairs is the folder of real pairs of a fit to pairs: then the
	// images fitted on and held out are pairs, and the HQ crops are
	// crops of the HR images of the pairs fitted on.
	Pairs string `json:"pairs,omitempty"`
	// Step is the diffusion step fitted through (Step.ID), when there
	// was one: every LQ image measured was refined by it.
	Step    string `json:"step,omitempty"`
	Command string `json:"command,omitempty"`
	// FitImages and HeldImages count the real LQ images fitted on and
	// held out; Held names the latter.
	FitImages  int      `json:"fit_images"`
	HeldImages int      `json:"held_images"`
	Held       []string `json:"held"`
	// HQCrops is the number of HQ crops degraded per evaluation;
	// HQSkipped the HQ files unreadable or smaller than a crop.
	HQCrops   int     `json:"hq_crops"`
	HQSkipped int     `json:"hq_skipped"`
	Options   Options `json:"options"`
	Budget    int     `json:"budget"`
	// Evals is the number of evaluations (Replayed of them taken from
	// the log of an earlier run, interrupted or with a smaller budget);
	// Best the index of the best (its "eval" in evals.jsonl, from 0).
	Evals    int `json:"evals"`
	Replayed int `json:"replayed"`
	Best     int `json:"best"`
	// FitBefore and FitAfter are the proxy on the images fitted on (the
	// fit's seed) for the preset and for config.yaml.
	FitBefore float64 `json:"fit_proxy_before"`
	FitAfter  float64 `json:"fit_proxy_after"`
	// Before and After are the gaps to the held-out images (another
	// degradation seed than the fit's).
	Before Gap     `json:"before"`
	After  Gap     `json:"after"`
	Params []Param `json:"params"`
	// Check is the proxy check (nil when not asked).
	Check *Agreement `json:"check,omitempty"`
	// HistFeatures names the features drawn in histograms.png.
	HistFeatures []string `json:"hist_features"`
	// Seconds of the fit (this run's evaluations), of the final
	// measurements and in all.
	FitSeconds     float64   `json:"fit_seconds"`
	MeasureSeconds float64   `json:"measure_seconds"`
	TotalSeconds   float64   `json:"total_seconds"`
	Finished       time.Time `json:"finished"`
	// Config is the text of config.yaml.
	Config string `json:"config"`
}

// Inputs names the inputs for the report and config.yaml: the real LQ
// and HQ folders, or the folder of real pairs.
type Inputs struct {
	RealLQ string
	HQ     []string
	Pairs  string
}

// Run calibrates opt.Base to the real LQ images real with the HQ images
// of the folders hq, in the folder dir: it fits on part of real (Split),
// logs every evaluation (Problem.Optimize; an interrupted run resumes),
// writes dir/config.yaml (a --config file for degrade, synth and bench),
// measures the preset and the fit on the held-out part (KID, FD,
// classifier test, cached in dir/gap/), checks the proxy against the full
// measures on opt.Check candidates, and writes result.json and the charts.
// The report itself is written by experiment.WriteCalibrationReport.
func Run(ctx context.Context, real Files, hq []string, in Inputs, opt Options, dir string) (*Result, error) {
	start := time.Now()
	p, err := Prepare(real, hq, opt)
	if err != nil {
		return nil, err
	}
	return p.run(ctx, in, dir, start)
}

// RunPairs is Run for a fit to the real pairs of set (PreparePairs): the
// same outputs, with each configuration's fit to the held-out pairs
// (Gap.Pairs) beside its gap to their LR images.
func RunPairs(ctx context.Context, set *pairread.Set, in Inputs, opt Options, dir string) (*Result, error) {
	start := time.Now()
	p, err := PreparePairs(set, opt)
	if err != nil {
		return nil, err
	}
	return p.run(ctx, in, dir, start)
}

// run is Run on a prepared problem.
func (p *Problem) run(ctx context.Context, in Inputs, dir string, start time.Time) (*Result, error) {
	opt := p.Opt
	log := opt.Log
	if log == nil {
		log = io.Discard
	}
	what := "real LQ images"
	if p.set != nil {
		what = "real pairs"
	}
	fmt.Fprintf(log, "calibrate: %s: %d settings (%d coordinates) fitted on %d %s (%d held out), %d HQ crops of %dx%d; budget %d evaluations (%s, objective %s)\n",
		opt.Preset, len(p.Space.Knobs), p.Space.Dim(), len(p.Fit), what, len(p.Held), len(p.Crops), opt.Crop, opt.Crop, opt.Budget, opt.Optimizer, opt.Objective)
	bar := progress.New(log, opt.Budget, "calibrate", "eval")
	fitStart := time.Now()
	evals, err := p.Optimize(ctx, dir, func(done int, best float64) {
		if higherIsBetter(opt.Objective) {
			bar.SetDetail(fmt.Sprintf("best %.2f dB", -best))
		} else {
			bar.SetDetail(fmt.Sprintf("best %.4g", best))
		}
		bar.Add(1)
	})
	bar.Finish()
	if err != nil {
		return nil, err
	}
	fitSeconds := time.Since(fitStart).Seconds()
	best := Best(evals)
	fitted := p.Space.Rounded(p.Space.Decode(best.X))
	body, err := p.Space.ConfigYAML(fitted, opt.Preset, "")
	if err != nil {
		return nil, err
	}
	// "After" is what a user gets from config.yaml: the file's keys on
	// the preset.
	preset, err := degrade.LoadPreset(opt.Preset)
	if err != nil {
		return nil, err
	}
	after, err := degrade.Parse(body, preset)
	if err != nil {
		return nil, fmt.Errorf("the fitted configuration does not load back (a bug): %w\n%s", err, body)
	}
	after.Preset = opt.Preset

	measureStart := time.Now()
	res := &Result{
		Preset: opt.Preset, ConfigFile: opt.ConfigFile, RealLQ: in.RealLQ, HQ: in.HQ, Pairs: in.Pairs, Step: p.stepID(), Command: opt.Command,
		FitImages: len(p.Fit), HeldImages: len(p.Held), HQCrops: len(p.Crops), HQSkipped: p.Skipped,
		Options: opt, Budget: opt.Budget, Evals: len(evals), Replayed: p.Replayed, Best: best.Index,
	}
	for _, f := range p.Held {
		res.Held = append(res.Held, f.Name)
	}
	if res.FitBefore, err = p.Evaluate(opt.Base, opt.Seed); err != nil {
		return nil, err
	}
	if res.FitAfter, err = p.Evaluate(after, opt.Seed); err != nil {
		return nil, err
	}
	held := p.held
	interrupted := func(what string) error {
		if ctx.Err() != nil {
			return fmt.Errorf("%w before %s: the evaluations and measurements done are kept in %s; rerun the same command to go on", ErrInterrupted, what, dir)
		}
		return nil
	}
	fmt.Fprintf(log, "calibrate: measuring the preset and the fit on the %d held-out %s ...\n", len(p.Held), what)
	if err := interrupted("measuring the preset"); err != nil {
		return nil, err
	}
	mb, err := p.measureConfig(opt.Base, "before", dir, held)
	if err != nil {
		return nil, err
	}
	if err := interrupted("measuring the fit"); err != nil {
		return nil, err
	}
	ma, err := p.measureConfig(after, "after", dir, held)
	if err != nil {
		return nil, err
	}
	res.Before, res.After = mb.Gap, ma.Gap
	presetVals, fittedVals := p.Space.Values(opt.Base), p.Space.Values(after)
	for i, k := range p.Space.Knobs {
		res.Params = append(res.Params, Param{Key: k.Key, Group: k.Group, Kind: k.Kind, Preset: presetVals[i], Fitted: fittedVals[i], Lo: k.Lo, Hi: k.Hi})
	}
	if opt.Check > 0 {
		cands := []Candidate{
			{Label: "preset", Eval: -1, FitProxy: res.FitBefore, Held: mb.Gap},
			{Label: "calibrated", Eval: best.Index, FitProxy: res.FitAfter, Held: ma.Gap},
		}
		for _, i := range pickCandidates(evals, opt.Check-1) {
			if i == best.Index {
				continue
			}
			if len(cands) >= opt.Check {
				break
			}
			label := fmt.Sprintf("eval-%04d", i)
			if err := interrupted("measuring " + label); err != nil {
				return nil, err
			}
			fmt.Fprintf(log, "calibrate: proxy check: measuring %s ...\n", label)
			m, err := p.measureConfig(p.Space.Decode(evals[i].X), label, dir, held)
			if err != nil {
				return nil, err
			}
			cands = append(cands, Candidate{Label: label, Eval: i, FitProxy: evals[i].Proxy, Held: m.Gap})
		}
		a := agreement(cands)
		res.Check = &a
	}
	if err := drawProgress(filepath.Join(dir, ProgressPNG), evals, opt.Objective); err != nil {
		return nil, err
	}
	cols := histFeatures(held.feats, mb.feats, 8)
	for _, j := range cols {
		res.HistFeatures = append(res.HistFeatures, featureName(j))
	}
	if err := drawHistograms(filepath.Join(dir, HistogramsPNG), cols, [][][]float64{held.feats, mb.feats, ma.feats},
		[]string{"real (held out)", "before: " + startName(opt.Preset, opt.ConfigFile), "after: calibrated"}); err != nil {
		return nil, err
	}
	if err := p.drawSamples(filepath.Join(dir, SamplesPNG), mb.lqs, ma.lqs, 4); err != nil {
		return nil, err
	}
	if mb.Pairs != nil && ma.Pairs != nil {
		if err := drawResponse(filepath.Join(dir, ResponsePNG), mb.Pairs, ma.Pairs); err != nil {
			return nil, err
		}
	}
	res.MeasureSeconds = time.Since(measureStart).Seconds()
	res.FitSeconds = fitSeconds
	res.TotalSeconds = time.Since(start).Seconds()
	res.Finished = time.Now().UTC().Truncate(time.Second)

	text, err := p.Space.ConfigYAML(fitted, opt.Preset, res.header(in))
	if err != nil {
		return nil, err
	}
	res.Config = string(text)
	if err := atomicfile.WriteFile(filepath.Join(dir, ConfigFile), text); err != nil {
		return nil, err
	}
	// The file must load as --config does and give the configuration
	// measured.
	back, err := degrade.Load("", filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("%s does not load back (a bug): %w", filepath.Join(dir, ConfigFile), err)
	}
	if string(back.YAML()) != string(after.YAML()) {
		return nil, fmt.Errorf("%s loads as another configuration than the one measured (a bug)", filepath.Join(dir, ConfigFile))
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ResultFile), append(b, '\n')); err != nil {
		return nil, err
	}
	return res, nil
}

// Start names the starting configuration, the "before" of the report: the
// preset, with the --config file's name when there is one.
func (r *Result) Start() string { return startName(r.Preset, r.ConfigFile) }

func startName(preset, configFile string) string {
	if configFile == "" {
		return preset
	}
	return preset + " with " + filepath.Base(configFile)
}

func featureName(j int) string { return features.Names()[j] }

// header is the comment at the top of config.yaml.
func (r *Result) header(in Inputs) string {
	o := r.Options
	var b strings.Builder
	fmt.Fprintf(&b, "degradiff calibrate: the %s preset's ranges", r.Preset)
	if r.ConfigFile != "" {
		fmt.Fprintf(&b, " (with %s)", r.ConfigFile)
	}
	if r.Pairs != "" {
		fmt.Fprintf(&b, " fitted to the real pairs of\n  %s (%d fitted on, %d held out),\n", r.Pairs, r.FitImages, r.HeldImages)
		fmt.Fprintf(&b, "comparing %d crops of %dx%d of their HR images, degraded, with the LR crops of the same scenes\n", r.HQCrops, o.Crop, o.Crop)
	} else {
		fmt.Fprintf(&b, " fitted to the real LQ images of\n  %s (%d fitted on, %d held out),\n", in.RealLQ, r.FitImages, r.HeldImages)
		fmt.Fprintf(&b, "degrading %d crops of %dx%d from the HQ images of\n  %s\n", r.HQCrops, o.Crop, o.Crop, strings.Join(in.HQ, "\n  "))
	}
	if r.Step != "" {
		fmt.Fprintf(&b, "through the diffusion step (%s): every LQ image measured was refined by it,\n", r.Step)
		b.WriteString("so this is the initial degradation of the method's LQ images with that model and those settings;\n")
	}
	fmt.Fprintf(&b, "on %s: %d evaluations (budget %d) of the %s proxy by %s, seed %d, fitted settings: %s.\n",
		r.Finished.Format("2006-01-02 15:04 UTC"), r.Evals, r.Budget, o.Objective, o.Optimizer, o.Seed, strings.Join(groupsOf(r.Params), ", "))
	if bp, ap := r.Before.Pairs, r.After.Pairs; bp != nil && ap != nil {
		fmt.Fprintf(&b, "Y-PSNR against the real LR images of the %d held-out pairs, before (%s) -> after (this file):\n", r.HeldImages, r.Start())
		fmt.Fprintf(&b, "  %.2f -> %.2f dB, after a low-pass of sigma %g LR px %.2f -> %.2f dB;\n", bp.PSNR, ap.PSNR, lowPassSigma, bp.LowPSNR, ap.LowPSNR)
		fmt.Fprintf(&b, "distance of the frequency response from the cameras' %.3f -> %.3f (pair by pair %.3f -> %.3f);\n", bp.Response, ap.Response, bp.PairResponse, ap.PairResponse)
		fmt.Fprintf(&b, "a linear x%d upscaler trained on its LR images restores the held-out real LR images to %.2f -> %.2f dB.\n", r.Options.Base.Scale, bp.LinearSR, ap.LinearSR)
		fmt.Fprintf(&b, "Gap to their LR images as unpaired real LQ images, before -> after:\n")
	} else {
		fmt.Fprintf(&b, "Gap to the %d held-out real LQ images, before (%s) -> after (this file):\n", r.HeldImages, r.Start())
	}
	fmt.Fprintf(&b, "  proxy %.4g -> %.4g, KID %.4g -> %.4g, FD %.4g -> %.4g", r.Before.Proxy, r.After.Proxy, r.Before.KID, r.After.KID, r.Before.FD, r.After.FD)
	if r.Before.C2ST != nil && r.After.C2ST != nil {
		fmt.Fprintf(&b, ", classifier accuracy %.3f -> %.3f (0.5: indistinguishable)", r.Before.C2ST.Accuracy, r.After.C2ST.Accuracy)
	}
	if r.Step != "" {
		b.WriteString(".\nUse it as --config of degradiff synth with the same model and settings, or as --calibration of degradiff bench (source calibrated+ddpm).")
	} else {
		b.WriteString(".\nUse it as --config of degradiff degrade or synth, or as --calibration of degradiff bench.")
	}
	if r.Command != "" {
		fmt.Fprintf(&b, "\nMade by: %s", strings.ReplaceAll(r.Command, "\n", "\n  "))
	}
	return b.String()
}

func groupsOf(ps []Param) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range ps {
		if !seen[p.Group] {
			seen[p.Group] = true
			out = append(out, p.Group)
		}
	}
	return out
}

package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/degradiff/degradiff/calibrate"
	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/diffusion/pipeline"
	"github.com/degradiff/degradiff/experiment"
	"github.com/degradiff/degradiff/internal/report"
	"github.com/degradiff/degradiff/pairset/pairread"
)

type calibrateFlags struct {
	realLQ, pairs, out, preset, config, fit, objective, optimizer string
	hq, include, exclude, pairsInclude, pairsExclude              []string
	budget, scale, crop, cropStep, maxCrops, check                int
	seed                                                          uint64
	holdout, stepSize                                             float64
	noC2ST                                                        bool
	// The diffusion step to fit through (--model).
	model string
	stepFlags
	precisionFlag
}

func newCalibrateCmd() *cobra.Command {
	var f calibrateFlags
	cmd := &cobra.Command{
		Use:   "calibrate (--real-lq DIR --hq DIR | --pairs DIR) --out CAL [--preset official] [--budget N]",
		Short: "Fit a degradation preset's ranges to a folder of real LQ images, or of real pairs",
		Long: `calibrate fits the ranges of a degradation preset (blur sigmas, kernel
sizes, resize ranges and probabilities, noise ranges and probabilities, JPEG
ranges, the second-stage blur probability, the final sinc probability:
whichever the preset has; --fit selects groups of them) so that the LQ
images it makes from the HQ images (--hq) come as close as possible to the
real LQ images (--real-lq).

The real LQ images are split by a hash of their names: --holdout of them
(0.2) are held out, the fit uses the rest. Each evaluation degrades the same
HQ crops with the same seeds under the candidate settings and computes a
cheap proxy of the gap (--objective fd: the Frechet distance of the 53
degradation features of degradiff gap; moments: the standardised
differences of their means and spreads); an optimiser of gonum
(--optimizer cmaes or neldermead) minimises it within a fixed number of
evaluations (--budget).
Every evaluation is logged to CAL/evals.jsonl: after Ctrl-C, the same
command replays the log and goes on, ending exactly as an uninterrupted
run; a larger --budget goes on from a finished run.

Then it measures the preset and the fit on the held-out images with KID, FD
and the classifier test, as degradiff gap does, measures --check candidate
configurations to show that the proxy orders them as the full measures do,
and writes:

  CAL/config.yaml   the fitted keys on top of the preset, with a comment
                    saying what they were fitted to and the gap before and
                    after: a --config file of degradiff degrade and synth,
                    and the --calibration of degradiff bench
  CAL/report.md, report.html  the gap before and after, each fitted setting
                    against the preset's, the proxy check, feature
                    histograms (real, before, after) and sample crops
  CAL/result.json, evals.jsonl, settings.json, gap/, *.png

Example (RealSR, training split only):

  degradiff calibrate --real-lq RealSR_V3/LR --real-lq-include 'Canon_0[0-2]*,Canon_030*,Nikon_0[0-2]*,Nikon_030*' \
    --hq hq/natural/Set14_HR --hq hq/natural/Kodak24_odd12 --out runs/calib-realsr

With real pairs (--pairs DIR: HR/ and LR/ matched by name, or a BasicSR
meta_info.txt; a few dozen of your camera's, say) it fits to them instead:
the pairs are split as above, the HQ crops are aligned crops of the HR
images of the pairs fitted on, and the objective (psnr) is the mean Y-PSNR
of each degraded crop against the real LR crop of the same scene. By
default it fits only the groups that shape what the camera keeps of the
scene (blur, kernel, resize, sinc): noise and JPEG, which no pair can
match draw for draw, would only be switched off; they stay as the preset
or --config has them. --objective response fits the frequency response
instead: pair by pair, the gains, from 0.05 cycles per LR pixel to
Nyquist, of the 7x7 linear filters that map the HR crops downscaled
without blur to the degraded and to the real LR crops, compared on a log
scale, so that the high frequencies, which PSNR weighs little, count as
much as the low ones. --objective linear-sr scores how well a linear
upscaler trained on the degraded crops restores the real LR crops: the
simplest restorer the degradation can train, a stand-in for the SR
network. The report adds the Y-PSNR of the held-out pairs (plain and
low-passed), their frequency response (table and response.png) and the
upscaler's PSNR on them before and after, beside the gap to their LR
images. A closer fit to the pairs is not by itself a better degradation
to train on (on RealSR it trained a worse network alone, and the best one
with the diffusion step on top: docs/RESULTS.md).

  degradiff calibrate --pairs RealSR_V3 --pairs-exclude 'Canon_04[1-9]*,Canon_050*,Nikon_04[1-9]*,Nikon_050*' \
    --config configs/realsr-camera-mtf.yaml --fit blur,sinc --out runs/calib-pairs

With --model (a diffusion model, as synth takes) it fits through the
diffusion step: every LQ image it measures, fitted on or held out, before
and after, is the degraded crop refined by the model as synth refines it
(--max-strength, --sampler, --steps, --refine, --tail-steps, --precision,
--ema: give the ones you will synthesise with). The model smooths, so the
degradation closest to the real images after the step is milder than the
one closest before it; config.yaml is then the initial degradation for
that model and those settings. Each evaluation runs the model on every
crop: keep --max-crops small.

  degradiff calibrate --preset face --real-lq REAL_LQ_FACES --hq HQ_FACES --crop 128 --crop-step 128 \
    --max-crops 48 --budget 60 --model builtin-face --max-strength 0.1 --refine luma --tail-steps 4 --out runs/calib-face`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runCalibrate(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.realLQ, "real-lq", "", "folder of real LQ images to fit to (required, or --pairs)")
	fl.StringArrayVar(&f.include, "real-lq-include", nil, "use only the real LQ images whose name matches one of these globs (repeatable, comma-separated)")
	fl.StringArrayVar(&f.exclude, "real-lq-exclude", nil, "leave out the real LQ images whose name matches one of these globs (repeatable, comma-separated)")
	fl.StringArrayVar(&f.hq, "hq", nil, "folder of HQ images, searched recursively (required with --real-lq, repeatable)")
	fl.StringVar(&f.pairs, "pairs", "", "folder of real pairs (HR/ and LR/, or meta_info.txt) to fit to, instead of --real-lq and --hq")
	fl.StringArrayVar(&f.pairsInclude, "pairs-include", nil, "use only the pairs whose name matches one of these globs (repeatable, comma-separated)")
	fl.StringArrayVar(&f.pairsExclude, "pairs-exclude", nil, "leave out the pairs whose name matches one of these globs (repeatable, comma-separated)")
	fl.StringVar(&f.out, "out", "", "output folder (required; a rerun with the same settings resumes)")
	fl.StringVar(&f.preset, "preset", "", "degradation preset to fit (default official, or the --config file's preset:)")
	fl.StringVar(&f.config, "config", "", "degradation config file on top of the preset: the starting point")
	fl.IntVar(&f.scale, "scale", 0, "scale of the degradation (0: the preset's)")
	fl.IntVar(&f.budget, "budget", calibrate.DefaultBudget, "evaluations of the proxy objective")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the crops, degradations, optimiser and measurements")
	fl.Float64Var(&f.holdout, "holdout", 0.2, "fraction of the real LQ images (or pairs) held out to measure the result")
	fl.StringVar(&f.fit, "fit", "", "comma-separated groups to fit: "+strings.Join(calibrate.Groups, ",")+" (default: all the preset has; with --pairs, those of "+strings.Join(calibrate.CoarseGroups, ",")+" it has)")
	fl.StringVar(&f.objective, "objective", "", "proxy objective: "+strings.Join(calibrate.Objectives, ", ")+" (default fd; with --pairs psnr, the default, response or linear-sr)")
	fl.StringVar(&f.optimizer, "optimizer", "cmaes", "optimiser: "+strings.Join(calibrate.Optimizers, " or "))
	fl.Float64Var(&f.stepSize, "step-size", 0.7, "neldermead: the initial simplex size, in the settings' logistic coordinates; cmaes: gonum's InitStepSize, which scales its covariance updates (its samples start with unit spread)")
	fl.IntVar(&f.crop, "crop", 256, "side of the HQ crops degraded at each evaluation (with --pairs, of the HR crops; a multiple of the scale)")
	fl.IntVar(&f.cropStep, "crop-step", 128, "step between HQ crops")
	fl.IntVar(&f.maxCrops, "max-crops", 192, "HQ crops degraded at each evaluation (a random subset)")
	fl.IntVar(&f.check, "check", 5, "configurations measured in full to check the proxy (0: none beyond before and after)")
	fl.BoolVar(&f.noC2ST, "no-c2st", false, "skip the classifier test in the final measurements")
	fl.StringVar(&f.model, "model", "", "fit through the diffusion step of this model (builtin, builtin-face, or a diffusers pipeline or UNet folder): every LQ image is refined as synth refines it before it is measured")
	f.stepFlags.register(fl, "with --model: ")
	f.precisionFlag.register(fl)
	return cmd
}

func runCalibrate(cmd *cobra.Command, f calibrateFlags) error {
	stderr := cmd.ErrOrStderr()
	paired := f.pairs != ""
	switch {
	case paired && (f.realLQ != "" || len(f.hq) > 0 || len(f.include) > 0 || len(f.exclude) > 0):
		return errors.New("--pairs: a fit to real pairs takes its LQ and HQ images from the pairs; leave out --real-lq, --hq and their globs")
	case !paired && (len(f.pairsInclude) > 0 || len(f.pairsExclude) > 0):
		return errors.New("--pairs-include/--pairs-exclude select real pairs: give --pairs DIR")
	case !paired && f.realLQ == "":
		return errors.New("--real-lq: the folder of real LQ images is required (or --pairs, a folder of real pairs)")
	case !paired && len(f.hq) == 0:
		return errors.New("--hq: at least one folder of HQ images is required")
	case f.out == "":
		return errors.New("--out is required")
	case f.check < 0:
		return fmt.Errorf("--check: %d is negative", f.check)
	case f.seed == 0:
		return errors.New("--seed: 0 is reserved (it means the default 1 in settings files); give a positive seed")
	}
	// calibrate.Options reads 0 as "the default": a 0 given here is an
	// error, not the default.
	for _, n := range []struct {
		flag string
		v    int
	}{{"budget", f.budget}, {"crop", f.crop}, {"crop-step", f.cropStep}, {"max-crops", f.maxCrops}} {
		if n.v < 1 {
			return fmt.Errorf("--%s: %d must be at least 1", n.flag, n.v)
		}
	}
	if !(f.holdout > 0 && f.holdout < 1) {
		return fmt.Errorf("--holdout: %v is not a fraction in (0, 1)", f.holdout)
	}
	if !(f.stepSize > 0) {
		return fmt.Errorf("--step-size: %v must be positive", f.stepSize)
	}
	if err := checkScaleFlag(cmd, f.scale); err != nil {
		return err
	}
	ins := [][2]string{{"--real-lq", f.realLQ}}
	if paired {
		ins = [][2]string{{"--pairs", f.pairs}}
	}
	for _, d := range f.hq {
		ins = append(ins, [2]string{"--hq", d})
	}
	if err := checkSeparate("--out", f.out, ins); err != nil {
		return err
	}
	base, err := degrade.Load(f.preset, f.config)
	if err != nil {
		return err
	}
	if f.scale != 0 {
		base.Scale = f.scale
		if err := base.Validate(); err != nil {
			return fmt.Errorf("--scale: %w", err)
		}
	}
	var include, exclude, pairsInclude, pairsExclude []string
	for _, g := range []struct {
		flag string
		vals []string
		dst  *[]string
	}{{"real-lq-include", f.include, &include}, {"real-lq-exclude", f.exclude, &exclude},
		{"pairs-include", f.pairsInclude, &pairsInclude}, {"pairs-exclude", f.pairsExclude, &pairsExclude}} {
		for _, v := range g.vals {
			gl, err := pairread.ParseGlobs(v)
			if err != nil {
				return fmt.Errorf("--%s: %w", g.flag, err)
			}
			*g.dst = append(*g.dst, gl...)
		}
	}
	var groups []string
	for _, g := range strings.Split(f.fit, ",") {
		if g = strings.TrimSpace(g); g != "" {
			groups = append(groups, g)
		}
	}
	configFile := ""
	if f.config != "" {
		if configFile, err = filepath.Abs(f.config); err != nil {
			return fmt.Errorf("--config %s: %w", f.config, err)
		}
	}
	check := f.check
	if check == 0 {
		check = -1
	}
	opt := calibrate.Options{
		Preset: base.Preset, ConfigFile: configFile, Base: base, Groups: groups, Budget: f.budget, Seed: f.seed,
		Holdout: f.holdout, Crop: f.crop, CropStep: f.cropStep, MaxCrops: f.maxCrops, Objective: f.objective,
		Optimizer: f.optimizer, StepSize: f.stepSize, SkipC2ST: f.noC2ST, Check: check, Log: stderr,
		Command: calibrateCommand(cmd),
	}
	if opt.Step, err = calibrationStep(cmd, f, paired); err != nil {
		return err
	}
	if err := opt.Validate(); err != nil {
		return err
	}
	if _, err := calibrate.NewSpace(base, groups); err != nil {
		return err
	}
	var res *calibrate.Result
	if paired {
		res, err = calibratePairs(f, opt, pairsInclude, pairsExclude)
	} else {
		res, err = calibrateUnpaired(f, opt, include, exclude)
	}
	if errors.Is(err, calibrate.ErrInterrupted) {
		return interrupted(err)
	}
	if err != nil {
		return err
	}
	if err := experiment.WriteCalibrationReport(f.out, res); err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if bp, ap := res.Before.Pairs, res.After.Pairs; bp != nil && ap != nil {
		fmt.Fprintf(w, "held-out pairs (%d), Y-PSNR against their real LR images, before (%s) -> after (calibrated):\n", res.HeldImages, res.Start())
		fmt.Fprintf(w, "  plain     %.2f -> %.2f dB\n  low-pass  %.2f -> %.2f dB\n", bp.PSNR, ap.PSNR, bp.LowPSNR, ap.LowPSNR)
		fmt.Fprintf(w, "  frequency response, distance from the cameras' %.3f -> %.3f (pair by pair %.3f -> %.3f)\n", bp.Response, ap.Response, bp.PairResponse, ap.PairResponse)
		fmt.Fprintf(w, "  linear upscaler trained on the degradation, Y-PSNR %.2f -> %.2f dB\n", bp.LinearSR, ap.LinearSR)
	}
	fmt.Fprintf(w, "held-out gap (%d real LQ images), before (%s) -> after (calibrated):\n", res.HeldImages, res.Start())
	if res.Before.Pairs == nil {
		fmt.Fprintf(w, "  proxy %.4g -> %.4g\n", res.Before.Proxy, res.After.Proxy)
	}
	fmt.Fprintf(w, "  KID   %.4f -> %.4f\n  FD    %.3f -> %.3f\n", res.Before.KID, res.After.KID, res.Before.FD, res.After.FD)
	if res.Before.C2ST != nil && res.After.C2ST != nil {
		fmt.Fprintf(w, "  classifier accuracy %.3f -> %.3f (0.5 = indistinguishable)\n", res.Before.C2ST.Accuracy, res.After.C2ST.Accuracy)
	}
	if a := res.Check; a != nil {
		fmt.Fprintf(w, "proxy check over %d configurations, Spearman rank correlation with KID %s, FD %s, classifier %s\n",
			len(a.Candidates), fmtRho(a.KID), fmtRho(a.FD), fmtRho(a.C2ST))
	}
	fmt.Fprintf(w, "config: %s\nreport: %s (and report.html)\n", filepath.Join(f.out, calibrate.ConfigFile), filepath.Join(f.out, experiment.ReportMD))
	return nil
}

// stepFlagNames are the flags that set the diffusion step of --model.
var stepFlagNames = []string{"ema", "max-strength", "sampler", "steps", "refine", "tail-steps", "precision"}

// calibrationStep loads the diffusion step of --model (nil without it),
// refusing the step's flags without it and the step with --pairs.
func calibrationStep(cmd *cobra.Command, f calibrateFlags, paired bool) (*calibrate.Step, error) {
	if f.model == "" {
		for _, n := range stepFlagNames {
			if cmd.Flags().Changed(n) {
				return nil, fmt.Errorf("--%s sets the diffusion step of --model: give --model too", n)
			}
		}
		return nil, nil
	}
	if paired {
		return nil, errors.New("--model: a fit through the diffusion step takes --real-lq and --hq, not --pairs")
	}
	if f.steps < 1 {
		return nil, fmt.Errorf("--steps: %d must be at least 1", f.steps)
	}
	if err := f.precisionFlag.parse(); err != nil {
		return nil, err
	}
	model, err := pipeline.Load(f.model, f.ema)
	if err != nil {
		return nil, err
	}
	step, err := calibrate.NewStep(model, pipeline.Options{Sampler: f.samplerName, Steps: f.steps, Refine: f.refine, TailSteps: f.tailSteps},
		f.maxStrength, f.precisionFlag.precision)
	if err != nil {
		return nil, flagError(err)
	}
	return step, nil
}

// calibrateUnpaired fits to the real LQ images of --real-lq with the HQ
// images of --hq.
func calibrateUnpaired(f calibrateFlags, opt calibrate.Options, include, exclude []string) (*calibrate.Result, error) {
	real, err := calibrate.SelectFiles("--real-lq", f.realLQ, include, exclude)
	if err != nil {
		return nil, err
	}
	hq := make([]string, len(f.hq))
	for i, d := range f.hq {
		if hq[i], err = filepath.Abs(d); err != nil {
			return nil, fmt.Errorf("--hq %s: %w", d, err)
		}
	}
	realDir, err := filepath.Abs(f.realLQ)
	if err != nil {
		return nil, fmt.Errorf("--real-lq %s: %w", f.realLQ, err)
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	ctx, stop := signalContext()
	defer stop()
	return calibrate.Run(ctx, real, hq, calibrate.Inputs{RealLQ: realDir, HQ: hq}, opt, f.out)
}

// calibratePairs fits to the real pairs of --pairs.
func calibratePairs(f calibrateFlags, opt calibrate.Options, include, exclude []string) (*calibrate.Result, error) {
	dir, err := filepath.Abs(f.pairs)
	if err != nil {
		return nil, fmt.Errorf("--pairs %s: %w", f.pairs, err)
	}
	set, err := pairread.OpenWith(dir, pairread.Options{Scale: opt.Base.Scale, Include: include, Exclude: exclude})
	if err != nil {
		return nil, fmt.Errorf("--pairs: %w", err)
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	ctx, stop := signalContext()
	defer stop()
	return calibrate.RunPairs(ctx, set, calibrate.Inputs{Pairs: dir}, opt, f.out)
}

func fmtRho(v float64) string {
	if v != v {
		return "-"
	}
	return fmt.Sprintf("%+.2f", v)
}

// calibrateCommand returns the command line as given, for the report.
func calibrateCommand(cmd *cobra.Command) string {
	var b strings.Builder
	b.WriteString("degradiff calibrate")
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		for _, v := range flagValues(fl) {
			fmt.Fprintf(&b, " --%s %s", fl.Name, report.ShellQuote(v))
		}
	})
	return b.String()
}

func flagValues(fl *pflag.Flag) []string {
	if s, ok := fl.Value.(pflag.SliceValue); ok {
		return s.GetSlice()
	}
	return []string{fl.Value.String()}
}

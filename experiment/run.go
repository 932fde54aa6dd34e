package experiment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/diffusion/pipeline"
	"github.com/degradiff/degradiff/pairset"
	"github.com/degradiff/degradiff/pairset/pairread"
)

// ErrInterrupted is wrapped by the error Run returns when its context is
// cancelled; everything finished so far is kept, and running Run again
// with the same settings resumes.
var ErrInterrupted = errors.New("experiment interrupted")

// Files of the output folder.
const (
	ConfigFile  = "config.yaml"
	CropsFile   = "crops.json"
	StagesFile  = "stages.json"
	ResultsFile = "results.json"
	PairsDir    = "pairs"
	GapDir      = "gap"
	SRDir       = "sr"
	TestDir     = "test"
	ValDir      = "val"
)

// Upscale names the reference row of the results: the test LR images
// upscaled with bicubic interpolation, without any network.
const Upscale = "bicubic-upsampling"

// StageTime is the compute time of one stage.
type StageTime struct {
	Name    string    `json:"name"`
	Seconds float64   `json:"seconds"`
	When    time.Time `json:"finished"`
	// Cached reports a stage done by an earlier run, skipped by this one.
	Cached bool `json:"cached"`
}

// runner holds the state of one Run.
type runner struct {
	ctx context.Context
	cfg Config
	out string
	log io.Writer
	// stages runs the stages and keeps their times (set by prepare).
	stages *Stages

	crops *CropList
	real  *lqSet
	test  *pairread.Set
	// realPairs is the Real source's training pairs, when configured.
	realPairs *pairread.Set
	// val is the validation pairs, when configured; valReal is whether
	// the Real source is validated on them (it shares no pair with them).
	val     *pairread.Set
	valReal bool
	// valSeen counts the validation LR images among the real LQ images.
	valSeen int
	method  *pipeline.Model // loaded on first use
}

// Run performs the experiment with the settings cfg in the folder outDir
// (created if needed), reporting progress to log (nil: none), and returns
// the results, also written to outDir/results.json with the report. A
// stage whose output exists is skipped, so a rerun after an interruption
// or a failure resumes; outDir must then hold the same settings, apart
// from the sources, which may change.
func Run(ctx context.Context, cfg Config, outDir string, log io.Writer) (*Results, error) {
	if log == nil {
		log = io.Discard
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg, err := resolvePaths(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Workers < 1 {
		cfg.Workers = runtime.NumCPU()
	}
	cfg.Sources = ordered(cfg.Sources)
	r := &runner{ctx: ctx, cfg: cfg, out: outDir, log: log}
	if err := r.prepare(); err != nil {
		return nil, err
	}
	if err := r.stages.Run("crops", r.cropsDone, r.makeCrops); err != nil {
		return nil, err
	}
	// The inputs are sound: from here on the settings are binding.
	if err := r.writeSettings(); err != nil {
		return nil, err
	}
	if r.crops == nil {
		if r.crops, err = readCrops(filepath.Join(r.out, CropsFile)); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(log, "bench: %d HQ crops of %dx%d from %d images, %d source(s): %s\n",
		len(r.crops.Crops), cfg.Crop, cfg.Crop, r.crops.Files, len(cfg.Sources), strings.Join(cfg.Sources, ", "))
	// The Real source trains on the real pairs as they are: it has no
	// pairs to make and no synthetic LQ images to measure.
	for _, s := range cfg.Sources {
		if s == Real {
			continue
		}
		// A fit through the step refines with the adapted model.
		if (refined(s) || (calibrated(s) && cfg.fitsThroughStep())) && r.adapting() && !r.stages.Met(AdaptDir) {
			if err := r.stages.Run(AdaptDir, r.adaptDone, r.adapt); err != nil {
				return nil, err
			}
		}
		if calibrated(s) && r.cfg.Calibration.Config == "" && !r.stages.Met(CalibrateDir) {
			if err := r.stages.Run(CalibrateDir, r.calibrationDone, r.calibrate); err != nil {
				return nil, err
			}
		}
		if err := r.stages.Run("pairs/"+s, func() bool { return r.pairsDone(s) }, func() error { return r.makePairs(s) }); err != nil {
			return nil, err
		}
	}
	for _, s := range cfg.Sources {
		if s == Real {
			continue
		}
		if err := r.stages.Run("gap/"+s, func() bool { return exists(r.gapFile(s)) }, func() error { return r.measureGap(s) }); err != nil {
			return nil, err
		}
	}
	// Each network is tested as soon as it is trained, so that a long run
	// stopped part way keeps the scores of the networks it finished.
	test := func(run srRun) error {
		return r.stages.Run("test/"+run.key(), func() bool { return exists(r.testFile(run)) }, func() error { return r.testSR(run) })
	}
	validate := func(run srRun) error {
		if !r.validated(run.source) {
			return nil
		}
		return r.stages.Run("val/"+run.key(), func() bool { return exists(r.valFile(run)) }, func() error { return r.validateSR(run) })
	}
	for k := 0; k < cfg.seeds(); k++ {
		for _, s := range cfg.Sources {
			run := srRun{s, k}
			if err := r.stages.Run("sr/"+run.key(), func() bool { return r.trainDone(run) }, func() error { return r.train(run) }); err != nil {
				return nil, err
			}
			if err := test(run); err != nil {
				return nil, err
			}
			if err := validate(run); err != nil {
				return nil, err
			}
		}
	}
	for _, stage := range []func(srRun) error{test, validate} {
		if err := stage(srRun{Upscale, 0}); err != nil { // bicubic interpolation has no seed
			return nil, err
		}
	}
	var res *Results
	err = r.stages.Run("report", func() bool { return false }, func() error {
		var err error
		res, err = r.report()
		return err
	})
	return res, err
}

// resolvePaths makes the input folders absolute, so that the settings of
// a folder compare equal whatever the working directory of the rerun.
func resolvePaths(c Config) (Config, error) {
	abs := func(flag, p string) (string, error) {
		a, err := filepath.Abs(p)
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", flag, p, err)
		}
		return a, nil
	}
	var err error
	hq := make([]string, len(c.HQ))
	for i, d := range c.HQ {
		if hq[i], err = abs("--hq", d); err != nil {
			return c, err
		}
	}
	c.HQ = hq
	if c.RealLQ, err = abs("--real-lq", c.RealLQ); err != nil {
		return c, err
	}
	if c.Test, err = abs("--test", c.Test); err != nil {
		return c, err
	}
	if c.RealPairs != "" {
		if c.RealPairs, err = abs("--real-pairs", c.RealPairs); err != nil {
			return c, err
		}
	}
	if c.Val != "" {
		if c.Val, err = abs("--val", c.Val); err != nil {
			return c, err
		}
	}
	if c.Model, err = pipeline.AbsSpec(c.Model); err != nil {
		return c, err
	}
	if c.Calibration.Config != "" {
		if c.Calibration.Config, err = abs("--calibration", c.Calibration.Config); err != nil {
			return c, err
		}
	}
	return c, nil
}

// prepare creates the output folder, checks that it holds no experiment
// with other settings, and opens the inputs, so that wrong folders fail
// before any work.
func (r *runner) prepare() error {
	out, err := filepath.Abs(r.out)
	if err != nil {
		return fmt.Errorf("--out %s: %w", r.out, err)
	}
	for flag, dirs := range map[string][]string{"--hq": r.cfg.HQ, "--real-lq": {r.cfg.RealLQ}, "--test": {r.cfg.Test}, "--real-pairs": {r.cfg.RealPairs}, "--val": {r.cfg.Val}} {
		for _, d := range dirs {
			if d == "" {
				continue
			}
			if out == d || strings.HasPrefix(out, d+string(filepath.Separator)) {
				return fmt.Errorf("--out %s is inside the input folder %s %s: choose another", r.out, flag, d)
			}
		}
	}
	if err := os.MkdirAll(r.out, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if err := CheckSettings(filepath.Join(r.out, ConfigFile), "an experiment", r.out, r.hasOutputs(), r.cfg, fingerprint); err != nil {
		return err
	}
	if r.stages, err = NewStages(r.ctx, r.out, r.log); err != nil {
		return err
	}
	if r.test, err = openTest(r.cfg); err != nil {
		return err
	}
	if r.real, err = openRealLQ(r.cfg); err != nil {
		return err
	}
	if err := checkLeaks(r.cfg, r.real, r.test); err != nil {
		return err
	}
	if r.cfg.RealPairs != "" {
		if r.realPairs, err = openRealPairs(r.cfg); err != nil {
			return err
		}
		if err := checkShared("--real-pairs", r.realPairs, r.test); err != nil {
			return err
		}
	}
	if r.cfg.Val != "" {
		if r.val, err = openVal(r.cfg); err != nil {
			return err
		}
		if err := checkShared("--val", r.val, r.test); err != nil {
			return err
		}
		if err := checkValHQ(r.cfg, r.val); err != nil {
			return err
		}
		r.valReal = true
		if r.realPairs != nil {
			_, _, shared := sharedImage(r.val, r.realPairs)
			r.valReal = !shared
		}
		if !r.valReal && slices.Contains(r.cfg.Sources, Real) {
			fmt.Fprintf(r.log, "bench: real is not validated: it trains on some of the validation pairs (leave them out of one set with --val-exclude or --real-pairs-exclude)\n")
		}
		r.valSeen = seenLR(r.val, r.real)
		if err := r.checkValPairs(); err != nil {
			return err
		}
	}
	if f := r.cfg.Calibration.Config; f != "" && slices.ContainsFunc(r.cfg.Sources, calibrated) {
		c, err := degrade.Load("", f)
		if err != nil {
			return fmt.Errorf("--calibration: %w", err)
		}
		c.Scale = r.cfg.Scale
		if _, err := degrade.New(c); err != nil {
			return fmt.Errorf("--calibration %s: %w", f, err)
		}
	}
	fmt.Fprintf(r.log, "bench: budget %s; %d real LQ images from %s; %d test pairs from %s (%s)\n",
		r.cfg.Budget, len(r.real.files), r.cfg.RealLQ, r.test.Len(), r.cfg.Test, r.test.Layout)
	return nil
}

// fingerprint is the settings that the outputs depend on: all but the
// list of sources, whose stages are independent of each other, the
// number of SR seeds (seed k's networks are the same whatever the count,
// so a finished run can be rerun with more seeds) and the validation
// pairs, which only the val/ results depend on (a finished run can be
// validated afterwards).
func fingerprint(c Config) []byte {
	c.Sources = nil
	c.SRSeeds = 0
	c.Val, c.ValInclude, c.ValExclude = "", nil, nil
	return c.YAML()
}

// hasOutputs reports whether OUT holds the output of any stage.
func (r *runner) hasOutputs() bool {
	for _, f := range []string{CropsFile, AdaptDir, PairsDir, GapDir, SRDir, TestDir} {
		if exists(filepath.Join(r.out, f)) {
			return true
		}
	}
	return false
}

// writeSettings records the settings in OUT/config.yaml.
func (r *runner) writeSettings() error {
	return pairset.WriteFileAtomic(filepath.Join(r.out, ConfigFile), r.cfg.YAML())
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

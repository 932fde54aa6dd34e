package facebench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/degradiff/degradiff/diffusion/pipeline"
	"github.com/degradiff/degradiff/experiment"
	"github.com/degradiff/degradiff/internal/atomicfile"
	"github.com/degradiff/degradiff/internal/batch"
	"github.com/degradiff/degradiff/measure/facemeasure"
	"github.com/degradiff/degradiff/pairset"
)

// ErrInterrupted is wrapped by the error Run returns when its context is
// cancelled (the same as the SR bench's): what is finished is kept, and
// running Run again with the same settings resumes.
var ErrInterrupted = experiment.ErrInterrupted

// Files and folders of the output folder.
const (
	ConfigFile = "config.yaml"
	SplitFile  = "split.json"
	// CalibrationFile is the copy of the calibrated sources' degradation.
	CalibrationFile = "calibration.yaml"
	StagesFile      = "stages.json"
	ResultsFile     = "results.json"
	RealLQDir       = "real_lq"
	HeldOutDir      = "heldout"
	PairsDir        = "pairs"
	GapDir          = "gap"
	BFRDir          = "bfr"
	TestDir         = "test"
	RestoredDir     = "restored"
	// realLQList marks the folder of held-out real LQ faces complete.
	realLQList = "faces.json"
)

// Input names the reference row of the results: the LQ faces themselves,
// without a network.
const Input = "input"

// runner holds the state of one Run.
type runner struct {
	ctx context.Context
	cfg Config
	out string
	log io.Writer
	// stages runs the stages and keeps their times (set by prepare).
	stages *experiment.Stages

	split *Split
	faces *facemeasure.Measurer
	model *pipeline.Model // face+ddpm's, loaded on first use

	// Face analyses of the held-out inputs and ground truths, by path.
	mu       sync.Mutex
	analysed map[string]facemeasure.Face
}

// Run performs the face bench with the settings cfg in the folder outDir
// (created if needed), reporting progress to log (nil: none), and returns
// the results, also written to outDir/results.json with the report. A
// stage whose output exists is skipped, so a rerun after an interruption
// or a failure resumes; outDir must then hold the same settings, apart
// from the sources and the number of seeds, which may change.
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
	r := &runner{ctx: ctx, cfg: cfg, out: outDir, log: log, analysed: map[string]facemeasure.Face{}}
	if err := r.prepare(); err != nil {
		return nil, err
	}
	if err := r.stages.Run("split", func() bool { return exists(r.path(SplitFile)) }, r.makeSplit); err != nil {
		return nil, err
	}
	// The inputs are sound: from here on the settings are binding.
	if err := pairset.WriteFileAtomic(r.path(ConfigFile), r.cfg.YAML()); err != nil {
		return nil, err
	}
	if r.split == nil {
		r.split = new(Split)
		if err := atomicfile.ReadJSON(r.path(SplitFile), r.split); err != nil {
			return nil, err
		}
	}
	s := r.split
	fmt.Fprintf(log, "bench: %d training HQ faces, %d held-out HQ faces, %d held-out real LQ faces (of %d and %d), %dx%d, source(s) %s\n",
		len(s.HQ.Train), len(s.HQ.HeldOut), len(s.RealLQ.HeldOut), s.HQ.Found, s.RealLQ.Found, cfg.faceSize(), cfg.faceSize(), strings.Join(cfg.Sources, ", "))
	if err := r.stages.Run(RealLQDir, func() bool { return exists(r.path(RealLQDir, realLQList)) }, r.prepareRealLQ); err != nil {
		return nil, err
	}
	if err := r.stages.Run(HeldOutDir, func() bool { return exists(r.path(HeldOutDir, pairset.MetaFile)) }, r.makeHeldOut); err != nil {
		return nil, err
	}
	for _, src := range cfg.Sources {
		if err := r.stages.Run(PairsDir+"/"+src, func() bool { return exists(r.path(PairsDir, src, pairset.MetaFile)) }, func() error { return r.makePairs(src) }); err != nil {
			return nil, err
		}
	}
	for _, src := range cfg.Sources {
		if err := r.stages.Run(GapDir+"/lq/"+src, func() bool { return exists(r.lqGapFile(src)) }, func() error { return r.measureLQGap(src) }); err != nil {
			return nil, err
		}
	}
	runs := r.runs()
	for _, run := range runs {
		if err := r.stages.Run(BFRDir+"/"+run.key(), func() bool { return r.trainDone(run) }, func() error { return r.train(run) }); err != nil {
			return nil, err
		}
	}
	for _, run := range append([]bfrRun{{source: Input}}, runs...) {
		if err := r.stages.Run(TestDir+"/"+run.key(), func() bool { return exists(r.testFile(run)) }, func() error { return r.test(run) }); err != nil {
			return nil, err
		}
	}
	for _, run := range append([]bfrRun{{source: Input}}, runs...) {
		if err := r.stages.Run(GapDir+"/restored/"+run.key(), func() bool { return exists(r.restoredGapFile(run)) }, func() error { return r.measureRestoredGap(run) }); err != nil {
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

// bfrRun is one training run: a source and the index of its seed; the
// Input source is the reference without a network.
type bfrRun struct {
	source string
	seed   int
}

// key names the run's folders and files: SOURCE for the first seed,
// SOURCE.seedK for the others.
func (b bfrRun) key() string {
	if b.seed == 0 {
		return b.source
	}
	return fmt.Sprintf("%s.seed%d", b.source, b.seed)
}

// runs lists the training runs, seed by seed.
func (r *runner) runs() []bfrRun {
	var out []bfrRun
	for k := 0; k < r.cfg.Seeds; k++ {
		for _, s := range r.cfg.Sources {
			out = append(out, bfrRun{s, k})
		}
	}
	return out
}

// resolvePaths makes the inputs absolute, so that the settings of a
// folder compare equal whatever the working directory of the rerun.
func resolvePaths(c Config) (Config, error) {
	for _, p := range []struct {
		flag string
		v    *string
	}{{"--hq", &c.HQ}, {"--real-lq", &c.RealLQ}, {"--face-models", &c.FaceModels}} {
		if *p.v == "" {
			continue
		}
		a, err := filepath.Abs(*p.v)
		if err != nil {
			return c, fmt.Errorf("%s %s: %w", p.flag, *p.v, err)
		}
		*p.v = a
	}
	var err error
	if c.Model, err = pipeline.AbsSpec(c.Model); err != nil {
		return c, err
	}
	if c.Calibration != "" {
		if c.Calibration, err = filepath.Abs(c.Calibration); err != nil {
			return c, fmt.Errorf("--calibration: %w", err)
		}
	}
	return c, nil
}

// keepCalibration copies the calibration file to OUT/calibration.yaml
// the first time a calibrated source runs, and later refuses a file with
// other content: the calibrated sources' outputs depend on it, but it is
// outside the fingerprint, so that they can be added to a finished bench.
func (r *runner) keepCalibration() error {
	if !slices.ContainsFunc(r.cfg.Sources, calibrated) {
		return nil
	}
	// A file that is no face degradation is refused before any stage.
	if _, err := loadCalibration(r.cfg.Calibration); err != nil {
		return err
	}
	b, err := os.ReadFile(r.cfg.Calibration)
	if err != nil {
		return fmt.Errorf("--calibration: %w", err)
	}
	kept, err := os.ReadFile(r.path(CalibrationFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return pairset.WriteFileAtomic(r.path(CalibrationFile), b)
	case err != nil:
		return err
	case !bytes.Equal(kept, b):
		return fmt.Errorf("--calibration %s differs from the calibration %s was run with (%s): use another --out, or remove the calibrated sources' outputs and that file", r.cfg.Calibration, r.out, r.path(CalibrationFile))
	}
	return nil
}

// prepare creates the output folder, checks that it holds no bench with
// other settings, and loads the face networks and the diffusion model, so
// that wrong inputs fail before any work.
func (r *runner) prepare() error {
	out, err := filepath.Abs(r.out)
	if err != nil {
		return fmt.Errorf("--out %s: %w", r.out, err)
	}
	for _, in := range [][2]string{{"--hq", r.cfg.HQ}, {"--real-lq", r.cfg.RealLQ}} {
		if out == in[1] || strings.HasPrefix(out, in[1]+string(filepath.Separator)) {
			return fmt.Errorf("--out %s is inside the input folder %s %s: choose another", r.out, in[0], in[1])
		}
	}
	for _, in := range [][2]string{{"--hq", r.cfg.HQ}, {"--real-lq", r.cfg.RealLQ}} {
		if st, err := os.Stat(in[1]); err != nil {
			return fmt.Errorf("%s: %w", in[0], err)
		} else if !st.IsDir() {
			return fmt.Errorf("%s %s: not a folder", in[0], in[1])
		}
	}
	if r.faces = r.cfg.Faces; r.faces == nil {
		if r.faces, err = facemeasure.Load(r.cfg.FaceModels); err != nil {
			return fmt.Errorf("--face-models %s: %w", r.cfg.FaceModels, err)
		}
	}
	// A bad calibration file fails here, before anything is written (and
	// before keepCalibration keeps it).
	for _, s := range r.cfg.Sources {
		if _, err := r.cfg.initialPipeline(s); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(r.out, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if err := experiment.CheckSettings(r.path(ConfigFile), "a face bench", r.out, exists(r.path(SplitFile)), r.cfg, fingerprint); err != nil {
		return err
	}
	if err := r.keepCalibration(); err != nil {
		return err
	}
	if r.stages, err = experiment.NewStages(r.ctx, r.out, r.log); err != nil {
		return err
	}
	if slices.ContainsFunc(r.cfg.Sources, refined) {
		if r.model, err = pipeline.Load(r.cfg.Model, r.cfg.ModelEMA); err != nil {
			return err
		}
	}
	fmt.Fprintf(r.log, "bench: face bench, budget %s; HQ faces %s, real LQ faces %s\n", r.cfg.Budget, r.cfg.HQ, r.cfg.RealLQ)
	return nil
}

// fingerprint is the settings that the outputs depend on: all but the
// sources and the number of seeds, whose stages are independent, and the
// calibration file, which only the calibrated sources depend on
// (keepCalibration guards it).
func fingerprint(c Config) []byte {
	c.Sources, c.Seeds, c.Calibration = nil, 0, ""
	return c.YAML()
}

// path returns a path inside the output folder.
func (r *runner) path(elem ...string) string {
	return filepath.Join(append([]string{r.out}, elem...)...)
}

// forEach runs job on every item with the configured workers, and turns
// the failures into one error.
func (r *runner) forEach(stage string, items []batch.Item, job batch.Job) error {
	sum := batch.Run(r.ctx, items, batch.Options{Workers: r.cfg.Workers, Log: r.log, Desc: "bench " + stage, Unit: "face"}, job)
	return r.failures(stage, len(items), sum)
}

// failures turns the failures of a stage's batch of n faces into one
// error.
func (r *runner) failures(stage string, n int, sum batch.Summary) error {
	if sum.Interrupted || (r.ctx.Err() != nil && len(sum.Failed) > 0) {
		return experiment.Interrupted(stage)
	}
	if len(sum.Failed) > 0 {
		var errs []error
		for _, f := range sum.Failed {
			errs = append(errs, f.Err)
		}
		return fmt.Errorf("%d of %d faces failed (every face is needed): %w", len(sum.Failed), n, errors.Join(errs...))
	}
	return nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

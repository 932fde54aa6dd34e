package calibrate

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/gonum/optimize"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/internal/atomicfile"
	"github.com/degradiff/degradiff/internal/yamlconf"
	"github.com/degradiff/degradiff/measure/c2st"
	"github.com/degradiff/degradiff/measure/features"
	"github.com/degradiff/degradiff/measure/response"
	"github.com/degradiff/degradiff/pairset/pairread"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// Optimizers lists the optimisers, from gonum's optimize package.
var Optimizers = []string{"cmaes", "neldermead"}

// Files of the output folder.
const (
	SettingsFile = "settings.json"
	EvalsFile    = "evals.jsonl"
	ConfigFile   = "config.yaml"
	ResultFile   = "result.json"
	GapDir       = "gap"
)

// ErrInterrupted is wrapped by the error Run returns when its context is
// cancelled; the evaluations done are kept in evals.jsonl, and running
// again with the same settings replays them and goes on.
var ErrInterrupted = errors.New("calibration interrupted")

// DefaultBudget is the number of evaluations of the proxy objective when
// Options.Budget is 0: on the project's 2-core machine a calibration with
// the default settings stays under 30 minutes (see the README).
const DefaultBudget = 300

// Options configures a calibration. Zero fields take the defaults given.
type Options struct {
	// Preset names the base configuration (a preset of package degrade);
	// ConfigFile, when set, is a --config file on top of it. Base is
	// the result of loading both (with Scale applied); Run does not load
	// it itself, so that a caller can build it.
	Preset     string         `json:"preset"`
	ConfigFile string         `json:"config_file,omitempty"`
	Base       degrade.Config `json:"base"`
	// Groups selects the settings fitted (Groups; all that the pipeline
	// has when empty).
	Groups []string `json:"groups,omitempty"`
	// Budget is the number of evaluations of the objective (default
	// DefaultBudget). It is not part of the settings a rerun must repeat:
	// a larger budget on a rerun goes on from the logged evaluations.
	Budget int `json:"-"`
	// Seed keys the crops, the degradations, the optimiser and the
	// measurements. 0 means 1.
	Seed uint64 `json:"seed"`
	// Holdout is the fraction of the real LQ images held out (default
	// 0.2).
	Holdout float64 `json:"holdout"`
	// Crop and CropStep cut the HQ images into sub-images (default 256
	// every 128 pixels); MaxCrops keeps a random subset (default 192).
	Crop     int `json:"crop"`
	CropStep int `json:"crop_step"`
	MaxCrops int `json:"max_crops"`
	// Objective is the proxy: fd (default) or moments; for a fit to real
	// pairs one of PairedObjectives (psnr by default). fd became the
	// default on RealSR's training split, where it came closer than
	// moments at each of two seeds, on the fit's held-out images and on
	// unseen ones, by KID, FD and the classifier but for one tie (README,
	// "Calibrating the degradation").
	Objective string `json:"objective"`
	// Optimizer is cmaes (default) or neldermead. StepSize (default 0.7)
	// is Nelder-Mead's initial simplex size in the knobs' coordinates, and
	// CMA-ES's InitStepSize: gonum's CmaEsChol draws its first samples
	// with unit spread whatever it is, and uses it only to scale its
	// covariance updates.
	Optimizer string  `json:"optimizer"`
	StepSize  float64 `json:"step_size"`
	// Features selects the feature crops of the proxy and of KID and FD
	// (measure's defaults: 8 crops of 64 pixels).
	Features features.Options `json:"features"`
	// Step, when set, refines every LQ image by the diffusion step before
	// it is measured: the fit is then the initial degradation of the
	// method's LQ images (Step.ID is in Settings). Fits to real LQ images
	// only.
	Step *Step `json:"-"`

	// The settings below change only the final measurements.

	// C2ST configures the classifier test of the final measurements;
	// SkipC2ST leaves it out.
	C2ST     c2st.Options `json:"-"`
	SkipC2ST bool         `json:"-"`
	// Check is the number of candidate configurations (the preset, the
	// fit and some evaluated on the way) measured in full on the held-out
	// images to show that the proxy ranks them as KID, FD and the
	// classifier do (default 5; negative: none).
	Check int `json:"-"`
	// Command is the command line shown in the report and config.yaml.
	Command string `json:"-"`
	// Log receives progress (nil: none).
	Log io.Writer `json:"-"`

	// onEval, when set (tests), is called after each evaluation with the
	// number done.
	onEval func(done int)
}

// WithDefaults returns o with zero fields replaced by their defaults.
func (o Options) WithDefaults() Options {
	if o.Budget == 0 {
		o.Budget = DefaultBudget
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Holdout == 0 {
		o.Holdout = 0.2
	}
	if o.Crop == 0 {
		o.Crop = 256
	}
	if o.CropStep == 0 {
		o.CropStep = o.Crop / 2
	}
	if o.MaxCrops == 0 {
		o.MaxCrops = 192
	}
	if o.Objective == "" {
		o.Objective = "fd"
	}
	if o.Optimizer == "" {
		o.Optimizer = "cmaes"
	}
	if o.StepSize == 0 {
		o.StepSize = 0.7
	}
	if o.Check == 0 {
		o.Check = 5
	}
	o.Features = o.Features.WithDefaults()
	if o.Features.Seed == 0 {
		o.Features.Seed = o.Seed
	}
	return o
}

// Validate names the first bad setting by its flag.
func (o Options) Validate() error {
	if err := o.Base.Validate(); err != nil {
		return err
	}
	o = o.WithDefaults()
	switch {
	case o.Budget < 1 || o.Budget > 100000:
		return fmt.Errorf("--budget: %d is outside 1..100000", o.Budget)
	case o.Crop < 32 || o.Crop%o.Base.Scale != 0:
		return fmt.Errorf("--crop: %d must be at least 32 and a multiple of the scale %d", o.Crop, o.Base.Scale)
	case o.CropStep < 1:
		return fmt.Errorf("--crop-step: %d must be at least 1", o.CropStep)
	case o.MaxCrops < 4:
		return fmt.Errorf("--max-crops: %d must be at least 4", o.MaxCrops)
	case !slices.Contains(Objectives, o.Objective):
		return fmt.Errorf("--objective: %q is not one of %s", o.Objective, strings.Join(Objectives, ", "))
	case !slices.Contains(Optimizers, o.Optimizer):
		return fmt.Errorf("--optimizer: %q is not one of %s", o.Optimizer, strings.Join(Optimizers, ", "))
	case !(o.StepSize > 0 && o.StepSize <= 10):
		return fmt.Errorf("--step-size: %v is outside (0, 10]", o.StepSize)
	case o.Check > 50:
		return fmt.Errorf("--check: %d candidates are too many (at most 50)", o.Check)
	}
	if !(o.Holdout > 0 && o.Holdout < 1) {
		return fmt.Errorf("--holdout: %v is not a fraction in (0, 1)", o.Holdout)
	}
	if err := o.Features.Validate(); err != nil {
		return fmt.Errorf("--features: %w", err)
	}
	if lr := o.Crop / o.Base.Scale; lr < o.Features.PatchSize {
		return fmt.Errorf("--crop: %d gives %dx%d LQ images, smaller than the %d-pixel feature crops (crop / scale must be at least %d)",
			o.Crop, lr, lr, o.Features.PatchSize, o.Features.PatchSize)
	}
	return nil
}

// Settings is what the logged evaluations depend on, CAL/settings.json: a
// rerun must have the same to replay them.
type Settings struct {
	Options Options `json:"options"`
	// BaseYAML is the base configuration, in full.
	BaseYAML string `json:"base_yaml"`
	// Knobs are the settings fitted.
	Knobs []string `json:"knobs"`
	// Fit names the real LQ images fitted on; Crops is the SHA-256 of the
	// HQ crop list.
	Fit   []string `json:"fit"`
	Crops string   `json:"crops"`
	// Step is Options.Step's ID, when the fit goes through the diffusion
	// step.
	Step string `json:"step,omitempty"`
	// Optimize is the version of the optimiser's module, whose random
	// draws and steps the log depends on.
	Optimize string `json:"optimize"`
}

// Eval is one logged evaluation, a line of CAL/evals.jsonl.
type Eval struct {
	Index int       `json:"eval"`
	X     []float64 `json:"x"`
	Proxy float64   `json:"proxy"`
}

// Problem is a prepared calibration: the split, the crops, the features
// of the real images fitted on, and the knobs.
type Problem struct {
	Opt     Options
	Space   *Space
	Fit     Files
	Held    Files
	Crops   []Crop
	Skipped int // HQ files unreadable or smaller than a crop
	// Replayed is the number of evaluations the last Optimize took from
	// the log of an earlier run instead of computing them.
	Replayed int
	imgs     []*raster.Image
	target   *target // the images fitted on
	held     *target // the held-out images
	// objective, when set (tests), replaces Evaluate in Optimize.
	objective func(x []float64) (float64, error)
	// A fit to real pairs (PreparePairs) has their set, the real LR crop
	// of each HQ crop and the indices of the held-out pairs.
	set       *pairread.Set
	lrs       []*raster.Image
	heldPairs []int
	// With ObjectiveResponse: the luma of each HR crop downscaled without
	// blur, the crops of each pair (indices into Crops) and the camera's
	// response on them.
	downs      []*raster.Image
	respGroups [][]int
	cameras    []*response.Filter
}

// Prepare splits the real LQ images, cuts and reads the HQ crops and
// computes the features of the real images fitted on.
func Prepare(real Files, hq []string, opt Options) (*Problem, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	opt = opt.WithDefaults()
	if slices.Contains(PairedObjectives, opt.Objective) {
		return nil, fmt.Errorf("--objective: %s compares each degraded crop with the real LR image of the same scene: give real pairs (--pairs) instead of --real-lq and --hq", opt.Objective)
	}
	space, err := NewSpace(opt.Base, opt.Groups)
	if err != nil {
		return nil, err
	}
	fit, held, err := Split(real, opt.Holdout)
	if err != nil {
		return nil, err
	}
	crops, skipped, err := listCrops(hq, opt.Crop, opt.CropStep, opt.MaxCrops, opt.Seed)
	if err != nil {
		return nil, err
	}
	p := &Problem{Opt: opt, Space: space, Fit: fit, Held: held, Crops: crops, Skipped: skipped}
	if p.imgs, err = loadCrops(crops); err != nil {
		return nil, err
	}
	// Both parts are read now, so that images too small for the feature
	// crops are refused before the fit, not after it.
	for _, part := range []struct {
		what  string
		files Files
		dst   **target
	}{{"images fitted on", fit, &p.target}, {"held-out images", held, &p.held}} {
		feats, used, err := realFeatures(part.files, opt.Features)
		if err != nil {
			return nil, err
		}
		if used < 2 {
			return nil, fmt.Errorf("--real-lq: %d of the %d %s are at least %dx%d pixels (the feature crops), need 2",
				used, len(part.files), part.what, opt.Features.PatchSize, opt.Features.PatchSize)
		}
		*part.dst = newTarget(opt.Objective, feats)
	}
	return p, nil
}

// settings returns the fingerprint of the problem.
func (p *Problem) settings() Settings {
	s := Settings{Options: p.Opt, BaseYAML: string(p.Opt.Base.YAML()), Optimize: optimizeVersion}
	for _, k := range p.Space.Knobs {
		s.Knobs = append(s.Knobs, k.Key)
	}
	for _, f := range p.Fit {
		s.Fit = append(s.Fit, f.Name)
	}
	b, _ := json.Marshal(p.Crops)
	sum := sha256.Sum256(b)
	s.Crops = hex.EncodeToString(sum[:])
	s.Step = p.stepID()
	return s
}

// optimizeVersion names the optimiser's module version (go.mod), part of
// the settings: another version may step differently.
const optimizeVersion = "gonum.org/v1/gonum v0.17.0"

// Evaluate returns the proxy objective of the configuration c: the
// degraded crops (seed seed) against the real images fitted on (or, in a
// fit to pairs, against their real LR crops).
func (p *Problem) Evaluate(c degrade.Config, seed uint64) (float64, error) {
	if p.set != nil {
		return p.pairObjective(c, seed)
	}
	lqs, err := p.lqImages(c, seed)
	if err != nil {
		return 0, err
	}
	f, err := synthFeatures(lqs, cropNames(p.Crops), p.Opt.Features)
	if err != nil {
		return 0, err
	}
	return p.target.proxy(f)
}

func cropNames(crops []Crop) []string {
	out := make([]string, len(crops))
	for i, c := range crops {
		out[i] = c.Name
	}
	return out
}

// stopped is the optimiser status of a run stopped by an interruption or
// an error; the reason is kept aside.
var stopped = optimize.NewStatus("Stopped", true, errors.New("calibrate: stopped"))

type stopConverger struct{ stop *error }

func (s stopConverger) Init(int) {}
func (s stopConverger) Converged(*optimize.Location) optimize.Status {
	if *s.stop != nil {
		return stopped
	}
	return optimize.NotTerminated
}

// Optimize runs the optimiser in the folder dir: every evaluation is
// appended to dir/evals.jsonl (rewritten atomically), and the evaluations
// already there are replayed, not recomputed, so that an interrupted run
// goes on where it stopped and ends exactly as an uninterrupted one.
// progress (may be nil) is called after each evaluation with the number
// done and the best proxy so far. It returns the evaluations in order.
func (p *Problem) Optimize(ctx context.Context, dir string, progress func(done int, best float64)) ([]Eval, error) {
	if err := p.checkSettings(dir); err != nil {
		return nil, err
	}
	logged, err := readEvals(filepath.Join(dir, EvalsFile))
	if err != nil {
		return nil, err
	}
	p.Replayed = 0
	opt := p.Opt
	var (
		evals   []Eval
		stopErr error
		best    = math.Inf(1)
		lines   bytes.Buffer
	)
	for _, e := range logged {
		b, _ := json.Marshal(e)
		lines.Write(append(b, '\n'))
	}
	f := func(x []float64) float64 {
		if stopErr != nil || len(evals) >= opt.Budget {
			return math.Inf(1)
		}
		i := len(evals)
		x = slices.Clone(x)
		var v float64
		if i < len(logged) {
			if !slices.Equal(logged[i].X, x) {
				stopErr = fmt.Errorf("%s: evaluation %d was made at another point than this run asks for (written by another version of degradiff?): remove the folder or use another --out",
					filepath.Join(dir, EvalsFile), i)
				return math.Inf(1)
			}
			v = logged[i].Proxy
			p.Replayed++
		} else {
			if ctx.Err() != nil {
				stopErr = ErrInterrupted
				return math.Inf(1)
			}
			var err error
			if p.objective != nil {
				v, err = p.objective(x)
			} else {
				v, err = p.Evaluate(p.Space.Decode(x), opt.Seed)
			}
			if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
				err = fmt.Errorf("evaluation %d: the proxy is %v (a bug): settings\n%s", i, v, p.Space.Decode(x).YAML())
			}
			if err != nil {
				stopErr = err
				return math.Inf(1)
			}
			b, err := json.Marshal(Eval{Index: i, X: x, Proxy: v})
			if err != nil {
				stopErr = err
				return math.Inf(1)
			}
			lines.Write(append(b, '\n'))
			if err := atomicfile.WriteFile(filepath.Join(dir, EvalsFile), lines.Bytes()); err != nil {
				stopErr = err
				return math.Inf(1)
			}
		}
		evals = append(evals, Eval{Index: i, X: x, Proxy: v})
		best = min(best, v)
		if progress != nil {
			progress(len(evals), best)
		}
		if opt.onEval != nil {
			opt.onEval(len(evals))
		}
		return v
	}
	x0 := p.Space.Start(opt.Base)
	settings := &optimize.Settings{FuncEvaluations: opt.Budget, Converger: stopConverger{&stopErr}}
	var method optimize.Method
	switch opt.Optimizer {
	case "cmaes":
		method = &optimize.CmaEsChol{InitStepSize: opt.StepSize, Src: rng.New(opt.Seed, "calibrate", "cmaes")}
	case "neldermead":
		method = &optimize.NelderMead{SimplexSize: opt.StepSize}
	}
	_, err = optimize.Minimize(optimize.Problem{Func: f}, x0, settings, method)
	switch {
	case errors.Is(stopErr, ErrInterrupted):
		return evals, fmt.Errorf("%w after %d of %d evaluations: they are kept in %s; rerun the same command to go on",
			ErrInterrupted, len(evals), opt.Budget, filepath.Join(dir, EvalsFile))
	case stopErr != nil:
		return evals, stopErr
	case err != nil && len(evals) == 0:
		return nil, fmt.Errorf("optimiser: %w", err)
	}
	if len(evals) == 0 {
		return nil, errors.New("optimiser: no evaluation")
	}
	return evals, nil
}

// Best returns the evaluation with the lowest proxy (the first of equals).
func Best(evals []Eval) Eval {
	b := evals[0]
	for _, e := range evals[1:] {
		if e.Proxy < b.Proxy {
			b = e
		}
	}
	return b
}

// checkSettings refuses a folder whose logged evaluations were made with
// other settings, and records the settings otherwise.
func (p *Problem) checkSettings(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	want, err := json.MarshalIndent(p.settings(), "", "  ")
	if err != nil {
		return err
	}
	want = append(want, '\n')
	path := filepath.Join(dir, SettingsFile)
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("reading %s: %w", path, err)
	case !bytes.Equal(old, want):
		if _, err := os.Stat(filepath.Join(dir, EvalsFile)); err == nil {
			keys := yamlconf.DifferingKeys(old, want)
			return fmt.Errorf("--out %s holds a calibration with other settings (%s differ; see %s): use another --out, or the same settings to resume",
				dir, strings.Join(keys, ", "), path)
		}
	default:
		return nil
	}
	return atomicfile.WriteFile(path, want)
}

// readEvals reads the logged evaluations; a missing file is none.
func readEvals(path string) ([]Eval, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Eval
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for n := 1; sc.Scan(); n++ {
		var e Eval
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Index != len(out) {
			return nil, fmt.Errorf("%s:%d: not the evaluation %d this file should hold (%v): remove the file to start over", path, n, len(out), err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return out, nil
}

package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/diffusion/pipeline"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/plot"
	"github.com/degradiff/degradiff/internal/progress"
	"github.com/degradiff/degradiff/internal/yamlconf"
	"github.com/degradiff/degradiff/measure"
	"github.com/degradiff/degradiff/measure/diagnose"
	"github.com/degradiff/degradiff/pairset"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
	"github.com/degradiff/degradiff/synth"
)

type diagnoseFlags struct {
	realLQ, hq, out, preset, config, strengths, samplerName, finalSigmas, refine string
	tailSteps                                                                    int
	models, includes                                                             []string
	scale, steps, maxHQ, tile                                                    int
	uniform, sigma                                                               float64
	seed                                                                         uint64
	noC2ST, noSelf                                                               bool
}

func newDiagnoseCmd() *cobra.Command {
	var f diagnoseFlags
	cmd := &cobra.Command{
		Use:   "diagnose --real-lq DIR [--hq DIR] [--model M]... --out DIR",
		Short: "Measure whether a diffusion model keeps content and matches real LQ statistics",
		Long: `diagnose runs the two diagnostics of a diffusion model of real LQ images
(package measure/diagnose), for one or more models, and writes a report:

  - self-consistency: the real LQ images of --real-lq are split in two
    halves by a keyed hash of their names; half A is refined at each
    strength as if it were an initial LQ image and measured against half B
    (KID, FD, classifier test). A model of the real LQ distribution stays
    at the level of unrefined half A against half B (the reference row),
    and keeps the content: PSNR and SSIM of the refined images against the
    unrefined ones, plain and after a Gaussian low-pass (--low-pass-sigma
    pixels) that ignores fine-scale degradation;
  - realism-fidelity (with --hq): the initial LQ images of the HQ images
    (degradation --preset / --config, one variant each) refined at each
    strength; realism against all of --real-lq, fidelity against the
    initial images. One curve per model in one plot: a better model moves
    toward "closer and faithful".

Use real LQ images that none of the models was trained on. --model takes
"builtin" or "builtin-face" (the models built into the binary) or a
diffusers pipeline or UNet folder, and can be repeated. OUT gets
diagnose.json, report.md and PNG charts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runDiagnose(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.realLQ, "real-lq", "", "folder of held-out real LQ images (required)")
	fl.StringVar(&f.hq, "hq", "", "folder of HQ images for the realism-fidelity curve (optional)")
	fl.StringVar(&f.out, "out", "", "output folder (required)")
	fl.StringArrayVar(&f.models, "model", nil, `model: "builtin", "builtin-face" or a folder (repeatable; default builtin, none with --include: a report of earlier results)`)
	fl.StringVar(&f.preset, "preset", "official", "degradation preset of the initial LQ images")
	fl.StringVar(&f.config, "config", "", "degradation config file overriding the preset")
	fl.IntVar(&f.scale, "scale", 0, "scale of the degradation (0: the preset's)")
	def := synth.DefaultOptions()
	fl.StringVar(&f.strengths, "strengths", "0.05,0.1,0.15,0.25", "comma-separated img2img strengths")
	fl.Float64Var(&f.uniform, "uniform", def.MaxStrength, "also refine at strengths uniform in [0, this] per image (0: no)")
	fl.Float64Var(&f.sigma, "low-pass-sigma", 1.5, "sigma in pixels of the low-pass before the low-pass fidelity")
	fl.StringVar(&f.samplerName, "sampler", def.Sampler, "sampler: ddim, unipc, ddpm or dpmpp")
	fl.StringVar(&f.finalSigmas, "final-sigmas", def.FinalSigmas, "where the last step lands: zero or sigma_min")
	fl.IntVar(&f.steps, "steps", def.Steps, "inference steps")
	fl.StringVar(&f.refine, "refine", pipeline.RefineRGB, "what the diffusion step may change: rgb, or luma (the colour stays the input's)")
	fl.IntVar(&f.tailSteps, "tail-steps", 1, "split ddim's last step (timestep 1000/steps to 0) in this many")
	fl.IntVar(&f.maxHQ, "max-hq", 0, "use at most this many HQ images (0: all), chosen by a keyed hash of their names")
	fl.IntVar(&f.tile, "tile", def.Tile, "run the model in tiles above this size")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the halves, the strengths, the noise and the degradation")
	fl.BoolVar(&f.noC2ST, "no-c2st", false, "skip the classifier test (fast)")
	fl.BoolVar(&f.noSelf, "no-self-consistency", false, "skip the self-consistency diagnostic")
	fl.StringArrayVar(&f.includes, "include", nil, "add the models of an earlier diagnose.json measured with the same settings to the report and charts (repeatable)")
	return cmd
}

func parseStrengths(s string) ([]float64, error) {
	var out []float64
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !(v > 0 && v <= 1) {
			return nil, fmt.Errorf("--strengths: %q is not a number in (0, 1]", p)
		}
		out = append(out, v)
	}
	return out, nil
}

// loadImages reads every image under dir into memory, failing on the
// first unreadable one (a diagnostic must not silently cover less).
func loadImages(flag, dir string, limit int, seed uint64) ([]measure.Image, error) {
	files, problems := imageio.Find(dir)
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s %s: %w", flag, dir, problems[0])
	}
	names, err := imageio.Names(dir, files)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s %s: no images found", flag, dir)
	}
	idx := make([]int, len(files))
	for i := range idx {
		idx[i] = i
	}
	if limit > 0 && limit < len(files) {
		key := func(i int) uint64 { return rng.New(seed, "diagnose-pick", names[i]).Uint64() }
		sortByKey(idx, key)
		idx = idx[:limit]
	}
	var out []measure.Image
	for _, i := range idx {
		m, _, err := imageio.Load(files[i], imageio.Options{})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		out = append(out, measure.Image{Name: names[i], Image: m})
	}
	return out, nil
}

func sortByKey(idx []int, key func(int) uint64) {
	keys := make(map[int]uint64, len(idx))
	for _, i := range idx {
		keys[i] = key(i)
	}
	for a := 1; a < len(idx); a++ {
		for b := a; b > 0 && keys[idx[b]] < keys[idx[b-1]]; b-- {
			idx[b], idx[b-1] = idx[b-1], idx[b]
		}
	}
}

func runDiagnose(cmd *cobra.Command, f diagnoseFlags) error {
	stderr := cmd.ErrOrStderr()
	if f.realLQ == "" || f.out == "" {
		return fmt.Errorf("--real-lq and --out are required")
	}
	strengths, err := parseStrengths(f.strengths)
	if err != nil {
		return err
	}
	if err := checkFinalSigmas(cmd, f.samplerName); err != nil {
		return err
	}
	if !(f.uniform >= 0 && f.uniform <= 1) {
		return fmt.Errorf("--uniform: %v is outside [0, 1]", f.uniform)
	}
	if !(f.sigma > 0 && f.sigma <= 20) {
		return fmt.Errorf("--low-pass-sigma: %v is outside (0, 20]", f.sigma)
	}
	if f.maxHQ < 0 {
		return fmt.Errorf("--max-hq: %d is negative", f.maxHQ)
	}
	if len(f.models) == 0 && len(f.includes) == 0 {
		f.models = []string{"builtin"}
	}
	inputs := [][2]string{{"--real-lq", f.realLQ}}
	if f.hq != "" {
		inputs = append(inputs, [2]string{"--hq", f.hq})
	}
	if err := checkSeparate("--out", f.out, inputs); err != nil {
		return err
	}
	real, err := loadImages("--real-lq", f.realLQ, 0, f.seed)
	if err != nil {
		return err
	}
	var inits []measure.Image
	if f.hq != "" {
		_, pipe, err := loadDegradation(f.preset, f.config, f.scale, 1)
		if err != nil {
			return err
		}
		hq, err := loadImages("--hq", f.hq, f.maxHQ, f.seed)
		if err != nil {
			return err
		}
		for _, m := range hq {
			it, err := degrade.Prepare(pipe, m.Image, f.seed, m.Name)
			if err != nil {
				return fmt.Errorf("--hq %s: %w", m.Name, err)
			}
			init, _, err := it.Variant(0)
			if err != nil {
				return fmt.Errorf("--hq %s: %w", m.Name, err)
			}
			inits = append(inits, measure.Image{Name: m.Name, Image: init})
		}
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return err
	}
	opt := diagnose.Options{Strengths: strengths, Uniform: f.uniform, LowPassSigma: f.sigma, Seed: f.seed,
		Gap: measure.Options{SkipC2ST: f.noC2ST}}
	// Earlier results are checked before any work.
	rec := diagnoseRecord{Settings: diagnoseSettings{RealLQ: f.realLQ, HQ: f.hq, MaxHQ: f.maxHQ, Preset: f.preset, Config: f.config,
		Scale: f.scale, Sampler: f.samplerName, FinalSigmas: f.finalSigmas, Steps: f.steps, Refine: refineSetting(f.refine), TailSteps: tailSetting(f.tailSteps), Tile: f.tile, Seed: f.seed, Options: opt}}
	earlier, err := includeDiagnoses(f.includes, rec.Settings)
	if err != nil {
		return err
	}
	var results []diagnose.Model
	for _, spec := range f.models {
		model, err := pipeline.Load(spec, false)
		if err != nil {
			return err
		}
		img2img, err := pipeline.New(model.Predict, model.SchedulerConfig,
			pipeline.Options{Sampler: f.samplerName, FinalSigmas: f.finalSigmas, Steps: f.steps, Tile: f.tile, Overlap: synth.DefaultOptions().Overlap, Refine: f.refine, TailSteps: f.tailSteps})
		if err != nil {
			return flagError(err)
		}
		refine := func(img *raster.Image, s float64, name string) (*raster.Image, error) {
			out, _, err := img2img.Image(img, s, rng.New(f.seed, "diagnose", name, strconv.FormatFloat(s, 'g', -1, 64)))
			return out, err
		}
		res := diagnose.Model{Name: spec, SHA256: model.ID.SHA256}
		nStrengths := len(strengths)
		if f.uniform > 0 {
			nStrengths++
		}
		if !f.noSelf {
			bar := progress.New(stderr, nStrengths*(len(real)/2), "self-consistency "+spec, "images")
			opt.Progress = func(done, total int) { bar.Add(1) }
			res.SelfConsistency, err = diagnose.SelfConsistency(real, refine, opt)
			bar.Finish()
			if err != nil {
				return fmt.Errorf("model %s: %w", spec, err)
			}
		}
		if len(inits) > 0 {
			bar := progress.New(stderr, nStrengths*len(inits), "realism-fidelity "+spec, "images")
			opt.Progress = func(done, total int) { bar.Add(1) }
			res.Curve, err = diagnose.RealismFidelity(spec, inits, measure.Images(real), refine, opt)
			bar.Finish()
			if err != nil {
				return fmt.Errorf("model %s: %w", spec, err)
			}
		}
		results = append(results, res)
	}
	rec.Models = append(dropMeasured(earlier, results), results...)
	results = rec.Models
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := pairset.WriteFileAtomic(filepath.Join(f.out, "diagnose.json"), append(b, '\n')); err != nil {
		return err
	}
	var md bytes.Buffer
	steps := fmt.Sprintf("%d steps", f.steps)
	if f.tailSteps > 1 {
		steps += fmt.Sprintf(" (the last split in %d)", f.tailSteps)
	}
	if f.refine == pipeline.RefineLuma {
		steps += ", luma change only"
	}
	fmt.Fprintf(&md, "# Diffusion model diagnostics\n\nReal LQ images: `%s` (%d). HQ images: `%s` (%d initial LQ images, preset %s). Sampler %s, %s, final sigmas %s, seed %d.\n\n",
		f.realLQ, len(real), f.hq, len(inits), f.preset, f.samplerName, steps, f.finalSigmas, f.seed)
	if err := diagnose.WriteMarkdown(&md, results); err != nil {
		return err
	}
	for name, chart := range diagnose.Charts(results) {
		if err := plot.SavePNG(filepath.Join(f.out, name), chart.Draw(720, 440)); err != nil {
			return err
		}
		fmt.Fprintf(&md, "![%s](%s)\n\n", name, name)
	}
	if err := pairset.WriteFileAtomic(filepath.Join(f.out, "report.md"), md.Bytes()); err != nil {
		return err
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s", md.String())
	return err
}

// diagnoseSettings is what a diagnose run's figures depend on; runs with
// equal settings can share a report (--include).
type diagnoseSettings struct {
	RealLQ      string `json:"real_lq"`
	HQ          string `json:"hq"`
	MaxHQ       int    `json:"max_hq"`
	Preset      string `json:"preset"`
	Config      string `json:"config"`
	Scale       int    `json:"scale"`
	Sampler     string `json:"sampler"`
	FinalSigmas string `json:"final_sigmas"`
	Steps       int    `json:"steps"`
	// Refine is "luma" for --refine luma, absent for rgb, so that earlier
	// records (before the flag) still match.
	Refine string `json:"refine,omitempty"`
	// TailSteps is --tail-steps above 1, absent otherwise (likewise).
	TailSteps int              `json:"tail_steps,omitempty"`
	Tile      int              `json:"tile"`
	Seed      uint64           `json:"seed"`
	Options   diagnose.Options `json:"options"`
}

// diagnoseRecord is OUT/diagnose.json.
type diagnoseRecord struct {
	Settings diagnoseSettings `json:"settings"`
	Models   []diagnose.Model `json:"models"`
}

// dropMeasured returns the models of earlier that were not measured again
// now (same name and SHA-256).
func dropMeasured(earlier, now []diagnose.Model) []diagnose.Model {
	var out []diagnose.Model
next:
	for _, m := range earlier {
		for _, n := range now {
			if n.Name == m.Name && n.SHA256 == m.SHA256 {
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}

// includeDiagnoses reads the models of earlier diagnose.json files,
// refusing those measured with other settings.
func includeDiagnoses(files []string, want diagnoseSettings) ([]diagnose.Model, error) {
	wantJSON, _ := json.Marshal(want)
	var out []diagnose.Model
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--include: %w", err)
		}
		var rec diagnoseRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("--include %s: not a diagnose.json: %w", file, err)
		}
		got, _ := json.Marshal(rec.Settings)
		if !bytes.Equal(got, wantJSON) {
			return nil, fmt.Errorf("--include %s: measured with other settings (%s); rerun it with the same flags", file, strings.Join(yamlconf.DifferingKeys(got, wantJSON), ", "))
		}
		out = append(dropMeasured(out, rec.Models), rec.Models...)
	}
	return out, nil
}

// tailSetting is --tail-steps as run records keep it: 0 for the plain
// schedule (1), so that records made before the flag still match.
func tailSetting(tail int) int {
	if tail == 1 {
		return 0
	}
	return tail
}

// refineSetting is --refine as run records keep it: empty for rgb, so
// that runs made before the flag existed still match.
func refineSetting(refine string) string {
	if refine == pipeline.RefineRGB {
		return ""
	}
	return refine
}

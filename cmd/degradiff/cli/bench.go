package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/degradiff/degradiff/experiment"
	"github.com/degradiff/degradiff/internal/report"
)

// benchFlags are the flags of degradiff bench.
type benchFlags struct {
	hq                               []string
	realLQ, test, out, model, budget string
	config, sources                  string
	realInclude, realExclude         []string
	testInclude, testExclude         []string
	realPairs, calibration           string
	pairsInclude, pairsExclude       []string
	val                              string
	valInclude, valExclude           []string
	srSeeds                          int
	seed                             uint64
	workers, adaptSteps              int
	ema, printConfig                 bool
	task, faceModels                 string // --task, and --face-models of --task face (benchface.go)
}

func newBenchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench --hq DIR --real-lq DIR --test DIR --out DIR [--budget quick|full|tiny]",
		Short: "Run the whole experiment: which LQ source trains the best SR network?",
		Long: `bench runs the experiment of the method on your folders and writes a report.
For each LQ source (--sources; by default bicubic, realesrgan, official,
bsrgan and official+ddpm, the official degradation refined by the
diffusion model, i.e. the method) it:

  1. cuts the HQ images (--hq) into crops, the same for every source;
  2. makes one pair per crop (and variant) with the same item names and
     seeds, so official and official+ddpm share each initial LQ image;
  3. measures the gap between the source's LQ images and the real LQ
     images (--real-lq): KID, FD and the classifier two-sample test, as
     degradiff gap;
  4. trains the same super-resolution network with the same settings on
     the source's pairs, as degradiff sr train;
  5. tests it, as soon as it is trained, on the real test pairs (--test, a
     folder with HR/ and LR/): PSNR and SSIM on the Y channel, as degradiff
     sr test, with bicubic upsampling as the reference row;
  6. writes OUT/report.md and OUT/report.html (the table, the training
     curves and sample crops), results.json, curves.png and samples.png,
     and prints the table.

The method works when its diffusion model models the real LQ images. So
before official+ddpm makes its pairs, the stage "adapt" fine-tunes the
model (--model, or the built-in one) on the selected real LQ images in
OUT/adapt/, as degradiff train --init-from does, and official+ddpm uses
the result, OUT/adapt/model. Its length is adapt.steps (--adapt-steps):
1000 steps of 8 crops of 64 pixels in the full budget, 100 in quick; 0
uses the model as given.

--budget scales everything: tiny (seconds, for tests), quick (minutes on 2
cores, for checks) or full (hours, the measurement). --config FILE sets any
setting on top of the budget ("--print-config" shows them all). Every stage
keeps its output in OUT, so Ctrl-C or a failure loses little: rerun the same
command to resume. A rerun may change --sources and --sr-seeds (what is
done is kept: more seeds add networks) but no other setting.

Without --model, official+ddpm starts from the built-in diffusion model.
Decide nothing by looking at the test pairs: the real LQ images must not
include them (a test LR image among the real LQ images is refused), nor
the HQ images their HR images.

The protocol on RealSR: the real LQ images are the LR images of Canon and
Nikon 001-040 (the diffusion model is adapted to them), the test pairs
041-050, and the HQ images come from elsewhere:

  degradiff bench --hq hq/natural --out runs/bench \
    --real-lq RealSR_V3/LR --real-lq-exclude 'Canon_04[1-9]*,Canon_050*,Nikon_04[1-9]*,Nikon_050*' \
    --test RealSR_V3 --test-include 'Canon_04[1-9]*,Canon_050*,Nikon_04[1-9]*,Nikon_050*'

The source real (--sources ...,real --real-pairs RealSR_V3
--real-pairs-exclude 'Canon_04[1-9]*,Canon_050*,Nikon_04[1-9]*,Nikon_050*')
trains the same network on the real training pairs: the ceiling every
synthetic source aims at; the report gives the share of the official ->
real gap each source closes. --sr-seeds N trains N networks per source
(seeds SEED..SEED+N-1) and reports means, standard deviations and
intervals over seeds, and which differences from official are
significant.

--val DIR (with --val-include/--val-exclude) tests every network on real
pairs of the training split too, say RealSR Canon and Nikon 001-040
(--val RealSR_V3 --val-exclude 'Canon_04[1-9]*,Canon_050*,Nikon_04[1-9]*,Nikon_050*'):
the report's "Validation pairs" section compares the sources on them, so
that settings (a calibrated config, the strength, the sampler) are chosen
downstream without looking at the test pairs. It may be added to a
finished run: only the validation stages run. Validation pairs must not
be test pairs, nor their HR images HQ images; real is not validated when
it trains on any of them.

The sources calibrated and calibrated+ddpm start from the official
degradation with its ranges fitted to the real LQ images, as degradiff
calibrate fits them: the stage "calibrate" fits them on the selected real
LQ images (those the diffusion model is adapted to) and the HQ images in
OUT/calibrate/ (config.yaml, report.md; calibration.budget evaluations),
or --calibration FILE gives a config.yaml fitted before. calibrated+ddpm
refines calibrated's LQ images with the adapted diffusion model, as
official+ddpm refines official's.

` + srPairsHelp + benchFaceHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runBench(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.hq, "hq", nil, "folder of HQ source images, searched recursively (repeatable)")
	fl.StringVar(&f.realLQ, "real-lq", "", "folder of real LQ images: those the diffusion model learnt from")
	fl.StringArrayVar(&f.realInclude, "real-lq-include", nil, "use only the real LQ images whose name matches one of these globs (repeatable, comma-separated)")
	fl.StringArrayVar(&f.realExclude, "real-lq-exclude", nil, "leave out the real LQ images whose name matches one of these globs (repeatable, comma-separated)")
	fl.StringVar(&f.test, "test", "", "paired folder of real test pairs (HR/ and LR/, or meta_info.txt)")
	fl.StringArrayVar(&f.testInclude, "test-include", nil, "test only on pairs whose HR name matches one of these globs (repeatable, comma-separated)")
	fl.StringArrayVar(&f.testExclude, "test-exclude", nil, "leave out the test pairs whose HR name matches one of these globs (repeatable)")
	fl.StringVar(&f.realPairs, "real-pairs", "", "paired folder of real training pairs (HR/ and LR/) for the source real, the ceiling")
	fl.StringArrayVar(&f.pairsInclude, "real-pairs-include", nil, "use only the real training pairs whose HR name matches one of these globs (repeatable, comma-separated)")
	fl.StringArrayVar(&f.pairsExclude, "real-pairs-exclude", nil, "leave out the real training pairs whose HR name matches one of these globs (repeatable, comma-separated)")
	fl.StringVar(&f.val, "val", "", "paired folder of real validation pairs (HR/ and LR/): every network is also tested on them, to compare settings without the test pairs")
	fl.StringArrayVar(&f.valInclude, "val-include", nil, "validate only on pairs whose HR name matches one of these globs (repeatable, comma-separated)")
	fl.StringArrayVar(&f.valExclude, "val-exclude", nil, "leave out the validation pairs whose HR name matches one of these globs (repeatable, comma-separated)")
	fl.StringVar(&f.calibration, "calibration", "", "degradation config of the sources calibrated and calibrated+ddpm, such as CAL/config.yaml of degradiff calibrate (--task sr default: fitted in the stage calibrate; overrides calibration.config; --task face: a calibrate --preset face fit, required by those sources)")
	fl.IntVar(&f.srSeeds, "sr-seeds", 0, "SR networks trained per source, with seeds SEED, SEED+1, ... (overrides sr_seeds; 0: the config's, else 1)")
	fl.StringVar(&f.out, "out", "", "output folder (a rerun with the same settings resumes)")
	fl.StringVar(&f.model, "model", "", "diffusion model of official+ddpm: a pipeline or UNet folder (default: the built-in model)")
	fl.BoolVar(&f.ema, "ema", false, "use the unet_ema/ weights of a pipeline folder that has both")
	fl.StringVar(&f.budget, "budget", "", "tiny, quick or full (default: the --config file's, else quick)")
	fl.StringVar(&f.config, "config", "", "YAML file of settings on top of the budget's")
	fl.StringVar(&f.sources, "sources", "", "comma-separated LQ sources: "+strings.Join(experiment.Sources, ",")+" (default: bicubic,realesrgan,official,bsrgan,official+ddpm; real needs --real-pairs)")
	fl.Uint64Var(&f.seed, "seed", 0, "random seed of everything (overrides the config)")
	fl.IntVar(&f.adaptSteps, "adapt-steps", 0, "steps of fine-tuning the diffusion model on the real LQ images; 0 uses it as given (overrides adapt.steps; a longer adapt.warmup_steps becomes a tenth of them)")
	fl.IntVar(&f.workers, "workers", runtime.NumCPU(), "HQ images degraded at once (results do not depend on it)")
	fl.BoolVar(&f.printConfig, "print-config", false, "print the settings and exit")
	addBenchFaceFlags(fl, &f)
	return cmd
}

// benchConfig builds the settings from the budget, the --config file and
// the flags given.
func benchConfig(cmd *cobra.Command, f benchFlags) (experiment.Config, error) {
	if f.budget != "" {
		if _, err := experiment.Default(f.budget); err != nil {
			return experiment.Config{}, fmt.Errorf("--budget: %w", err)
		}
	}
	cfg, err := experiment.Load(f.budget, f.config)
	if err != nil {
		return cfg, err
	}
	changed := cmd.Flags().Changed
	if changed("hq") {
		cfg.HQ = f.hq
	}
	if changed("real-lq") {
		cfg.RealLQ = f.realLQ
	}
	if changed("test") {
		cfg.Test = f.test
	}
	if changed("model") {
		cfg.Model = f.model
	}
	if changed("ema") {
		cfg.ModelEMA = f.ema
	}
	if changed("seed") {
		cfg.Seed = f.seed
	}
	if changed("real-pairs") {
		cfg.RealPairs = f.realPairs
	}
	if changed("sr-seeds") {
		cfg.SRSeeds = f.srSeeds
	}
	if changed("val") {
		cfg.Val = f.val
	}
	if changed("calibration") {
		cfg.Calibration.Config = f.calibration
	}
	if changed("adapt-steps") {
		cfg.Adapt.Steps = f.adaptSteps
		if a := &cfg.Adapt; a.Steps > 0 && a.WarmupSteps > a.Steps {
			// The budget's warm-up is for its own steps.
			a.WarmupSteps = a.Steps / 10
		}
	}
	if err := applyGlobs(changed, []globFlag{
		{"real-lq-include", f.realInclude, &cfg.RealLQInclude}, {"real-lq-exclude", f.realExclude, &cfg.RealLQExclude},
		{"test-include", f.testInclude, &cfg.TestInclude}, {"test-exclude", f.testExclude, &cfg.TestExclude},
		{"real-pairs-include", f.pairsInclude, &cfg.RealPairsInclude}, {"real-pairs-exclude", f.pairsExclude, &cfg.RealPairsExclude},
		{"val-include", f.valInclude, &cfg.ValInclude}, {"val-exclude", f.valExclude, &cfg.ValExclude},
	}); err != nil {
		return cfg, err
	}
	if changed("sources") {
		cfg.Sources = splitSources(f.sources)
		if err := experiment.CheckSources(cfg.Sources); err != nil {
			return cfg, err
		}
	}
	cfg.Workers = f.workers
	cfg.Command = benchCommand(cfg, f)
	return cfg, nil
}

// globFlag is a repeatable glob flag and the setting it overrides.
type globFlag struct {
	flag string
	vals []string
	dst  *[]string
}

// applyGlobs sets the settings of the glob flags given on the command line.
func applyGlobs(changed func(string) bool, flags []globFlag) error {
	for _, g := range flags {
		if changed(g.flag) {
			var err error
			if *g.dst, err = srGlobs(g.flag, g.vals); err != nil {
				return err
			}
		}
	}
	return nil
}

// splitSources splits the --sources list.
func splitSources(list string) []string {
	var out []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// benchCommand returns a command line that redoes the experiment.
func benchCommand(c experiment.Config, f benchFlags) string {
	var b strings.Builder
	b.WriteString("degradiff bench")
	arg := func(flag, v string) { fmt.Fprintf(&b, " \\\n  --%s %s", flag, report.ShellQuote(v)) }
	for _, d := range c.HQ {
		arg("hq", d)
	}
	globs := func(flag string, g []string) {
		if len(g) > 0 {
			arg(flag, strings.Join(g, ","))
		}
	}
	arg("real-lq", c.RealLQ)
	globs("real-lq-include", c.RealLQInclude)
	globs("real-lq-exclude", c.RealLQExclude)
	arg("test", c.Test)
	globs("test-include", c.TestInclude)
	globs("test-exclude", c.TestExclude)
	if c.RealPairs != "" {
		arg("real-pairs", c.RealPairs)
		globs("real-pairs-include", c.RealPairsInclude)
		globs("real-pairs-exclude", c.RealPairsExclude)
	}
	if c.Val != "" {
		arg("val", c.Val)
		globs("val-include", c.ValInclude)
		globs("val-exclude", c.ValExclude)
	}
	if c.SRSeeds > 1 {
		arg("sr-seeds", fmt.Sprint(c.SRSeeds))
	}
	if c.Model != "" {
		arg("model", c.Model)
	}
	if c.ModelEMA {
		b.WriteString(" --ema")
	}
	if c.Calibration.Config != "" {
		arg("calibration", c.Calibration.Config)
	}
	arg("out", f.out)
	arg("budget", c.Budget)
	if f.config != "" {
		arg("config", f.config)
	}
	arg("sources", strings.Join(c.Sources, ","))
	arg("seed", fmt.Sprint(c.Seed))
	arg("adapt-steps", fmt.Sprint(c.Adapt.Steps))
	return b.String()
}

func runBench(cmd *cobra.Command, f benchFlags) error {
	if handled, err := benchTask(cmd, f); handled {
		return err
	}
	stderr := cmd.ErrOrStderr()
	cfg, err := benchConfig(cmd, f)
	if err != nil {
		return err
	}
	if f.printConfig {
		_, err := cmd.OutOrStdout().Write(cfg.YAML())
		return err
	}
	if f.out == "" {
		return errors.New("--out is required")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	var ins [][2]string
	for _, d := range cfg.HQ {
		ins = append(ins, [2]string{"--hq", d})
	}
	for _, in := range [][2]string{{"--real-lq", cfg.RealLQ}, {"--test", cfg.Test}, {"--real-pairs", cfg.RealPairs}, {"--val", cfg.Val}} {
		if in[1] != "" {
			ins = append(ins, in)
		}
	}
	if err := checkSeparate("--out", f.out, ins); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "bench: budget %s, sources %s, seed %d; output in %s\n", cfg.Budget, strings.Join(cfg.Sources, ","), cfg.Seed, f.out)
	ctx, stop := signalContext()
	defer stop()
	res, err := experiment.Run(ctx, cfg, f.out, stderr)
	if errors.Is(err, experiment.ErrInterrupted) {
		return &exitError{code: interruptCode(), err: err}
	}
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "%d HQ crops, %d real LQ images, %d test pairs (budget %s):\n\n", res.HQCrops, res.RealLQImages, res.TestPairs, res.Budget)
	if err := res.WriteTable(w); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "\nreport: %s (and report.html)\n", filepath.Join(f.out, experiment.ReportMD))
	return err
}

package cli

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/degradiff/degradiff/diffusion/pipeline"
	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/models/defaultmodel"
	"github.com/degradiff/degradiff/pairset"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/synth"
)

type synthFlags struct {
	hq, out, model, preset, config, finalSigmas, shard string
	perImage, workers, tile, overlap                   int
	crop, step, thresh, scale                          int
	seed                                               uint64
	keepInit, overwrite, skipBad                       bool
	maxPixels                                          int64
	stepFlags
	precisionFlag
}

// stepFlags set the diffusion step of synth, and of calibrate --model.
type stepFlags struct {
	samplerName, refine string
	steps, tailSteps    int
	maxStrength         float64
	ema                 bool
}

// register adds the flags, their help prefixed by note.
func (f *stepFlags) register(fl *pflag.FlagSet, note string) {
	def := synth.DefaultOptions()
	fl.BoolVar(&f.ema, "ema", false, note+"use the unet_ema/ weights of a pipeline folder that has both")
	fl.Float64Var(&f.maxStrength, "max-strength", def.MaxStrength, note+"strengths are drawn uniformly in [0, max]")
	fl.StringVar(&f.samplerName, "sampler", def.Sampler, note+"ddim, unipc, ddpm or dpmpp")
	fl.IntVar(&f.steps, "steps", def.Steps, note+"inference steps N of the full schedule (about s*N run)")
	fl.StringVar(&f.refine, "refine", pipeline.RefineRGB, note+"what the diffusion step may change: rgb, or luma (the colour stays the initial LQ image's)")
	fl.IntVar(&f.tailSteps, "tail-steps", 1, note+"split ddim's last step (timestep 1000/steps to 0) in this many: keeps fine noise and detail")
}

func newSynthCmd() *cobra.Command {
	var f synthFlags
	cmd := &cobra.Command{
		Use:   "synth --hq DIR --out DIR [--model DIR] [--preset NAME]",
		Short: "Make realistic HQ/LQ pairs: degradation, then diffusion refinement",
		Long: `synth is degradiff's main job. For every HQ image under --hq (optionally cut
into --crop sub-images first) and each of --per-image variants it:

  1. makes an initial LQ image with a degradation preset (default official,
     scale 4, no resize back);
  2. draws a strength s uniformly in [0, --max-strength], at least 1/--steps
     (--max-strength 0: no diffusion step, the LQ image is the initial one);
  3. noises the initial LQ to the img2img start timestep of s and denoises it
     with the DDPM (default DDIM, 50 steps, so about s*50 steps run; unipc
     and dpmpp add colour noise at these few steps, docs/MODEL_CARD.md;
     their last step lands on the clean image, --final-sigmas zero, where
     diffusers 0.21 and the reference implementation stop at timestep 0's
     noise level, sigma_min);
  4. writes the pair.

A model adapted to your own real LQ images ("degradiff train --init-from
builtin --config configs/ddpm-adapt.yaml") makes LQ images closer to them
than the general-purpose built-in model.

Without --model it uses the default model built into the binary, trained by
the project on real-world low-quality images (docs/MODEL_CARD.md), or with
--preset face the built-in face model, trained on aligned real LQ faces
(--model builtin and --model builtin-face select either). --model also
takes a diffusers pipeline folder (unet/ + scheduler/, e.g. from
"degradiff export" or the reference implementation's release) or a UNet
folder. Colours are RGB end to end.

Output: OUT/HR, OUT/LR (and OUT/LR_init with --keep-init), meta_info.txt, and
manifest.jsonl with, per pair, the source file, crop box, every degradation
parameter, seed, strength, start timestep, sampler, steps and the model's
name and SHA-256. Outputs are identical for the same seed whatever
--workers, --shard split or order. --shard I/N processes every N-th source
image (from the I-th), for splitting a dataset over machines; "degradiff
merge" joins the shard folders. Large LQ images run through the model in
overlapping --tile tiles. Writes are atomic and a rerun resumes.

--precision bf16 runs the model's products with bfloat16 factors and
float32 sums: on CPUs with AMX-BF16 tiles (Intel Sapphire Rapids and
later: about 1.85 times float32's pairs/s) or AVX512_BF16 (AMD Zen 4 and
later) it is faster, elsewhere slower (degradiff --version names the
kernels). Its LQ images differ slightly from float32 ones
(README "Precision"); a run keeps the precision it started with.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runSynth(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.hq, "hq", "", "folder of HQ images (searched recursively)")
	fl.StringVar(&f.out, "out", "", "output folder")
	fl.StringVar(&f.model, "model", "", "builtin, builtin-face, or a diffusers pipeline or UNet folder (default: builtin, or builtin-face with --preset face)")
	def := synth.DefaultOptions()
	fl.StringVar(&f.preset, "preset", "", "degradation preset for the initial LQ (default official)")
	fl.StringVar(&f.config, "config", "", "YAML file overriding degradation preset keys")
	fl.IntVar(&f.scale, "scale", 0, "scale factor (overrides the preset's)")
	f.stepFlags.register(fl, "")
	fl.StringVar(&f.finalSigmas, "final-sigmas", def.FinalSigmas, "where the last unipc/dpmpp step lands: zero (clean) or sigma_min (as diffusers 0.21)")
	f.precisionFlag.register(fl)
	fl.IntVar(&f.perImage, "per-image", 1, "LQ variants per HQ image")
	fl.Uint64Var(&f.seed, "seed", 0, "random seed")
	fl.IntVar(&f.workers, "workers", runtime.NumCPU(), "images processed at once")
	fl.StringVar(&f.shard, "shard", "", "process shard I of N (I/N) of the sorted source images")
	fl.BoolVar(&f.keepInit, "keep-init", false, "also write the initial degradation to LR_init/")
	fl.IntVar(&f.tile, "tile", def.Tile, "run the model over overlapping tiles of this size on larger LQ images (0: never)")
	fl.IntVar(&f.overlap, "tile-overlap", def.Overlap, "overlap of neighbouring tiles in pixels")
	fl.IntVar(&f.crop, "crop", 0, "cut HQ images into sub-images of this size first (BasicSR extract_subimages)")
	fl.IntVar(&f.step, "step", 0, "distance between sub-images (default: crop/2)")
	fl.IntVar(&f.thresh, "thresh-size", 0, "add a last border-flush sub-image when more than this is left over")
	fl.BoolVar(&f.overwrite, "overwrite", false, "redo pairs that already exist")
	fl.BoolVar(&f.skipBad, "skip-bad", false, "exit 0 even if some images failed")
	fl.Int64Var(&f.maxPixels, "max-pixels", imageio.DefaultMaxPixels, "refuse images with more pixels than this")
	cmd.MarkFlagRequired("hq")
	cmd.MarkFlagRequired("out")
	return cmd
}

// flagError names the flag of an invalid synthesis option: --tile-overlap
// for the option tile_overlap.
func flagError(err error) error {
	var oe *pipeline.OptionError
	if errors.As(err, &oe) {
		return fmt.Errorf("--%s: %w", strings.ReplaceAll(oe.Option, "_", "-"), oe.Err)
	}
	return err
}

// checkFinalSigmas refuses --final-sigmas with a sampler that has no such
// setting, which would otherwise be ignored without a word (DDIM, the
// default, always ends on the clean image).
func checkFinalSigmas(cmd *cobra.Command, sampler string) error {
	if cmd.Flags().Changed("final-sigmas") && sampler != "unipc" && sampler != "dpmpp" {
		return fmt.Errorf("--final-sigmas applies to --sampler unipc or dpmpp, not %s (the reference implementation samples with --sampler unipc --final-sigmas sigma_min)", sampler)
	}
	return nil
}

func runSynth(cmd *cobra.Command, f synthFlags) error {
	stderr := cmd.ErrOrStderr()
	if err := checkScaleFlag(cmd, f.scale); err != nil {
		return err
	}
	if err := checkWorkers(f.workers); err != nil {
		return err
	}
	if err := checkFinalSigmas(cmd, f.samplerName); err != nil {
		return err
	}
	// 0 used to mean the default of 50 while run.json recorded 0.
	if f.steps < 1 {
		return fmt.Errorf("--steps: %d must be at least 1", f.steps)
	}
	cfg, pipe, err := loadDegradation(f.preset, f.config, f.scale, f.perImage)
	if err != nil {
		return err
	}
	if err := checkSeparate("--out", f.out, [][2]string{{"--hq", f.hq}}); err != nil {
		return err
	}
	if f.crop > 0 && f.step == 0 {
		f.step = f.crop / 2
	}
	if f.crop < 0 || (f.crop > 0 && f.step < 1) {
		return fmt.Errorf("--crop %d / --step %d: both must be positive", f.crop, f.step)
	}
	shard, err := synth.ParseShard(f.shard)
	if err != nil {
		return err
	}
	if f.model == "" && f.preset == "face" {
		f.model = defaultmodel.Face.Spec
	}
	if err := f.precisionFlag.parse(); err != nil {
		return err
	}
	precision := f.precisionFlag.precision
	model, err := pipeline.Load(f.model, f.ema)
	if err != nil {
		return err
	}
	syn, err := synth.New(synth.Options{Degradation: pipe, Model: model.Predict, ModelID: model.ID, SchedulerConfig: model.SchedulerConfig,
		Options:     pipeline.Options{Sampler: f.samplerName, FinalSigmas: f.finalSigmas, Steps: f.steps, Tile: f.tile, Overlap: f.overlap, Refine: f.refine, TailSteps: f.tailSteps},
		MaxStrength: f.maxStrength, Seed: f.seed, Precision: precision})
	if err != nil {
		return flagError(err)
	}
	all, problems, err := pairItems("--hq", f.hq)
	if err != nil {
		return err
	}
	sub := synth.SubImages{Size: f.crop, Step: f.step, Thresh: f.thresh}
	sources, expected, tooSmall := synth.Plan(all, shard, sub, f.maxPixels)
	for _, im := range tooSmall {
		fmt.Fprintf(stderr, "synth: %s: %dx%d is smaller than --crop %d: skipped\n", im.Path, im.Width, im.Height, f.crop)
	}
	settings := map[string]any{
		"degradation": cfg, "model": model.ID, "sampler": f.samplerName, "final_sigmas": f.finalSigmas, "steps": f.steps,
		"max_strength": f.maxStrength, "crop": f.crop, "step": f.step, "thresh_size": f.thresh,
		"tile": f.tile, "tile_overlap": f.overlap, "keep_init": f.keepInit,
	}
	if precision != gemm.FP32 {
		// Recorded only when not the default, so that runs made before
		// the flag existed resume.
		settings["precision"] = precision.String()
	}
	if r := refineSetting(f.refine); r != "" {
		settings["refine"] = r // likewise
	}
	if f.tailSteps > 1 {
		settings["tail_steps"] = f.tailSteps // likewise
	}
	// run.json first: settings that cannot be recorded leave no folder.
	if err := claimRun(f.out, "synth", settings, f.seed, f.perImage, f.hq, f.overwrite); err != nil {
		return err
	}
	w, err := pairset.Create(f.out)
	if err != nil {
		return err
	}
	if err := pairset.WriteShard(f.out, pairset.Shard{Index: shard.Index, Count: shard.Count, PerImage: f.perImage, Items: expected}); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "synth: %d HQ images (shard %d/%d of %d), %d pair source(s), %d variant(s) each; preset %s (x%d); model %s (sha256 %.12s); %s, %d steps, strength <= %g; seed %d\n",
		len(sources), shard.Index, shard.Count, len(all), len(expected), f.perImage, cfg.Preset, cfg.Scale, model.ID.Name, model.ID.SHA256, f.samplerName, f.steps, f.maxStrength, f.seed)

	ctx, stop := signalContext()
	defer stop()
	stats := syn.Run(ctx, w, sources, synth.RunOptions{
		PerImage: f.perImage, KeepInit: f.keepInit, Overwrite: f.overwrite, Workers: f.workers,
		Log: stderr, Desc: "synth", Unit: "img",
		MaxPixels: f.maxPixels,
		// The header could not be read before, yet the image loads: its
		// sub-images follow from the decoded size.
		ItemsOf: func(src synth.Source, hq *raster.Image) []synth.Item { return sub.Items(src.Name, hq.H, hq.W) },
	})
	sum := stats.Summary
	n, err := w.Finish()
	if err != nil {
		return finishBatch(stderr, sum, problems, f.skipBad, err)
	}
	fmt.Fprintf(stderr, "synth: %d pairs written (%.2f pairs/s), %d image(s) skipped (already done), %d failed; mean strength %.3f; %d pairs in %s; %s\n",
		stats.Pairs, float64(stats.Pairs)/sum.Elapsed.Seconds(), sum.Skipped, len(sum.Failed), stats.MeanStrength(), n, f.out, sum.Elapsed.Round(1e7))
	return finishBatch(stderr, sum, problems, f.skipBad, nil)
}

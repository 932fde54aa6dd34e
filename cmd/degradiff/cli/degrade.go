package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/batch"
	"github.com/degradiff/degradiff/pairset"
	"github.com/degradiff/degradiff/synth"
)

type degradeFlags struct {
	preset, config, hq, out  string
	scale, workers, perImage int
	seed                     uint64
	overwrite, skipBad       bool
	maxPixels                int64
}

func newDegradeCmd() *cobra.Command {
	var f degradeFlags
	cmd := &cobra.Command{
		Use:   "degrade --hq DIR --out DIR [--preset NAME] [--config FILE]",
		Short: "Apply a degradation pipeline to a folder of HR images",
		Long: `degrade makes LR images from every image under --hq (recursively) with a
degradation preset (see "degradiff presets"), and writes a BasicSR-style
paired folder:

  OUT/HR/NAME.png       the HR image (mod-cropped to the scale; sharpened or
                        augmented where the preset does so)
  OUT/LR/NAME_kk.png    variant kk (--per-image K variants)
  OUT/meta_info.txt     "HR/NAME.png, LR/NAME_kk.png" lines
  OUT/manifest.jsonl    every sampled parameter of every pair

Every random draw comes from a stream keyed by (seed, image name, variant),
so the same seed gives identical files whatever --workers is. Files are
written atomically; rerunning the same command resumes, skipping complete
pairs (--overwrite redoes them). Unreadable images are listed at the end and
make the exit status 2 unless --skip-bad is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDegrade(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.hq, "hq", "", "folder of HR images (searched recursively)")
	fl.StringVar(&f.out, "out", "", "output folder")
	fl.StringVar(&f.preset, "preset", "", "degradation preset (default official, or the config's preset:)")
	fl.StringVar(&f.config, "config", "", "YAML file overriding preset keys")
	fl.IntVar(&f.scale, "scale", 0, "scale factor (overrides the preset's)")
	fl.Uint64Var(&f.seed, "seed", 0, "random seed")
	fl.IntVar(&f.workers, "workers", runtime.NumCPU(), "images processed at once")
	fl.IntVar(&f.perImage, "per-image", 1, "LR variants per HR image")
	fl.BoolVar(&f.overwrite, "overwrite", false, "redo pairs that already exist")
	fl.BoolVar(&f.skipBad, "skip-bad", false, "exit 0 even if some images could not be read")
	fl.Int64Var(&f.maxPixels, "max-pixels", imageio.DefaultMaxPixels, "refuse images with more pixels than this")
	cmd.MarkFlagRequired("hq")
	cmd.MarkFlagRequired("out")
	return cmd
}

func runDegrade(cmd *cobra.Command, f degradeFlags) error {
	stderr := cmd.ErrOrStderr()
	if err := checkScaleFlag(cmd, f.scale); err != nil {
		return err
	}
	if err := checkWorkers(f.workers); err != nil {
		return err
	}
	cfg, pipe, err := loadDegradation(f.preset, f.config, f.scale, f.perImage)
	if err != nil {
		return err
	}
	if err := checkSeparate("--out", f.out, [][2]string{{"--hq", f.hq}}); err != nil {
		return err
	}
	items, problems, err := pairItems("--hq", f.hq)
	if err != nil {
		return err
	}
	// run.json first: settings that cannot be recorded leave no folder.
	if err := claimRun(f.out, "degrade", cfg, f.seed, f.perImage, f.hq, f.overwrite); err != nil {
		return err
	}
	w, err := pairset.Create(f.out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "degrade: %d images from %s, preset %s (%s, x%d), %d variant(s) each, seed %d\n",
		len(items), f.hq, cfg.Preset, cfg.Type, cfg.Scale, f.perImage, f.seed)
	ctx, stop := signalContext()
	defer stop()
	// Degradation only: a Synthesizer without a diffusion model.
	syn, err := synth.New(synth.Options{Degradation: pipe, Seed: f.seed})
	if err != nil {
		return err
	}
	sources := make([]synth.Source, len(items))
	for i, it := range items {
		sources[i] = synth.Source{Path: it.Path, Name: it.Name, Items: []synth.Item{{Name: it.Name}}}
	}
	sum := syn.Run(ctx, w, sources, synth.RunOptions{PerImage: f.perImage, Overwrite: f.overwrite, Workers: f.workers,
		Log: stderr, Desc: "degrade", Unit: "img",
		MaxPixels: f.maxPixels,
	}).Summary
	n, err := w.Finish()
	if err != nil {
		return finishBatch(stderr, sum, problems, f.skipBad, err)
	}
	fmt.Fprintf(stderr, "degrade: %d written, %d skipped (already done), %d failed; %d pairs in %s; %s\n",
		sum.Done, sum.Skipped, len(sum.Failed), n, f.out, sum.Elapsed.Round(1e7))
	return finishBatch(stderr, sum, problems, f.skipBad, nil)
}

// loadDegradation resolves the --preset, --config and --scale flags into a
// pipeline, and checks --per-image.
func loadDegradation(preset, config string, scale, perImage int) (degrade.Config, degrade.Pipeline, error) {
	cfg, err := degrade.Load(preset, config)
	if err != nil {
		return cfg, nil, err
	}
	if scale != 0 {
		cfg.Scale = scale
		if err := cfg.Validate(); err != nil {
			return cfg, nil, fmt.Errorf("--scale: %w", err)
		}
	}
	// Variant names have two digits (NAME_kk), which keeps them in order.
	if perImage < 1 || perImage > 100 {
		return cfg, nil, fmt.Errorf("--per-image: %d is outside 1..100", perImage)
	}
	pipe, err := degrade.New(cfg)
	return cfg, pipe, err
}

// findItems lists the images under dir with their stable names.
func findItems(dir string) ([]batch.Item, []error) {
	files, problems := imageio.Find(dir)
	names, err := imageio.Names(dir, files)
	if err != nil {
		return nil, append(problems, err)
	}
	items := make([]batch.Item, len(files))
	for i, p := range files {
		items[i] = batch.Item{Path: p, Name: names[i]}
	}
	return items, problems
}

// pairItems is findItems for a command that writes a pair folder: an
// input folder without any image is an error (flag names it), and files
// whose names meta_info.txt cannot list are reported as bad inputs.
func pairItems(flag, dir string) ([]batch.Item, []error, error) {
	all, problems := findItems(dir)
	if len(all) == 0 {
		if len(problems) > 0 {
			return nil, nil, problems[0]
		}
		return nil, nil, fmt.Errorf("%s %s: %w (PNG, JPEG, WebP, BMP or TIFF files, searched recursively)", flag, dir, errNoImages)
	}
	items := all[:0:0]
	for _, it := range all {
		if err := pairset.ValidName(it.Name); err != nil {
			problems = append(problems, fmt.Errorf("%s: %w: rename the file", it.Path, err))
			continue
		}
		items = append(items, it)
	}
	return items, problems, nil
}

// finishBatch reports failures and turns them into the exit status: 1 when
// an output could not be written (finishErr, or a write during the batch:
// --skip-bad does not hide those), 128+N when interrupted by signal N, 2
// when some inputs failed (unless skipBad).
func finishBatch(stderr interface{ Write([]byte) (int, error) }, sum batch.Summary, problems []error, skipBad bool, finishErr error) error {
	for _, p := range problems {
		fmt.Fprintf(stderr, "warning: %v\n", p)
	}
	sum.Report(stderr)
	if finishErr != nil {
		return finishErr
	}
	if sum.OutputFailed > 0 {
		return &exitError{code: exitFailure, err: fmt.Errorf("%d output(s) could not be written (see above): the output folder is incomplete; fix the cause and rerun the same command to finish it", sum.OutputFailed)}
	}
	if sum.Interrupted {
		return interrupted(fmt.Errorf("interrupted: rerun the same command to resume"))
	}
	if bad := sum.InputFailed() + len(problems); bad > 0 && !skipBad {
		return &exitError{code: exitBadInputs, err: fmt.Errorf("%d input(s) failed (use --skip-bad to exit 0 anyway)", bad)}
	}
	return nil
}

// claimRun records the settings of a degrade or synth run in OUT/run.json,
// with the input folder --hq, and refuses to mix pairs made with other
// settings into an existing folder.
func claimRun(out, command string, cfg any, seed uint64, perImage int, hq string, overwrite bool) error {
	abs, err := realPath(hq)
	if err != nil {
		return fmt.Errorf("--hq %s: %w", hq, err)
	}
	return pairset.ClaimRun(out, pairset.Run{Command: command, Config: cfg, Seed: seed, PerImage: perImage, Inputs: abs, Version: version()}, overwrite)
}

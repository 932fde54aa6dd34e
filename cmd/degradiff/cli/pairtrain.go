package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/pairset"
	"github.com/degradiff/degradiff/pairset/pairread"
	"github.com/degradiff/degradiff/train/runfolder"
)

// pairTrainer is a trainer on a paired folder (sr train, bfr train).
type pairTrainer interface {
	resumable
	Run(ctx context.Context) error
}

// pairTraining describes a command that trains a network on a paired
// folder: sr train and bfr train differ only in these.
type pairTraining[C settings[C]] struct {
	label                string // "sr train"
	configFile, modelDir string // in the run folder
	defaults             C
	load                 func(file string) (C, error)
	// setSteps sets a config's steps and returns the old value; setSeed
	// sets its seed.
	setSteps func(c *C, steps int) int
	setSeed  func(c *C, seed uint64)
	validate func(c C) error
	keep     func(c C) int // checkpoints kept
	scale    func(c C) int // of the pairs
	// adjust, when set, applies command flags to the settings before
	// --steps and --seed (sr train's --budget).
	adjust func(c *C) error
	start  func(c C, run *runfolder.Run, data *pairread.Set, log io.Writer) (pairTrainer, error)
	// describe is the line printed before training.
	describe func(c C, data *pairread.Set, tr pairTrainer) string
}

// pairTrainFlags are the flags every paired training command has.
type pairTrainFlags struct {
	pairs, out, config, resume string
	include, exclude           []string
	steps                      int
	seed                       uint64
	maxPixels                  int64
}

func (f *pairTrainFlags) register(cmd *cobra.Command, pairsHelp, includeHelp string) {
	fl := cmd.Flags()
	fl.StringVar(&f.pairs, "pairs", "", pairsHelp)
	fl.StringVar(&f.out, "out", "", "run folder")
	fl.StringVar(&f.config, "config", "", "YAML file overriding the default settings")
	fl.StringVar(&f.resume, "resume", "", `continue a run: "latest", a checkpoint folder, or a run folder`)
	fl.IntVar(&f.steps, "steps", 0, "total optimisation steps (overrides the config)")
	fl.Uint64Var(&f.seed, "seed", 0, "random seed (overrides the config)")
	fl.StringArrayVar(&f.include, "include", nil, includeHelp)
	fl.StringArrayVar(&f.exclude, "exclude", nil, "leave out pairs whose HR name matches one of these globs (repeatable)")
	fl.Int64Var(&f.maxPixels, "max-pixels", imageio.DefaultMaxPixels, "refuse images with more pixels than this")
	fl.Bool("print-config", false, "print the settings (defaults, or with --config) and exit")
}

// run is the command: settings (saved, or defaults with --config, then
// flags), the pairs, the run folder with its recorded inputs, resume, and
// training until done or interrupted.
func (p pairTraining[C]) run(cmd *cobra.Command, f pairTrainFlags) error {
	stderr := cmd.ErrOrStderr()
	if printCfg, _ := cmd.Flags().GetBool("print-config"); printCfg {
		return printSettings(cmd.OutOrStdout(), f.config, p.defaults, p.load)
	}
	if f.pairs == "" || f.out == "" {
		return errors.New("--pairs and --out are required")
	}
	if err := checkSeparate("--out", f.out, [][2]string{{"--pairs", f.pairs}}); err != nil {
		return err
	}
	inc, err := srGlobs("include", f.include)
	if err != nil {
		return err
	}
	exc, err := srGlobs("exclude", f.exclude)
	if err != nil {
		return err
	}
	saved := filepath.Join(f.out, p.configFile)
	cfg, err := runSettings(saved, f.config, f.resume != "", p.defaults, p.load, p.setSteps)
	if err != nil {
		return err
	}
	if p.adjust != nil {
		if err := p.adjust(&cfg); err != nil {
			return err
		}
	}
	if cmd.Flags().Changed("steps") {
		p.setSteps(&cfg, f.steps)
	}
	if cmd.Flags().Changed("seed") {
		if f.resume != "" {
			return errors.New("--seed cannot change on --resume: the run's seed is in its config.yaml")
		}
		p.setSeed(&cfg, f.seed)
	}
	if err := p.validate(cfg); err != nil {
		return err
	}
	data, err := pairread.OpenWith(f.pairs, pairread.Options{Scale: p.scale(cfg), Include: inc, Exclude: exc, MaxPixels: f.maxPixels})
	if err != nil {
		return err
	}
	run, err := runfolder.Create(f.out, p.keep(cfg))
	if err != nil {
		return err
	}
	defer run.Close()
	if err := run.RemoveStale(); err != nil {
		return err
	}
	// A resumed run keeps its data.
	pairsAbs, err := realPath(f.pairs)
	if err != nil {
		return fmt.Errorf("--pairs %s: %w", f.pairs, err)
	}
	if err := checkRunInputs(f.out, runInputs{"pairs": {pairsAbs}, "include": inc, "exclude": exc}, f.resume != ""); err != nil {
		return err
	}
	if err := pairset.WriteFileAtomic(saved, cfg.YAML()); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s: settings (saved in %s):\n%s", p.label, saved, cfg.YAML())
	tr, err := p.start(cfg, run, data, stderr)
	if err != nil {
		return err
	}
	if err := resumeRun(run, f.resume, tr, stderr, p.label); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s: %s\n", p.label, p.describe(cfg, data, tr))
	ctx, stop := signalContext()
	defer stop()
	err = tr.Run(ctx)
	if errors.Is(err, runfolder.ErrInterrupted) {
		if tr.Step() > 0 {
			fmt.Fprintf(stderr, "%s: stopped at step %d; checkpoint saved. Continue with the same command and --resume latest\n", p.label, tr.Step())
		}
		return &exitError{code: interruptCode(), err: err}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s: done, %d steps; model in %s\n", p.label, tr.Step(), filepath.Join(f.out, p.modelDir))
	return nil
}

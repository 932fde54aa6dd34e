package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/models/defaultmodel"
	"github.com/degradiff/degradiff/models/unet"
	"github.com/degradiff/degradiff/pairset"
	"github.com/degradiff/degradiff/train/ddpm"
	"github.com/degradiff/degradiff/train/runfolder"
)

func newTrainCmd() *cobra.Command {
	var lqs, exclude []string
	var out, config, resume, initFrom string
	var steps int
	var seed uint64
	var maxPixels int64
	cmd := &cobra.Command{
		Use:   "train --lq DIR --out RUN [--config FILE] [--resume latest]",
		Short: "Train the diffusion model on a folder of real low-quality images",
		Long: `train learns the distribution of real low-quality images (step 1 of the
method): random crops of every image under --lq (recursively, with
horizontal flips), noised at timesteps below max_diffusion_step (500), and
a diffusers-compatible UNet that predicts the noise.

Settings come from the defaults (the reference implementation's optimiser:
AdamW lr 1e-4, betas 0.95/0.999, weight decay 1e-6, cosine schedule, clipping
1.0, EMA) and a --config YAML file; "degradiff train --print-config" shows
them all. They are printed at start and saved in RUN/config.yaml.

The run folder RUN holds log.jsonl (loss and learning rate per step),
loss.png, previews/ (img2img of held-out images at a few strengths),
checkpoints/ (every checkpoint_every steps, the last keep_checkpoints kept),
and at the end model/, the EMA weights in diffusers layout. Ctrl-C or
SIGTERM saves a checkpoint and exits; --resume latest continues exactly
where it stopped, bit for bit.

--init-from starts from existing weights instead of a random
initialisation; "--init-from builtin --config configs/ddpm-adapt.yaml"
adapts the built-in model to your own real LQ images (1000 steps), which
makes synth's LQ images closer to them than the general-purpose model does.

Images smaller than the crop are reflect-padded if their shorter side is
at least min_side_fraction of it, else skipped; unreadable files are
reported and skipped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			stderr := cmd.ErrOrStderr()
			if printCfg, _ := cmd.Flags().GetBool("print-config"); printCfg {
				return printSettings(cmd.OutOrStdout(), config, ddpm.Default(), ddpm.LoadFile)
			}
			if len(lqs) == 0 || out == "" {
				return errors.New("--lq and --out are required")
			}
			// The run folder's previews are images: inside an --lq folder a
			// resumed run would train on them.
			var ins [][2]string
			for _, d := range lqs {
				ins = append(ins, [2]string{"--lq", d})
			}
			if err := checkSeparate("--out", out, ins); err != nil {
				return err
			}
			cfg, err := runSettings(filepath.Join(out, "config.yaml"), config, resume != "", ddpm.Default(), ddpm.LoadFile,
				func(c *ddpm.Config, steps int) int { old := c.Steps; c.Steps = steps; return old })
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("steps") {
				cfg.Steps = steps
			}
			if cmd.Flags().Changed("seed") {
				if resume != "" {
					return errors.New("--seed cannot change on --resume: the run's seed is in its config.yaml")
				}
				cfg.Seed = seed
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			run, err := runfolder.Create(out, cfg.KeepCheckpoints)
			if err != nil {
				return err
			}
			defer run.Close()
			if err := run.RemoveStale(); err != nil {
				return err
			}
			lqAbs := make([]string, len(lqs))
			for i, d := range lqs {
				if lqAbs[i], err = realPath(d); err != nil {
					return fmt.Errorf("--lq %s: %w", d, err)
				}
			}
			if err := checkRunInputs(out, runInputs{"lq": lqAbs, "exclude": exclude}, resume != ""); err != nil {
				return err
			}
			if err := pairset.WriteFileAtomic(filepath.Join(out, "config.yaml"), cfg.YAML()); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "train: settings (saved in %s):\n%s", filepath.Join(out, "config.yaml"), cfg.YAML())
			data, err := ddpm.LoadDataset(ddpm.Sources{Dirs: lqs, Exclude: exclude}, cfg, cfg.PreviewImages, imageio.Options{MaxPixels: maxPixels})
			if err != nil {
				return err
			}
			for _, e := range data.Skipped {
				fmt.Fprintf(stderr, "train: skipped: %v\n", e)
			}
			tr, err := ddpm.New(cfg, run, data, stderr)
			if err != nil {
				return err
			}
			if initFrom != "" {
				if resume != "" {
					return errors.New("--init-from and --resume exclude each other: a resumed run has its weights")
				}
				var src *unet.Model
				if b, ok := defaultmodel.Lookup(initFrom); ok {
					src, _, _, _, err = b.Load()
				} else {
					src, err = unet.Load(initFrom)
				}
				if err != nil {
					return fmt.Errorf("--init-from: %w", err)
				}
				if err := tr.InitFrom(src); err != nil {
					return fmt.Errorf("--init-from %s: %w", initFrom, err)
				}
				fmt.Fprintf(stderr, "train: weights initialised from %s\n", initFrom)
			}
			if err := resumeRun(run, resume, tr, stderr, "train"); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "train: %d training images, %d held out for previews, model %s (%d parameters)\n",
				len(data.Train), len(data.Preview), cfg.Model, tr.Model.NumParams())
			ctx, stop := signalContext()
			defer stop()
			err = tr.Run(ctx)
			if errors.Is(err, ddpm.ErrInterrupted) {
				fmt.Fprintf(stderr, "train: stopped at step %d; checkpoint saved. Continue with the same command and --resume latest\n", tr.Step())
				return &exitError{code: interruptCode(), err: err}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stderr, "train: done, %d steps; model in %s\n", tr.Step(), filepath.Join(out, "model"))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&lqs, "lq", nil, "folder of real low-quality images (searched recursively; repeat for several)")
	fl.StringArrayVar(&exclude, "exclude", nil, "glob of image names to leave out, e.g. '*_04[1-9]_*' (repeatable)")
	fl.StringVar(&out, "out", "", "run folder")
	fl.StringVar(&config, "config", "", "YAML file overriding the default settings")
	fl.StringVar(&resume, "resume", "", `continue a run: "latest", a checkpoint folder, or a run folder`)
	fl.StringVar(&initFrom, "init-from", "", `start a new run from the weights of a diffusers model folder (same configuration), or "builtin" / "builtin-face" for a built-in model`)
	fl.IntVar(&steps, "steps", 0, "total optimisation steps (overrides the config)")
	fl.Uint64Var(&seed, "seed", 0, "random seed (overrides the config)")
	fl.Int64Var(&maxPixels, "max-pixels", imageio.DefaultMaxPixels, "refuse images with more pixels than this")
	fl.Bool("print-config", false, "print the settings (defaults, or with --config) and exit")
	return cmd
}

func newExportCmd() *cobra.Command {
	var out string
	var ckpt string
	var fp16 bool
	cmd := &cobra.Command{
		Use:   "export RUN --out DIR",
		Short: "Write a training run's EMA weights as a diffusers pipeline folder",
		Long: `export writes the EMA weights of a run's latest checkpoint (or --checkpoint)
in diffusers layout: DIR/unet/config.json, DIR/unet/diffusion_pytorch_model.safetensors,
DIR/scheduler/scheduler_config.json and DIR/model_index.json, loadable with
diffusers' DDPMPipeline.from_pretrained(DIR) or UNet2DModel.from_pretrained(DIR,
subfolder="unet"), and by degradiff synth --model DIR.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			runDir := args[0]
			b, err := os.ReadFile(filepath.Join(runDir, "config.yaml"))
			if err != nil {
				return fmt.Errorf("%s is not a training run: %w", runDir, err)
			}
			cfg, err := ddpm.Default().ParseYAML(b)
			if err != nil {
				return fmt.Errorf("%s: %w", filepath.Join(runDir, "config.yaml"), err)
			}
			run, err := runfolder.Create(runDir, 0)
			if err != nil {
				return err
			}
			if ckpt == "" {
				ckpt = "latest"
			}
			ck, err := run.Resolve(ckpt)
			if err != nil {
				return fmt.Errorf("--checkpoint %w", err)
			}
			tr, err := ddpm.New(cfg, run, &ddpm.Dataset{}, nil)
			if err != nil {
				return err
			}
			if err := tr.LoadCheckpoint(ck); err != nil {
				return err
			}
			dtype := safetensors.F32
			if fp16 {
				dtype = safetensors.F16
			}
			if err := tr.ExportAs(out, dtype); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "export: step %d of %s written to %s\n", tr.Step(), runDir, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "output folder")
	cmd.Flags().StringVar(&ckpt, "checkpoint", "", "checkpoint folder (default: the latest)")
	cmd.Flags().BoolVar(&fp16, "fp16", false, "store the weights in float16 (half the size)")
	cmd.MarkFlagRequired("out")
	return cmd
}

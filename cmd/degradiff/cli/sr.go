package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/atomicfile"
	"github.com/degradiff/degradiff/internal/batch"
	"github.com/degradiff/degradiff/internal/progress"
	"github.com/degradiff/degradiff/measure/srtest"
	"github.com/degradiff/degradiff/models/srnet"
	"github.com/degradiff/degradiff/pairset/pairread"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/train/runfolder"
	"github.com/degradiff/degradiff/train/srtrain"
)

const srPairsHelp = `A paired folder is either what degradiff degrade and synth write
(meta_info.txt listing "HR/NAME.png, LR/NAME_kk.png" pairs), or any
folder with HR/ and LR/ subfolders whose images pair by name: the same
name in both ("Canon_001.png", as RealSR), or an LR name with the scale
suffix ("0001x4.png" for HR "0001.png", as DIV2K) or a variant suffix
("0001_00.png"). LR images must be the HR size divided by the scale; an HR
image up to scale-1 pixels larger is cropped at the bottom and right.`

func newSRCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sr",
		Short: "Train, test and apply a super-resolution model on paired folders",
		Long: `sr trains a compact x4 super-resolution network (package srnet) on HR/LR
pairs, measures it on test pairs (PSNR and SSIM as BasicSR computes them)
and applies it to a folder of images. Training the same network on pairs
from different degradations and testing it on real pairs shows which
pairs are the most realistic.

` + srPairsHelp,
	}
	cmd.AddCommand(newSRTrainCmd(), newSRTestCmd(), newSRApplyCmd())
	return cmd
}

// srGlobs splits repeatable, comma-separated glob flags.
func srGlobs(flag string, vals []string) ([]string, error) {
	var out []string
	for _, v := range vals {
		g, err := pairread.ParseGlobs(v)
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", flag, err)
		}
		out = append(out, g...)
	}
	return out, nil
}

func newSRTrainCmd() *cobra.Command {
	var f pairTrainFlags
	var budget string
	spec := pairTraining[srtrain.Config]{
		label: "sr train", configFile: srtrain.ConfigFile, modelDir: srtrain.ModelDir,
		defaults: srtrain.Default(), load: srtrain.LoadFile,
		setSteps: func(c *srtrain.Config, steps int) int { old := c.Steps; c.Steps = steps; return old },
		setSeed:  func(c *srtrain.Config, seed uint64) { c.Seed = seed },
		validate: srtrain.Config.Validate,
		keep:     func(c srtrain.Config) int { return c.KeepCheckpoints },
		scale:    func(c srtrain.Config) int { return c.Model.Scale },
		adjust: func(c *srtrain.Config) (err error) {
			if budget != "" {
				if c.Steps, err = srtrain.Budget(budget); err != nil {
					return fmt.Errorf("--budget: %w", err)
				}
			}
			return nil
		},
		start: func(c srtrain.Config, run *runfolder.Run, data *pairread.Set, log io.Writer) (pairTrainer, error) {
			return srtrain.New(c, run, data, log)
		},
		describe: func(c srtrain.Config, data *pairread.Set, tr pairTrainer) string {
			return fmt.Sprintf("%d pairs from %s (%s), x%d network with %d parameters, %d steps of %d patches of %dx%d",
				data.Len(), f.pairs, data.Layout, c.Model.Scale, tr.(*srtrain.Trainer).Model.NumParams(), c.Steps, c.BatchSize, c.PatchSize, c.PatchSize)
		},
	}
	cmd := &cobra.Command{
		Use:   "train --pairs DIR --out RUN [--config FILE] [--budget quick|full] [--resume latest]",
		Short: "Train the super-resolution network on a paired folder",
		Long: `train fits the super-resolution network to the pairs in --pairs: random LR
patches (patch_size, 48 by default) with their HR counterparts, random
flips and 90° rotations, L1 loss, AdamW with a cosine schedule, and an
exponential moving average of the weights.

Settings come from the defaults and a --config YAML file ("degradiff sr
train --print-config" shows them all); --budget quick or full sets the
number of steps to one of the two budgets that benchmarks compare at. They
are printed at start and saved in RUN/config.yaml.

The run folder RUN holds log.jsonl (mean loss, learning rate and gradient
norm every log_every steps), loss.png, checkpoints/ (every checkpoint_every
steps, the last keep_checkpoints kept) and at the end model/ (config.json,
model.safetensors and model_ema.safetensors). Ctrl-C or SIGTERM saves a
checkpoint and exits; --resume latest continues exactly where it stopped,
bit for bit.

` + srPairsHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return spec.run(cmd, f) },
	}
	f.register(cmd, "paired folder (meta_info.txt, or HR/ and LR/)",
		"train only on pairs whose HR name matches one of these globs, e.g. 'Canon_*,Nikon_*' (repeatable)")
	cmd.Flags().StringVar(&budget, "budget", "", "training length: quick (minutes) or full (about an hour) on 2 CPU cores")
	cmd.Flags().Lookup("steps").Usage = "total optimisation steps (overrides the config and --budget)"
	return cmd
}

// srModelFlags are the flags that choose and run a model.
type srModelFlags struct {
	model, weights string
	tile, overlap  int
	precisionFlag
}

func (f *srModelFlags) register(fl interface {
	StringVar(*string, string, string, string)
	IntVar(*int, string, int, string)
}) {
	fl.StringVar(&f.model, "model", "", "a model folder, a run folder (its model/, or its latest checkpoint), or a checkpoint folder")
	fl.StringVar(&f.weights, "weights", "auto", "auto (averaged weights when the model has them), ema or raw")
	fl.IntVar(&f.tile, "tile", srnet.DefaultTile, "process images larger than this many LR pixels a side in tiles (negative: never)")
	fl.IntVar(&f.overlap, "overlap", 0, "context around each tile in LR pixels (0: the network's receptive field, seamless)")
	f.precisionFlag.register(fl)
}

func (f *srModelFlags) load() (*srnet.Model, string, error) {
	if f.model == "" {
		return nil, "", errors.New("--model is required")
	}
	w, err := srnet.ParseWeights(f.weights)
	if err != nil {
		return nil, "", fmt.Errorf("--weights: %w", err)
	}
	if f.overlap < 0 {
		return nil, "", fmt.Errorf("--overlap: %d must not be negative", f.overlap)
	}
	if err := f.precisionFlag.parse(); err != nil {
		return nil, "", err
	}
	return srtrain.LoadModel(f.model, w)
}

func (f *srModelFlags) predictOptions() srnet.PredictOptions {
	return srnet.PredictOptions{Tile: f.tile, Overlap: f.overlap}
}

// srScore is one row of the sr test table.
type srScore struct {
	Name        string    `json:"name"`
	PSNR        decibels  `json:"psnr"` // "inf" for identical images
	SSIM        float64   `json:"ssim"`
	BicubicPSNR *decibels `json:"bicubic_psnr,omitempty"`
	BicubicSSIM *float64  `json:"bicubic_ssim,omitempty"`
}

// srReport is sr test's JSON output.
type srReport struct {
	Model      string    `json:"model"`
	Pairs      string    `json:"pairs"`
	Scale      int       `json:"scale"`
	CropBorder int       `json:"crop_border"`
	TestY      bool      `json:"test_y_channel"`
	Images     []srScore `json:"images"`
	Mean       srScore   `json:"mean"`
}

func newSRTestCmd() *cobra.Command {
	var mf srModelFlags
	var pairs, save string
	var include, exclude []string
	var asJSON, baseline, rgb bool
	var maxPixels int64
	cmd := &cobra.Command{
		Use:   "test --model RUN --pairs DIR [--include GLOBS] [--json]",
		Short: "Measure a super-resolution model on test pairs (PSNR, SSIM)",
		Long: `test super-resolves the LR image of every pair in --pairs and compares it
with the HR image as BasicSR's calculate_psnr and calculate_ssim do: 8-bit
images, the scale factor cropped from each border, the Y channel of YCbCr
(--rgb: the RGB planes). It prints one row per pair and the mean, or with
--json one JSON document. --baseline adds bicubic upscaling's figures;
--save DIR writes the super-resolved images.

For RealSR's test split: --pairs RealSR_V3 --include 'Canon_04[1-9]*,Canon_050*,Nikon_04[1-9]*,Nikon_050*'.

` + srPairsHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			stderr := cmd.ErrOrStderr()
			if pairs == "" {
				return errors.New("--pairs is required")
			}
			inc, err := srGlobs("include", include)
			if err != nil {
				return err
			}
			exc, err := srGlobs("exclude", exclude)
			if err != nil {
				return err
			}
			model, src, err := mf.load()
			if err != nil {
				return err
			}
			defer mf.usePrecision()()
			s := model.Config.Scale
			data, err := pairread.OpenWith(pairs, pairread.Options{Scale: s, Include: inc, Exclude: exc, MaxPixels: maxPixels, CacheBytes: -1})
			if err != nil {
				return err
			}
			if save != "" {
				if err := os.MkdirAll(save, 0o755); err != nil {
					return fmt.Errorf("--save: %w", err)
				}
			}
			fmt.Fprintf(stderr, "sr test: model %s, %d pairs from %s\n", src, data.Len(), pairs)
			rep := srReport{Model: src, Pairs: pairs, Scale: s, CropBorder: s, TestY: !rgb}
			ctx, stop := signalContext()
			defer stop()
			bar := progress.New(stderr, data.Len(), "sr test", "pair")
			scores, err := srtest.Run(ctx, data, func(lr *raster.Image) *raster.Image { return model.Predict(lr, mf.predictOptions()) },
				srtest.Options{Scale: s, RGB: rgb, Baseline: baseline, Done: func() { bar.Add(1) },
					Each: func(i int, p pairread.Pair, sr *raster.Image) error {
						if save == "" {
							return nil
						}
						return srSave(filepath.Join(save, filepath.FromSlash(p.Name)+".png"), sr)
					}})
			bar.Finish()
			if ctx.Err() != nil {
				return &exitError{code: interruptCode(), err: errors.New("interrupted")}
			}
			if err != nil {
				return err
			}
			for _, sc := range scores {
				row := srScore{Name: sc.Name, PSNR: decibels(sc.PSNR), SSIM: sc.SSIM}
				if baseline {
					bp, bs := decibels(sc.BicubicPSNR), sc.BicubicSSIM
					row.BicubicPSNR, row.BicubicSSIM = &bp, &bs
				}
				rep.Images = append(rep.Images, row)
			}
			rep.Mean = srMean(rep.Images, baseline)
			if asJSON {
				b, err := json.MarshalIndent(rep, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
				return err
			}
			return srTable(cmd.OutOrStdout(), rep, baseline)
		},
	}
	fl := cmd.Flags()
	mf.register(fl)
	fl.StringVar(&pairs, "pairs", "", "paired folder of test pairs")
	fl.StringArrayVar(&include, "include", nil, "test only pairs whose HR name matches one of these globs (repeatable, comma-separated)")
	fl.StringArrayVar(&exclude, "exclude", nil, "leave out pairs whose HR name matches one of these globs (repeatable)")
	fl.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	fl.BoolVar(&baseline, "baseline", false, "also measure bicubic upscaling")
	fl.BoolVar(&rgb, "rgb", false, "compare the RGB planes instead of the Y channel")
	fl.StringVar(&save, "save", "", "folder for the super-resolved images")
	fl.Int64Var(&maxPixels, "max-pixels", imageio.DefaultMaxPixels, "refuse images with more pixels than this")
	return cmd
}

// srMean averages the rows in order. PSNR of identical images is +Inf, and
// so is then the mean, as in BasicSR.
func srMean(rows []srScore, baseline bool) srScore {
	m := srScore{Name: "mean"}
	var bp decibels
	var bs float64
	for _, r := range rows {
		m.PSNR += r.PSNR / decibels(len(rows))
		m.SSIM += r.SSIM / float64(len(rows))
		if baseline {
			bp += *r.BicubicPSNR / decibels(len(rows))
			bs += *r.BicubicSSIM / float64(len(rows))
		}
	}
	if baseline {
		m.BicubicPSNR, m.BicubicSSIM = &bp, &bs
	}
	return m
}

func srTable(w io.Writer, rep srReport, baseline bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	channel := "Y"
	if !rep.TestY {
		channel = "RGB"
	}
	head := fmt.Sprintf("pair\tPSNR (%s)\tSSIM (%s)\t", channel, channel)
	if baseline {
		head += "bicubic PSNR\tbicubic SSIM\t"
	}
	fmt.Fprintln(tw, head)
	line := func(r srScore) {
		s := fmt.Sprintf("%s\t%s\t%.4f\t", r.Name, srDB(float64(r.PSNR)), r.SSIM)
		if baseline {
			s += fmt.Sprintf("%s\t%.4f\t", srDB(float64(*r.BicubicPSNR)), *r.BicubicSSIM)
		}
		fmt.Fprintln(tw, s)
	}
	for _, r := range rep.Images {
		line(r)
	}
	sep := "----\t\t\t"
	if baseline {
		sep += "\t\t"
	}
	fmt.Fprintln(tw, sep)
	line(rep.Mean)
	return tw.Flush()
}

func srDB(v float64) string {
	if math.IsInf(v, 1) {
		return "inf"
	}
	return fmt.Sprintf("%.2f", v)
}

// srSave writes a PNG atomically, creating its folder.
func srSave(p string, m *raster.Image) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return imageio.Save(p, m, imageio.SaveOptions{})
}

func newSRApplyCmd() *cobra.Command {
	var mf srModelFlags
	var in, out string
	var workers int
	var overwrite, skipBad bool
	var maxPixels int64
	cmd := &cobra.Command{
		Use:   "apply --model RUN --in DIR --out DIR",
		Short: "Super-resolve every image of a folder",
		Long: `apply super-resolves every image under --in (recursively) with the model and
writes OUT/NAME.png, recreating subfolders. Large images are processed in
tiles (--tile) whose context (--overlap, by default the network's whole
receptive field) makes the result identical to a whole-image pass.

Files are written atomically; rerunning the same command skips images
whose output exists (--overwrite redoes them). Unreadable images are listed
at the end and make the exit status 2 unless --skip-bad is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			stderr := cmd.ErrOrStderr()
			if in == "" || out == "" {
				return errors.New("--in and --out are required")
			}
			if a, b := filepath.Clean(in), filepath.Clean(out); a == b {
				return fmt.Errorf("--out %s is the input folder: choose another", out)
			}
			model, src, err := mf.load()
			if err != nil {
				return err
			}
			defer mf.usePrecision()()
			items, problems := findItems(in)
			if len(items) == 0 && len(problems) > 0 {
				return problems[0]
			}
			items = srOutside(items, out)
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			if _, err := atomicfile.RemoveStale(out); err != nil { // left by a killed run
				return err
			}
			fmt.Fprintf(stderr, "sr apply: %d images from %s, model %s (x%d)\n", len(items), in, src, model.Config.Scale)
			ctx, stop := signalContext()
			defer stop()
			opt := imageio.Options{MaxPixels: maxPixels}
			sum := batch.Run(ctx, items, batch.Options{Workers: workers, Log: stderr, Desc: "sr apply", Unit: "img"},
				func(ctx context.Context, it batch.Item) (batch.Outcome, error) {
					p := filepath.Join(out, filepath.FromSlash(it.Name)+".png")
					if !overwrite {
						if _, err := os.Stat(p); err == nil {
							return batch.Skipped, nil
						}
					}
					lr, _, err := imageio.Load(it.Path, opt)
					if err != nil {
						return 0, err
					}
					return batch.Done, batch.Output(srSave(p, model.Predict(lr, mf.predictOptions())))
				})
			fmt.Fprintf(stderr, "sr apply: %d written, %d skipped (already done), %d failed; %s\n",
				sum.Done, sum.Skipped, len(sum.Failed), sum.Elapsed.Round(1e7))
			return finishBatch(stderr, sum, problems, skipBad, nil)
		},
	}
	fl := cmd.Flags()
	mf.register(fl)
	fl.StringVar(&in, "in", "", "folder of images to super-resolve (searched recursively)")
	fl.StringVar(&out, "out", "", "output folder")
	fl.IntVar(&workers, "workers", 1, "images processed at once (the network already uses every core)")
	fl.BoolVar(&overwrite, "overwrite", false, "redo images whose output exists")
	fl.BoolVar(&skipBad, "skip-bad", false, "exit 0 even if some images could not be read")
	fl.Int64Var(&maxPixels, "max-pixels", imageio.DefaultMaxPixels, "refuse images with more pixels than this")
	return cmd
}

// srOutside drops the items inside the output folder, which a rerun would
// otherwise find when --out is inside --in.
func srOutside(items []batch.Item, out string) []batch.Item {
	abs, err := filepath.Abs(out)
	if err != nil {
		return items
	}
	kept := items[:0]
	for _, it := range items {
		p, err := filepath.Abs(it.Path)
		if err == nil && strings.HasPrefix(p, abs+string(filepath.Separator)) {
			continue
		}
		kept = append(kept, it)
	}
	return kept
}

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
	"github.com/degradiff/degradiff/measure/facemeasure"
	"github.com/degradiff/degradiff/measure/fidelity"
	"github.com/degradiff/degradiff/models/bfrnet"
	"github.com/degradiff/degradiff/models/modeldir"
	"github.com/degradiff/degradiff/pairset/pairread"
	"github.com/degradiff/degradiff/train/bfrtrain"
	"github.com/degradiff/degradiff/train/runfolder"
)

const bfrFacesHelp = `Faces are aligned crops (FFHQ/CelebA-HQ alignment: "degradiff faces
align" makes them). Face pairs are at scale 1: the LR (LQ) face is the
size of its HR face, as "degradiff degrade --preset face" and "synth
--preset face" write them; training pairs must be model.face_size pixels
a side (faces align --size 128 before degrading). test and apply resize
every face to the model's face_size (OpenCV area interpolation when
shrinking, bicubic when enlarging).`

func newBFRCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bfr",
		Short: "Train, test and apply a blind face restoration model on aligned faces",
		Long: `bfr trains a compact face restoration network (package bfrnet: a small
U-Net with a global residual) on aligned HQ/LQ face pairs, measures it on
test pairs (PSNR, SSIM and, with --face-models, identity and landmark
distance to the ground truth) or on real LQ faces without ground truth
(identity and landmarks kept from the input), and restores a folder of
faces.

` + bfrFacesHelp,
	}
	cmd.AddCommand(newBFRTrainCmd(), newBFRTestCmd(), newBFRApplyCmd())
	return cmd
}

func newBFRTrainCmd() *cobra.Command {
	var f pairTrainFlags
	spec := pairTraining[bfrtrain.Config]{
		label: "bfr train", configFile: bfrtrain.ConfigFile, modelDir: bfrtrain.ModelDir,
		defaults: bfrtrain.Default(), load: bfrtrain.LoadFile,
		setSteps: func(c *bfrtrain.Config, steps int) int { old := c.Steps; c.Steps = steps; return old },
		setSeed:  func(c *bfrtrain.Config, seed uint64) { c.Seed = seed },
		validate: bfrtrain.Config.Validate,
		keep:     func(c bfrtrain.Config) int { return c.KeepCheckpoints },
		scale:    func(bfrtrain.Config) int { return 1 },
		start: func(c bfrtrain.Config, run *runfolder.Run, data *pairread.Set, log io.Writer) (pairTrainer, error) {
			return bfrtrain.New(c, run, data, log)
		},
		describe: func(c bfrtrain.Config, data *pairread.Set, tr pairTrainer) string {
			return fmt.Sprintf("%d pairs from %s (%s), network with %d parameters, %d steps of %d faces of %dx%d",
				data.Len(), f.pairs, data.Layout, tr.(*bfrtrain.Trainer).Model.NumParams(), c.Steps, c.BatchSize, c.PatchSize, c.PatchSize)
		},
	}
	cmd := &cobra.Command{
		Use:   "train --pairs DIR --out RUN [--config FILE] [--steps N] [--seed N] [--resume latest]",
		Short: "Train the face restoration network on aligned face pairs",
		Long: `train fits the face restoration network to the face pairs in --pairs: whole
faces (patch_size = model.face_size, 128 by default) in batches of 8, random
horizontal flips, L1 loss, AdamW with a cosine schedule, and an exponential
moving average of the weights; 3600 steps by default, about an hour on 2
CPU cores.

Settings come from the defaults and a --config YAML file ("degradiff bfr
train --print-config" shows them all). They are printed at start and saved
in RUN/config.yaml.

The run folder RUN holds log.jsonl (mean loss, learning rate and gradient
norm every log_every steps), loss.png, checkpoints/ (every checkpoint_every
steps, the last keep_checkpoints kept) and at the end model/ (config.json,
model.safetensors and model_ema.safetensors). Ctrl-C or SIGTERM saves a
checkpoint and exits; --resume latest continues exactly where it stopped,
bit for bit, on the same --pairs, --include and --exclude (RUN/inputs.json
records them). Results do not depend on the number of cores.

` + bfrFacesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return spec.run(cmd, f) },
	}
	f.register(cmd, "face pairs at scale 1 (meta_info.txt, or HR/ and LR/)",
		"train only on pairs whose HR name matches one of these globs (repeatable, comma-separated)")
	return cmd
}

// bfrModelFlags choose a face restoration model.
type bfrModelFlags struct {
	model, weights string
	precisionFlag
}

func (f *bfrModelFlags) register(fl interface {
	StringVar(*string, string, string, string)
}) {
	fl.StringVar(&f.model, "model", "", "a model folder, a run folder (its model/, or its latest checkpoint), or a checkpoint folder")
	fl.StringVar(&f.weights, "weights", "auto", "auto (averaged weights when the model has them), ema or raw")
	f.precisionFlag.register(fl)
}

func (f *bfrModelFlags) load() (*bfrnet.Model, string, error) {
	if f.model == "" {
		return nil, "", errors.New("--model is required")
	}
	w, err := modeldir.ParseWeights(f.weights)
	if err != nil {
		return nil, "", fmt.Errorf("--weights: %w", err)
	}
	if err := f.precisionFlag.parse(); err != nil {
		return nil, "", err
	}
	// LoadModel's errors already name --model or the file they concern.
	return bfrtrain.LoadModel(f.model, w)
}

// loadFaceMeasurer loads the networks of the face measures from
// --face-models.
func loadFaceMeasurer(dir string) (*facemeasure.Measurer, error) {
	fail := func(err error) error {
		return fmt.Errorf("--face-models %s: %v\n--face-models must be %s", dir, strings.TrimPrefix(err.Error(), "faceapi: "), faceModelsHelp)
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, fail(err)
	} else if !st.IsDir() {
		return nil, fail(errors.New("not a folder"))
	}
	m, err := facemeasure.Load(dir)
	if err != nil {
		return nil, fail(err)
	}
	return m, nil
}

// bfrScore is one row of the bfr test table. With ground truth, PSNR and
// SSIM compare the restored face with it, and so do the face measures;
// the Input fields give the LQ input's figures (--baseline). Without
// ground truth (--lq), the face measures compare the restored face with
// its input.
type bfrScore struct {
	Name      string              `json:"name"`
	PSNR      *decibels           `json:"psnr,omitempty"`
	SSIM      *float64            `json:"ssim,omitempty"`
	InputPSNR *decibels           `json:"input_psnr,omitempty"`
	InputSSIM *float64            `json:"input_ssim,omitempty"`
	Face      *facemeasure.Scores `json:"face,omitempty"`
	InputFace *facemeasure.Scores `json:"input_face,omitempty"`
}

// decibels is a PSNR in JSON: identical images have an infinite PSNR,
// which JSON numbers cannot hold, so it is written as the string "inf".
type decibels float64

func (d decibels) MarshalJSON() ([]byte, error) {
	if math.IsInf(float64(d), 1) {
		return []byte(`"inf"`), nil
	}
	return json.Marshal(float64(d))
}

func (d *decibels) UnmarshalJSON(b []byte) error {
	if string(b) == `"inf"` {
		*d = decibels(math.Inf(1))
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*d = decibels(f)
	return nil
}

// bfrReport is bfr test's JSON output.
type bfrReport struct {
	Model    string `json:"model"`
	Pairs    string `json:"pairs,omitempty"`
	LQ       string `json:"lq,omitempty"`
	FaceSize int    `json:"face_size"`
	TestY    bool   `json:"test_y_channel"`
	// Reference says what the face measures compare with: "ground truth"
	// or "input".
	Reference string     `json:"face_reference,omitempty"`
	Images    []bfrScore `json:"images"`
	Failed    []string   `json:"failed,omitempty"`
	Mean      bfrScore   `json:"mean"`
}

func newBFRTestCmd() *cobra.Command {
	var mf bfrModelFlags
	var pairs, lq, save, faceModels string
	var include, exclude []string
	var asJSON, baseline, rgb, skipBad bool
	var maxPixels int64
	cmd := &cobra.Command{
		Use:   "test --model RUN (--pairs DIR | --lq DIR --face-models DIR) [--face-models DIR] [--json]",
		Short: "Measure a face restoration model on test pairs or on real LQ faces",
		Long: `test restores faces with the model and measures the results.

With --pairs (aligned test pairs, HR/ and LR/ or meta_info.txt, at scale
1) it compares each restored face with its HR face: PSNR and SSIM as
BasicSR computes them (8-bit, no border cropped, the Y channel of YCbCr;
--rgb: the RGB planes), and with --face-models the identity (cosine
similarity of face-api's recognition descriptors, 1 = the same) and the
landmark distance (mean distance of the 68 landmarks, in units of the face
side). --baseline adds the LQ input's own figures.

With --lq (a folder of real LQ aligned faces, no ground truth; --face-models
required) it compares each restored face with its input: identity kept and
landmark distance between input and output. Unreadable images are listed
and make the exit status 2 unless --skip-bad is given.

Faces are measured at the model's face_size: faces of another size are
resized to it first (HR faces too). It prints one row per face and the
mean, or with --json one JSON document (where the infinite PSNR of
identical images is the string "inf"); --save DIR writes the restored
faces.

--face-models: ` + faceModelsHelp + `

` + bfrFacesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			stderr := cmd.ErrOrStderr()
			switch {
			case pairs == "" && lq == "":
				return errors.New("--pairs or --lq is required")
			case pairs != "" && lq != "":
				return errors.New("--pairs and --lq exclude each other: test pairs, or real LQ faces without ground truth")
			case lq != "" && faceModels == "":
				return fmt.Errorf("--lq needs --face-models (faces without ground truth are measured by identity and landmarks): %s", faceModelsHelp)
			case lq != "" && baseline:
				return errors.New("--baseline needs --pairs: without ground truth the input has no figures of its own")
			}
			inFlag, inDir := "--pairs", pairs
			if lq != "" {
				inFlag, inDir = "--lq", lq
			}
			if save != "" {
				if err := checkSeparate("--save", save, [][2]string{{inFlag, inDir}}); err != nil {
					return err
				}
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
			var fm *facemeasure.Measurer
			if faceModels != "" {
				if fm, err = loadFaceMeasurer(faceModels); err != nil {
					return err
				}
			}
			size := model.Config.FaceSize
			rep := bfrReport{Model: src, Pairs: pairs, LQ: lq, FaceSize: size, TestY: !rgb}
			if fm != nil {
				rep.Reference = "ground truth"
				if lq != "" {
					rep.Reference = "input"
				}
			}
			opt := fidelity.Options{TestY: !rgb}
			if save != "" {
				if err := os.MkdirAll(save, 0o755); err != nil {
					return fmt.Errorf("--save: %w", err)
				}
			}
			ctx, stop := signalContext()
			defer stop()
			var failed []error
			if pairs != "" {
				data, err := pairread.OpenWith(pairs, pairread.Options{Scale: 1, Include: inc, Exclude: exc, MaxPixels: maxPixels, CacheBytes: -1})
				if err != nil {
					return err
				}
				fmt.Fprintf(stderr, "bfr test: model %s, %d pairs from %s, measured at %dx%d\n", src, data.Len(), pairs, size, size)
				bar := progress.New(stderr, data.Len(), "bfr test", "pair")
				for i, p := range data.Pairs {
					if ctx.Err() != nil {
						bar.Finish()
						return interrupted(errors.New("interrupted"))
					}
					hr, lr, err := data.Load(i)
					if err != nil {
						bar.Finish()
						return err
					}
					hr, lr = bfrnet.ResizeFace(hr, size), bfrnet.ResizeFace(lr, size)
					out := model.Predict(lr)
					row := bfrScore{Name: p.Name}
					ps, ss := decibels(fidelity.PSNR(out, hr, opt)), fidelity.SSIM(out, hr, opt)
					row.PSNR, row.SSIM = &ps, &ss
					if baseline {
						ip, is := decibels(fidelity.PSNR(lr, hr, opt)), fidelity.SSIM(lr, hr, opt)
						row.InputPSNR, row.InputSSIM = &ip, &is
					}
					if fm != nil {
						ref := fm.Face(hr)
						s := facemeasure.Score(fm.Face(out), ref)
						row.Face = &s
						if baseline {
							b := facemeasure.Score(fm.Face(lr), ref)
							row.InputFace = &b
						}
					}
					rep.Images = append(rep.Images, row)
					if save != "" {
						if err := srSave(filepath.Join(save, filepath.FromSlash(p.Name)+".png"), out); err != nil {
							bar.Finish()
							return err
						}
					}
					bar.Add(1)
				}
				bar.Finish()
			} else {
				items, problems := findItems(lq)
				if len(items) == 0 && len(problems) > 0 {
					return problems[0]
				}
				if len(items) == 0 {
					return fmt.Errorf("--lq %s: no images", lq)
				}
				failed = problems
				fmt.Fprintf(stderr, "bfr test: model %s, %d real LQ faces from %s, measured at %dx%d against their input\n", src, len(items), lq, size, size)
				bar := progress.New(stderr, len(items), "bfr test", "face")
				for _, it := range items {
					if ctx.Err() != nil {
						bar.Finish()
						return interrupted(errors.New("interrupted"))
					}
					img, _, err := imageio.Load(it.Path, imageio.Options{MaxPixels: maxPixels})
					if err != nil {
						failed = append(failed, err) // it names the file
						bar.Add(1)
						continue
					}
					in := bfrnet.ResizeFace(img, size)
					out := model.Predict(in)
					s := facemeasure.Score(fm.Face(out), fm.Face(in))
					rep.Images = append(rep.Images, bfrScore{Name: it.Name, Face: &s})
					if save != "" {
						if err := srSave(filepath.Join(save, filepath.FromSlash(it.Name)+".png"), out); err != nil {
							bar.Finish()
							return err
						}
					}
					bar.Add(1)
				}
				bar.Finish()
			}
			for _, f := range failed {
				rep.Failed = append(rep.Failed, f.Error())
			}
			rep.Mean = bfrMean(rep.Images)
			if asJSON {
				b, err := json.MarshalIndent(rep, "", "  ")
				if err != nil {
					return err
				}
				if _, err := fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b); err != nil {
					return err
				}
			} else if err := bfrTable(cmd.OutOrStdout(), rep); err != nil {
				return err
			}
			if len(failed) > 0 {
				for _, f := range failed {
					fmt.Fprintf(stderr, "failed: %v\n", f)
				}
				if !skipBad {
					return &exitError{code: exitBadInputs, err: fmt.Errorf("%d image(s) could not be read (listed above)", len(failed))}
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	mf.register(fl)
	fl.StringVar(&pairs, "pairs", "", "aligned face test pairs at scale 1")
	fl.StringVar(&lq, "lq", "", "folder of real LQ aligned faces without ground truth (searched recursively)")
	fl.StringVar(&faceModels, "face-models", "", "the model/ folder of @vladmandic/face-api 1.7.15, for the identity and landmark measures")
	fl.StringArrayVar(&include, "include", nil, "test only pairs whose HR name matches one of these globs (repeatable, comma-separated)")
	fl.StringArrayVar(&exclude, "exclude", nil, "leave out pairs whose HR name matches one of these globs (repeatable)")
	fl.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	fl.BoolVar(&baseline, "baseline", false, "also measure the LQ inputs themselves (with --pairs)")
	fl.BoolVar(&rgb, "rgb", false, "compare the RGB planes instead of the Y channel")
	fl.BoolVar(&skipBad, "skip-bad", false, "exit 0 even if some --lq images could not be read")
	fl.StringVar(&save, "save", "", "folder for the restored faces")
	fl.Int64Var(&maxPixels, "max-pixels", imageio.DefaultMaxPixels, "refuse images with more pixels than this")
	return cmd
}

// bfrMean averages each measure over the rows that have it.
func bfrMean(rows []bfrScore) bfrScore {
	m := bfrScore{Name: "mean"}
	mean := func(get func(bfrScore) *float64) *float64 {
		var s float64
		n := 0
		for _, r := range rows {
			if v := get(r); v != nil {
				s += *v
				n++
			}
		}
		if n == 0 {
			return nil
		}
		s /= float64(n)
		return &s
	}
	db := func(v *float64) *decibels { return (*decibels)(v) }
	fl := func(v *decibels) *float64 { return (*float64)(v) }
	m.PSNR = db(mean(func(r bfrScore) *float64 { return fl(r.PSNR) }))
	m.SSIM = mean(func(r bfrScore) *float64 { return r.SSIM })
	m.InputPSNR = db(mean(func(r bfrScore) *float64 { return fl(r.InputPSNR) }))
	m.InputSSIM = mean(func(r bfrScore) *float64 { return r.InputSSIM })
	faces := func(get func(bfrScore) *facemeasure.Scores) *facemeasure.Scores {
		var ss []facemeasure.Scores
		for _, r := range rows {
			if s := get(r); s != nil {
				ss = append(ss, *s)
			}
		}
		if len(ss) == 0 {
			return nil
		}
		s := facemeasure.Mean(ss)
		return &s
	}
	m.Face = faces(func(r bfrScore) *facemeasure.Scores { return r.Face })
	m.InputFace = faces(func(r bfrScore) *facemeasure.Scores { return r.InputFace })
	return m
}

// bfrTable prints the rows and their mean; a column appears when the mean
// has it.
func bfrTable(w io.Writer, rep bfrReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	channel := "Y"
	if !rep.TestY {
		channel = "RGB"
	}
	ref := "GT"
	if rep.Reference == "input" {
		ref = "input"
	}
	type col struct {
		head string
		cell func(bfrScore) string
	}
	var cols []col
	m := rep.Mean
	if m.PSNR != nil {
		cols = append(cols,
			col{fmt.Sprintf("PSNR (%s)", channel), func(r bfrScore) string { return srDB(float64(*r.PSNR)) }},
			col{fmt.Sprintf("SSIM (%s)", channel), func(r bfrScore) string { return fmt.Sprintf("%.4f", *r.SSIM) }})
	}
	if m.InputPSNR != nil {
		cols = append(cols,
			col{"input PSNR", func(r bfrScore) string { return srDB(float64(*r.InputPSNR)) }},
			col{"input SSIM", func(r bfrScore) string { return fmt.Sprintf("%.4f", *r.InputSSIM) }})
	}
	if m.Face != nil {
		cols = append(cols,
			col{"identity vs " + ref, func(r bfrScore) string { return fmt.Sprintf("%.4f", r.Face.Identity) }},
			col{"landmarks vs " + ref, func(r bfrScore) string { return fmt.Sprintf("%.4f", r.Face.LandmarkDistance) }})
	}
	if m.InputFace != nil {
		cols = append(cols,
			col{"input identity", func(r bfrScore) string { return fmt.Sprintf("%.4f", r.InputFace.Identity) }},
			col{"input landmarks", func(r bfrScore) string { return fmt.Sprintf("%.4f", r.InputFace.LandmarkDistance) }})
	}
	line := func(name string, cell func(col) string) {
		s := name + "\t"
		for _, c := range cols {
			s += cell(c) + "\t"
		}
		fmt.Fprintln(tw, s)
	}
	line("face", func(c col) string { return c.head })
	for _, r := range rep.Images {
		line(r.Name, func(c col) string { return c.cell(r) })
	}
	line("----", func(col) string { return "" })
	line("mean", func(c col) string { return c.cell(m) })
	if err := tw.Flush(); err != nil {
		return err
	}
	if m.Face != nil {
		_, err := fmt.Fprintf(w, "identity: cosine similarity of face recognition descriptors (1 = the same); landmarks: mean distance of the 68 landmarks as a fraction of the face side (times %d: pixels at the measured size)\n", rep.FaceSize)
		return err
	}
	return nil
}

func newBFRApplyCmd() *cobra.Command {
	var mf bfrModelFlags
	var in, out string
	var workers int
	var overwrite, skipBad, keepSize bool
	var maxPixels int64
	cmd := &cobra.Command{
		Use:   "apply --model RUN --in DIR --out DIR [--keep-size]",
		Short: "Restore every aligned face of a folder",
		Long: `apply restores every image under --in (recursively; aligned faces, see
below) with the model and writes OUT/NAME.png, recreating subfolders. Each
face is resized to the model's face_size and written at that size
(--keep-size: resized back to its input size).

Files are written atomically; rerunning the same command skips faces whose
output exists (--overwrite redoes them). Unreadable images are listed at
the end and make the exit status 2 unless --skip-bad is given. Outputs do
not depend on --workers.

` + bfrFacesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			stderr := cmd.ErrOrStderr()
			if in == "" || out == "" {
				return errors.New("--in and --out are required")
			}
			if err := checkWorkers(workers); err != nil {
				return err
			}
			if err := checkSeparate("--out", out, [][2]string{{"--in", in}}); err != nil {
				return err
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
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			if _, err := atomicfile.RemoveStale(out); err != nil { // left by a killed run
				return err
			}
			size := model.Config.FaceSize
			fmt.Fprintf(stderr, "bfr apply: %d faces from %s, model %s (%dx%d faces)\n", len(items), in, src, size, size)
			ctx, stop := signalContext()
			defer stop()
			opt := imageio.Options{MaxPixels: maxPixels}
			sum := batch.Run(ctx, items, batch.Options{Workers: workers, Log: stderr, Desc: "bfr apply", Unit: "face"},
				func(ctx context.Context, it batch.Item) (batch.Outcome, error) {
					p := filepath.Join(out, filepath.FromSlash(it.Name)+".png")
					if !overwrite {
						if _, err := os.Stat(p); err == nil {
							return batch.Skipped, nil
						}
					}
					img, _, err := imageio.Load(it.Path, opt)
					if err != nil {
						return 0, err
					}
					res := model.Predict(bfrnet.ResizeFace(img, size))
					if keepSize && (img.W != size || img.H != size) {
						res = bfrnet.Resize(res, img.H, img.W)
					}
					return batch.Done, batch.Output(srSave(p, res))
				})
			fmt.Fprintf(stderr, "bfr apply: %d written, %d skipped (already done), %d failed; %s\n",
				sum.Done, sum.Skipped, len(sum.Failed), sum.Elapsed.Round(1e7))
			return finishBatch(stderr, sum, problems, skipBad, nil)
		},
	}
	fl := cmd.Flags()
	mf.register(fl)
	fl.StringVar(&in, "in", "", "folder of aligned faces to restore (searched recursively)")
	fl.StringVar(&out, "out", "", "output folder")
	fl.IntVar(&workers, "workers", 1, "faces processed at once (the network already uses every core)")
	fl.BoolVar(&keepSize, "keep-size", false, "write each restored face at its input size")
	fl.BoolVar(&overwrite, "overwrite", false, "redo faces whose output exists")
	fl.BoolVar(&skipBad, "skip-bad", false, "exit 0 even if some images could not be read")
	fl.Int64Var(&maxPixels, "max-pixels", imageio.DefaultMaxPixels, "refuse images with more pixels than this")
	return cmd
}

package experiment

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/atomicfile"
	"github.com/degradiff/degradiff/internal/progress"
	"github.com/degradiff/degradiff/measure/srtest"
	"github.com/degradiff/degradiff/models/srnet"
	"github.com/degradiff/degradiff/pairset/pairread"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/train/srtrain"
)

// Score is the fidelity of one super-resolved test image.
type Score struct {
	Name string  `json:"name"`
	PSNR float64 `json:"psnr"`
	SSIM float64 `json:"ssim"`
}

// TestResult is stage 5's output for one source, OUT/test/SOURCE.json:
// PSNR and SSIM as BasicSR computes them (8-bit, the Y channel, the scale
// cropped from each border), per test image and their means.
type TestResult struct {
	Source string `json:"source"`
	// Model describes the weights tested.
	Model      string  `json:"model"`
	CropBorder int     `json:"crop_border"`
	TestY      bool    `json:"test_y_channel"`
	PSNR       float64 `json:"psnr"`
	SSIM       float64 `json:"ssim"`
	Images     []Score `json:"images"`
}

func (r *runner) testFile(run srRun) string {
	return filepath.Join(r.out, TestDir, run.key()+".json")
}

func (r *runner) valFile(run srRun) string {
	return filepath.Join(r.out, ValDir, run.key()+".json")
}

// validated reports whether the source's networks are tested on the
// validation pairs: when there are some, and for Real only if it did not
// train on them.
func (r *runner) validated(source string) bool {
	return r.val != nil && (source != Real || r.valReal)
}

// sampleDir holds the crops of the super-resolved sample images.
func (r *runner) sampleDir(source string) string { return filepath.Join(r.out, TestDir, source) }

// sampleIndices returns k test pairs spread evenly over the n sorted ones:
// a choice that does not depend on their content.
func sampleIndices(n, k int) []int {
	k = min(k, n)
	out := make([]int, k)
	for i := range out {
		out[i] = i * n / k
	}
	return out
}

// displayBox returns the HR region of a test image shown in samples.png:
// a centred square of at most 128 pixels, aligned to the scale.
func displayBox(h, w, scale int) (y, x, size int) {
	size = min(128, h, w) / scale * scale
	return (h - size) / 2 / scale * scale, (w - size) / 2 / scale * scale, size
}

// testSR super-resolves every test LR image with the source's network (or,
// for Upscale, bicubic interpolation), scores it against the HR image and
// writes OUT/test/SOURCE.json, keeping the displayed crops of the sample
// images.
func (r *runner) testSR(run srRun) error {
	return r.scoreSR(run, r.test, "test", r.testFile(run), true)
}

// validateSR scores the network on the validation pairs, as testSR does
// on the test pairs, in OUT/val/SOURCE.json.
func (r *runner) validateSR(run srRun) error {
	return r.scoreSR(run, r.val, "val", r.valFile(run), false)
}

// scoreSR scores the run's network on the pairs of set (stage names the
// stage for progress and interruptions) and writes the result to file;
// with samples, the first seed keeps the displayed crops of the sample
// images.
func (r *runner) scoreSR(run srRun, set *pairread.Set, stage, file string, samples bool) error {
	s := r.cfg.Scale
	source := run.key()
	var model *srnet.Model
	desc := "bicubic interpolation (degrade/resize, A = -0.75)"
	if run.source != Upscale {
		var err error
		if model, desc, err = srtrain.LoadModel(r.runDir(run), srnet.AutoWeights); err != nil {
			return err
		}
	}
	res := TestResult{Source: source, Model: desc, CropBorder: s, TestY: true}
	shown := map[int]bool{}
	// The sample crops come from the first seed's network.
	if samples && run.seed == 0 {
		for _, i := range sampleIndices(set.Len(), r.cfg.SampleImages) {
			shown[i] = true
		}
		if err := os.MkdirAll(r.sampleDir(source), 0o755); err != nil {
			return err
		}
	}
	bar := progress.New(r.log, set.Len(), "bench "+stage+" "+source, "img")
	defer bar.Finish()
	sr := func(lr *raster.Image) *raster.Image { return srtest.Bicubic(lr, s) }
	if model != nil {
		sr = func(lr *raster.Image) *raster.Image { return model.Predict(lr, srnet.PredictOptions{}) }
	}
	scores, err := srtest.Run(r.ctx, set, sr, srtest.Options{Scale: s, Done: func() { bar.Add(1) },
		Each: func(i int, p pairread.Pair, sr *raster.Image) error {
			if !shown[i] {
				return nil
			}
			y, x, d := displayBox(sr.H, sr.W, s)
			return saveImage(filepath.Join(r.sampleDir(source), filepath.FromSlash(p.Name)+".png"), sr.Crop(y, x, d, d))
		}})
	if r.ctx.Err() != nil {
		return Interrupted(stage + "/" + source)
	}
	if err != nil {
		return err
	}
	for _, sc := range scores {
		res.Images = append(res.Images, Score{Name: sc.Name, PSNR: sc.PSNR, SSIM: sc.SSIM})
	}
	// Means in pair order, so that they do not depend on timing.
	for _, sc := range res.Images {
		res.PSNR += sc.PSNR / float64(len(res.Images))
		res.SSIM += sc.SSIM / float64(len(res.Images))
	}
	return atomicfile.WriteJSON(file, res)
}

// saveImage writes a PNG atomically, creating its folder.
func saveImage(p string, m *raster.Image) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return imageio.Save(p, m, imageio.SaveOptions{})
}

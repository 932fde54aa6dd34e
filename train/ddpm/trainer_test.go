package ddpm

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/ag/agtest"
	"github.com/degradiff/degradiff/engine/gemm"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/samples"
	"github.com/degradiff/degradiff/train/runfolder"
)

// makeLQ writes a few small generated images, plus an unreadable file and
// one too small to crop.
func makeLQ(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for i, n := range []string{"shapes", "rings", "bricks", "landscape", "stripes"} {
		m, err := samples.Render(n, 40+4*i, 48, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if err := imageio.Save(filepath.Join(dir, n+".png"), m, imageio.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tiny, _ := samples.Render("rings", 8, 8, 0)
	imageio.Save(filepath.Join(dir, "tiny.png"), tiny, imageio.SaveOptions{})
	os.WriteFile(filepath.Join(dir, "broken.png"), []byte("not a png"), 0o644)
	return dir
}

func tinyConfig() Config {
	c := Default()
	c.Model = "tiny"
	c.Resolution = 32
	c.BatchSize = 2
	c.Steps = 6
	c.WarmupSteps = 2
	c.CheckpointEvery = 3
	c.PreviewEvery = 6
	c.PreviewImages = 1
	c.PreviewSteps = 10
	c.PreviewStrength = []float64{0.3}
	c.LR = 1e-3
	return c
}

func newTrainer(t *testing.T, cfg Config, lq, dir string) *Trainer {
	t.Helper()
	data, err := LoadDataset(Sources{Dirs: []string{lq}}, cfg, cfg.PreviewImages, imageio.Options{MaxPixels: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	run, err := runfolder.Create(dir, cfg.KeepCheckpoints)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(cfg, run, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestDatasetRules(t *testing.T) {
	lq := makeLQ(t)
	cfg := tinyConfig()
	data, err := LoadDataset(Sources{Dirs: []string{lq}}, cfg, 1, imageio.Options{MaxPixels: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	// 5 usable images (one held out), the 8x8 one and the broken file skipped.
	if len(data.Train) != 4 || len(data.Preview) != 1 || len(data.Skipped) != 2 {
		t.Fatalf("train %d preview %d skipped %v", len(data.Train), len(data.Preview), data.Skipped)
	}
}

func TestResumeIsBitIdentical(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny model")
	}
	lq := makeLQ(t)
	cfg := tinyConfig()
	cfg.PreviewEvery = 0

	straight := newTrainer(t, cfg, lq, t.TempDir())
	if err := straight.Run(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Stop after step 3 (cancel during the run), then resume from latest.
	dir := t.TempDir()
	first := newTrainer(t, cfg, lq, dir)
	for first.Step() < 2 {
		first.TrainStep()
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := first.Run(ctx); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("cancelled run returned %v", err)
	}
	if first.Step() != 3 {
		t.Fatalf("cancelled after step %d, want 3", first.Step())
	}
	second := newTrainer(t, cfg, lq, dir)
	ck, err := second.Folder.Resolve("latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Resume(ck); err != nil {
		t.Fatal(err)
	}
	if err := second.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	a, b := straight.Model.StateDict(), second.Model.StateDict()
	for name, ta := range a {
		tb := b[name]
		for i := range ta.Data {
			if ta.Data[i] != tb.Data[i] {
				t.Fatalf("%s[%d]: %v straight vs %v resumed", name, i, ta.Data[i], tb.Data[i])
			}
		}
	}
	for _, f := range []string{"model/unet/config.json", "model/unet/diffusion_pytorch_model.safetensors", "model/scheduler/scheduler_config.json", "model/model_index.json", "loss.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("run folder lacks %s", f)
		}
	}
}

func TestLossFalls(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny model")
	}
	// On a single flat-coloured image the noise is easy to predict: the
	// epsilon loss must fall well below its initial value of about 1.
	dir := t.TempDir()
	m, _ := samples.Render("landscape", 32, 32, 0)
	for i := range m.Pix {
		m.Pix[i] = 0.4
	}
	imageio.Save(filepath.Join(dir, "flat.png"), m, imageio.SaveOptions{})
	cfg := tinyConfig()
	cfg.PreviewImages = 0
	cfg.PreviewEvery = 0
	cfg.Steps = 60
	cfg.LR = 2e-3
	cfg.WarmupSteps = 5
	tr := newTrainer(t, cfg, dir, t.TempDir())
	first, _ := tr.TrainStep()
	var last float64
	for tr.Step() < cfg.Steps {
		l, _ := tr.TrainStep()
		if tr.Step() > cfg.Steps-10 {
			last += l / 10
		}
	}
	if !(last < 0.5*first) || !(last < 0.5) {
		t.Fatalf("loss %.3f at the start, %.3f over the last 10 steps: not learning", first, last)
	}
}

func TestPreviewWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the sampler")
	}
	lq := makeLQ(t)
	cfg := tinyConfig()
	cfg.Steps = 1
	dir := t.TempDir()
	tr := newTrainer(t, cfg, lq, dir)
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "previews", "step-00000001.png")); err != nil {
		t.Fatal(err)
	}
}

func TestInitFrom(t *testing.T) {
	lq := makeLQ(t)
	cfg := tinyConfig()
	cfg.PreviewEvery = 0
	a := newTrainer(t, cfg, lq, t.TempDir())
	a.TrainStep()
	b := newTrainer(t, cfg, lq, t.TempDir())
	b.Cfg.Seed = 99
	if err := b.InitFrom(a.Model); err != nil {
		t.Fatal(err)
	}
	for name, ta := range a.Model.StateDict() {
		tb := b.Model.StateDict()[name]
		for i := range ta.Data {
			if ta.Data[i] != tb.Data[i] {
				t.Fatalf("%s not copied", name)
			}
		}
	}
	if err := a.InitFrom(b.Model); err == nil {
		t.Fatal("InitFrom after a step succeeded")
	}
}

// TestTrainStepAllocatesNothing: after warm-up a whole training step of the
// trainer (batch sampling, noising, forward, backward, AdamW, EMA) makes no
// heap allocation, for epsilon and sample prediction.
func TestTrainStepAllocatesNothing(t *testing.T) {
	lq := makeLQ(t)
	for _, pred := range []string{"epsilon", "sample"} {
		cfg := tinyConfig()
		cfg.Steps = 1 << 20
		cfg.Prediction = pred
		tr := newTrainer(t, cfg, lq, t.TempDir())
		for _, procs := range []int{1, 2} {
			if n := agtest.StepAllocs(procs, func() { tr.TrainStep() }); n != 0 {
				t.Errorf("%s, GOMAXPROCS %d: %v heap allocations per TrainStep, want 0", pred, procs, n)
			}
		}
	}
}

// A run with the default settings writes the scheduler a bare UNet folder
// is given (schedule.DefaultDDPMFile), so that a UNet exported alone
// samples as its pipeline would.
func TestDefaultSchedulerIsTheBareUNetOne(t *testing.T) {
	if got, want := SchedulerConfig(Default()), schedule.DefaultDDPMFile(); !bytes.Equal(got, want) {
		t.Fatalf("training scheduler\n%s\ndiffers from the default\n%s", got, want)
	}
}

// TestMixedPrecision checks precision: bf16: the run is reproducible bit
// for bit, differs from the float32 run only slightly, restores float32
// products when it ends, and an unknown precision is refused by name.
func TestMixedPrecision(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny model")
	}
	lq := makeLQ(t)
	train := func(prec string) map[string][]float32 {
		cfg := tinyConfig()
		cfg.PreviewEvery = 0
		cfg.Precision = prec
		tr := newTrainer(t, cfg, lq, t.TempDir())
		if err := tr.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if gemm.CurrentPrecision() != gemm.FP32 {
			t.Fatalf("after a %s run the products stay in %v", prec, gemm.CurrentPrecision())
		}
		w := map[string][]float32{}
		for name, v := range tr.Model.StateDict() {
			w[name] = v.Data
		}
		return w
	}
	fp32, bf1, bf2 := train("fp32"), train("bf16"), train("bf16")
	var diff, norm float64
	for name, a := range bf1 {
		for i, v := range a {
			if v != bf2[name][i] {
				t.Fatalf("%s[%d]: two bf16 runs differ", name, i)
			}
			d := float64(v - fp32[name][i])
			diff += d * d
			norm += float64(fp32[name][i]) * float64(fp32[name][i])
		}
	}
	if diff == 0 {
		t.Error("bf16 weights equal the fp32 ones: precision not in effect")
	}
	if rel := math.Sqrt(diff / norm); rel > 1e-2 {
		t.Errorf("bf16 weights differ from fp32 ones by %.3g (relative RMS)", rel)
	}
	if _, err := Default().ParseYAML([]byte("precision: fp16\n")); err == nil || !strings.Contains(err.Error(), "precision") {
		t.Errorf("precision: fp16 accepted or not named: %v", err)
	}
}

package srtrain

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/degrade/resize"
	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/models/srnet"
	"github.com/degradiff/degradiff/pairset/pairread"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
	"github.com/degradiff/degradiff/samples"
	"github.com/degradiff/degradiff/train/runfolder"
)

// makePairs writes x4 pairs of generated scenes: HR 64x64 and its area
// (box) downscale, saved as 8-bit PNG.
func makePairs(t testing.TB) string { return makePairsSized(t, 64) }

func makePairsSized(t testing.TB, size int) string {
	t.Helper()
	dir := t.TempDir()
	for i, n := range []string{"shapes", "rings", "bricks", "landscape"} {
		hr, err := samples.Render(n, size, size, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		lr := resize.Interpolate(hr, size/4, size/4, resize.Area)
		for sub, m := range map[string]*raster.Image{"HR": hr, "LR": lr} {
			p := filepath.Join(dir, sub, n+".png")
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := imageio.Save(p, m, imageio.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func tinyConfig() Config {
	c := Default()
	c.Model.NumFeat, c.Model.NumBlock = 8, 1
	c.PatchSize = 8
	c.BatchSize = 4
	c.Steps = 6
	c.WarmupSteps = 2
	c.CheckpointEvery = 3
	c.LogEvery = 2
	c.LR = 1e-3
	return c
}

func newTrainer(t testing.TB, cfg Config, pairs, dir string) *Trainer {
	t.Helper()
	data, err := pairread.Open(pairs, cfg.Model.Scale)
	if err != nil {
		t.Fatal(err)
	}
	run, err := runfolder.Create(dir, cfg.KeepCheckpoints)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run.Close() })
	tr, err := New(cfg, run, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// stopAt is a context that reports cancellation once its trainer has
// done n steps, as if Ctrl-C came during step n.
type stopAt struct {
	context.Context
	tr *Trainer
	n  int
}

func (c *stopAt) Err() error {
	if c.tr.Step() >= c.n {
		return context.Canceled
	}
	return nil
}

// state returns every value that must survive a resume: weights, EMA and
// optimizer moments.
func state(t *testing.T, tr *Trainer) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for _, p := range tr.Model.Params() {
		out["model."+p.Name] = append([]float32(nil), p.Value.Data...)
	}
	_, opt := tr.opt.State()
	for k, v := range opt {
		out["opt."+k] = append([]float32(nil), v.Data...)
	}
	_, ema := tr.ema.State()
	for k, v := range ema {
		out["ema."+k] = append([]float32(nil), v.Data...)
	}
	return out
}

func sameState(t *testing.T, what string, a, b map[string][]float32) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d vs %d tensors", what, len(a), len(b))
	}
	for k, va := range a {
		vb := b[k]
		for i := range va {
			if math.Float32bits(va[i]) != math.Float32bits(vb[i]) {
				t.Fatalf("%s: %s[%d] = %v vs %v", what, k, i, va[i], vb[i])
			}
		}
	}
}

// logLosses returns the (step, loss) lines of a run's log.
func logLosses(t *testing.T, dir string) [][2]float64 {
	t.Helper()
	var out [][2]float64
	run := &runfolder.Run{Dir: dir}
	if err := run.ReadLog(func(line []byte) error {
		var l logLine
		if err := json.Unmarshal(line, &l); err != nil {
			return err
		}
		out = append(out, [2]float64{float64(l.Step), l.Loss})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestResumeIsBitIdentical(t *testing.T) {
	pairs := makePairs(t)
	cfg := tinyConfig()
	straight := newTrainer(t, cfg, pairs, t.TempDir())
	if err := straight.Run(context.Background()); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	first := newTrainer(t, cfg, pairs, dir)
	// Interrupted after step 4 (between checkpoints, mid log interval).
	err := first.Run(&stopAt{Context: context.Background(), tr: first, n: 4})
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted run returned %v", err)
	}
	if steps, _ := first.Folder.Steps(); !reflect.DeepEqual(steps, []int{3, 4}) {
		t.Fatalf("checkpoints %v after the interruption, want [3 4]", steps)
	}
	if _, err := os.Stat(filepath.Join(dir, "loss.png")); err != nil {
		t.Error("no loss curve after the interruption")
	}
	if srnet.IsModelDir(filepath.Join(dir, ModelDir)) {
		t.Error("an interrupted run wrote the final model")
	}
	first.Folder.Close()

	// Interrupted before the first log line.
	early := newTrainer(t, cfg, pairs, t.TempDir())
	if err := early.Run(&stopAt{Context: context.Background(), tr: early, n: 1}); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("run interrupted at step 1: %v", err)
	}

	second := newTrainer(t, cfg, pairs, dir)
	ck, err := second.Folder.Resolve("latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Resume(ck); err != nil {
		t.Fatal(err)
	}
	if second.Step() != 4 {
		t.Fatalf("resumed at step %d, want 4", second.Step())
	}
	if err := second.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	sameState(t, "straight vs resumed", state(t, straight), state(t, second))
	a, b := logLosses(t, straight.Folder.Dir), logLosses(t, dir)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("logs differ:\nstraight %v\nresumed  %v", a, b)
	}
	if len(a) != 3 || a[2][0] != 6 {
		t.Errorf("log lines %v, want steps 2, 4, 6", a)
	}
	// The final models are identical too.
	m1, _, err := LoadModel(straight.Folder.Dir, srnet.AutoWeights)
	if err != nil {
		t.Fatal(err)
	}
	m2, _, err := LoadModel(dir, srnet.AutoWeights)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range m1.Params() {
		if !reflect.DeepEqual(p.Value.Data, m2.Params()[i].Value.Data) {
			t.Fatalf("final %s differs", p.Name)
		}
	}
}

func TestCheckpointPruningAndExport(t *testing.T) {
	pairs := makePairs(t)
	cfg := tinyConfig()
	cfg.Steps, cfg.CheckpointEvery, cfg.KeepCheckpoints = 7, 2, 2
	dir := t.TempDir()
	tr := newTrainer(t, cfg, pairs, dir)
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	steps, err := tr.Folder.Steps()
	if err != nil || !reflect.DeepEqual(steps, []int{6, 7}) {
		t.Fatalf("checkpoints %v (%v), want [6 7]", steps, err)
	}
	// The model folder holds both weights; auto picks the average, the
	// same as the last checkpoint's.
	md := filepath.Join(dir, ModelDir)
	for _, f := range []string{srnet.ConfigFile, srnet.WeightsFile, srnet.EMAFile, "training.yaml"} {
		if _, err := os.Stat(filepath.Join(md, f)); err != nil {
			t.Errorf("model folder lacks %s", f)
		}
	}
	_, ema := tr.ema.State()
	for _, tc := range []struct {
		path string
		w    srnet.Weights
		ema  bool
	}{
		{dir, srnet.AutoWeights, true},
		{md, srnet.RawWeights, false},
		{tr.Folder.CheckpointPath(7), srnet.AutoWeights, true},
		{tr.Folder.CheckpointPath(7), srnet.RawWeights, false},
	} {
		m, src, err := LoadModel(tc.path, tc.w)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range m.Params() {
			want := tr.Model.Params()[i].Value
			if tc.ema {
				want = ema[p.Name]
			}
			if !reflect.DeepEqual(p.Value.Data, want.Data) {
				t.Fatalf("LoadModel(%s, %d) from %s: %s differs", tc.path, tc.w, src, p.Name)
			}
		}
	}
	// A run folder without a final model falls back to its checkpoint.
	os.RemoveAll(md)
	if _, src, err := LoadModel(dir, srnet.AutoWeights); err != nil || !strings.Contains(src, "step-00000007") {
		t.Errorf("run without model/: %s, %v", src, err)
	}
	if _, _, err := LoadModel(t.TempDir(), srnet.AutoWeights); err == nil || !strings.Contains(err.Error(), "neither a model folder") {
		t.Errorf("empty folder: %v", err)
	}
}

func TestLossFalls(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 600 steps")
	}
	pairs := makePairs(t)
	cfg := tinyConfig()
	cfg.Model.NumFeat, cfg.Model.NumBlock = 16, 2
	cfg.PatchSize, cfg.BatchSize = 12, 8
	cfg.Steps, cfg.CheckpointEvery, cfg.LogEvery, cfg.WarmupSteps = 600, 600, 50, 20
	cfg.LR = 3e-3
	tr := newTrainer(t, cfg, pairs, t.TempDir())
	// L1 on 10 fixed batches (those of steps 0-9) of the bicubic upscale
	// alone and of the network.
	eval := func(m *srnet.Model) (net, bicubic float64) {
		for i := 0; i < 10; i++ {
			tr.step = i
			if err := tr.fillBatch(); err != nil {
				t.Fatal(err)
			}
			bicubic += l1(srnet.BicubicUp(tr.lrBatch, 4, nil), tr.hrBatch) / 10
			out := m.Forward(ag.NewGraph(false), ag.Const(tr.lrBatch)).Value
			net += l1(out, tr.hrBatch) / 10
		}
		tr.step = 0
		return net, bicubic
	}
	before, base := eval(tr.Model)
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	after, _ := eval(tr.Model)
	losses := logLosses(t, tr.Folder.Dir)
	t.Logf("L1 on fixed patches: bicubic %.4f, network before %.4f, after %.4f; training log %v", base, before, after, losses)
	// The trained network beats the bicubic upscale it starts from by a
	// clear margin (area-downscaled scenes with sharp edges are easy to
	// improve on), and the logged loss falls.
	// (Measured: bicubic 0.092, network 0.096 before and 0.058 after.)
	if !(after < 0.8*base) {
		t.Errorf("trained L1 %.4f, want below 0.8 x bicubic %.4f", after, base)
	}
	if first, last := losses[0][1], losses[len(losses)-1][1]; !(last < 0.75*first) {
		t.Errorf("logged loss went from %.4f to %.4f, want a fall by a quarter", first, last)
	}
}

func l1(a, b *tensor.Tensor) float64 {
	s := 0.0
	for i := range a.Data {
		s += math.Abs(float64(a.Data[i] - b.Data[i]))
	}
	return s / float64(len(a.Data))
}

// TestIndependentOfCores also covers mixed precision: bf16 runs are as
// reproducible as float32 ones, differ from them (the setting is in
// effect) only slightly, and leave the engine in float32 afterwards.
func TestIndependentOfCores(t *testing.T) {
	pairs := makePairs(t)
	final := map[string]map[string][]float32{}
	for _, prec := range []string{"fp32", "bf16"} {
		cfg := tinyConfig()
		cfg.Steps = 3
		cfg.Precision = prec
		var states []map[string][]float32
		for _, procs := range []int{1, 2, 3} {
			old := runtime.GOMAXPROCS(procs)
			tr := newTrainer(t, cfg, pairs, t.TempDir())
			err := tr.Run(context.Background())
			runtime.GOMAXPROCS(old)
			if err != nil {
				t.Fatal(err)
			}
			if gemm.CurrentPrecision() != gemm.FP32 {
				t.Fatalf("%s run left the engine in %v", prec, gemm.CurrentPrecision())
			}
			states = append(states, state(t, tr))
		}
		sameState(t, prec+": 1 vs 2 cores", states[0], states[1])
		sameState(t, prec+": 1 vs 3 cores", states[0], states[2])
		final[prec] = states[0]
	}
	differ := false
	for name, a := range final["fp32"] {
		b := final["bf16"][name]
		var d, n float64
		for i := range a {
			d += float64(a[i]-b[i]) * float64(a[i]-b[i])
			n += float64(a[i]) * float64(a[i])
		}
		differ = differ || d > 0
		if n > 0 && math.Sqrt(d/n) > 0.05 {
			t.Errorf("%s: bf16 state differs from fp32 by %.3g (relative RMS)", name, math.Sqrt(d/n))
		}
	}
	if !differ {
		t.Error("bf16 run identical to the fp32 one: precision not in effect")
	}
}

func TestNewChecks(t *testing.T) {
	pairs := makePairs(t)
	data, err := pairread.Open(pairs, 4)
	if err != nil {
		t.Fatal(err)
	}
	run, _ := runfolder.Create(t.TempDir(), 0)
	cfg := tinyConfig()
	cfg.PatchSize = 17
	if _, err := New(cfg, run, data, nil); err == nil || !strings.Contains(err.Error(), "smaller than patch_size 17") {
		t.Errorf("patch larger than the LR images: %v", err)
	}
	cfg = tinyConfig()
	cfg.Model.Scale = 2
	if _, err := New(cfg, run, data, nil); err == nil || !strings.Contains(err.Error(), "x2") {
		t.Errorf("scale mismatch: %v", err)
	}
	// out_init_scale scales PyTorch's initialisation of conv_up.
	for _, scale := range []float64{1, 0.25} {
		cfg := tinyConfig()
		cfg.OutInitScale = scale
		tr, err := New(cfg, run, data, nil)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := srnet.New(cfg.Model, rng.New(cfg.Seed, "init"))
		for i, p := range tr.Model.Params() {
			want := ref.Params()[i].Value.Data
			for j, v := range p.Value.Data {
				w := want[j]
				if strings.HasPrefix(p.Name, "conv_up.") {
					w *= float32(scale)
				}
				if v != w {
					t.Fatalf("out_init_scale %v: %s[%d] = %v, want %v", scale, p.Name, j, v, w)
				}
			}
		}
	}
	// A diverged step is an error and changes nothing.
	tr, err := New(tinyConfig(), run, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr.Model.ConvFirst.Bias.Value.Data[0] = float32(math.NaN())
	before := tr.Model.ConvUp.Weight.Value.Clone()
	if _, _, err := tr.TrainStep(); err == nil || !strings.Contains(err.Error(), "diverged") {
		t.Errorf("NaN weights: %v", err)
	}
	if tr.Step() != 0 || !reflect.DeepEqual(before.Data, tr.Model.ConvUp.Weight.Value.Data) {
		t.Error("a diverged step changed the model")
	}
	// A file that breaks after opening stops training with its name.
	uncached, err := pairread.OpenWith(pairs, pairread.Options{Scale: 4, CacheBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	if tr, err = New(tinyConfig(), run, uncached, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range data.Pairs {
		os.WriteFile(p.LRPath, []byte("broken"), 0o644)
	}
	if _, _, err := tr.TrainStep(); err == nil || !strings.Contains(err.Error(), filepath.Join(pairs, "LR")) {
		t.Errorf("broken file: %v", err)
	}
}

func TestSymmetry(t *testing.T) {
	m := raster.New(1, 2, 2)
	copy(m.Pix, []float32{1, 2, 3, 4}) // rows (1 2) (3 4)
	want := [8][4]float32{
		{1, 2, 3, 4}, // identity
		{2, 1, 4, 3}, // horizontal flip
		{3, 4, 1, 2}, // vertical flip
		{4, 3, 2, 1}, // both: rotation by 180°
		{1, 3, 2, 4}, // transpose
		{2, 4, 1, 3}, // flip then transpose: rotation by 90°
		{3, 1, 4, 2},
		{4, 2, 3, 1},
	}
	for k, w := range want {
		got := make([]float32, 4)
		symmetry(got, m, k)
		if !reflect.DeepEqual(got, w[:]) {
			t.Errorf("symmetry %d: %v, want %v", k, got, w)
		}
	}
}

func TestConfig(t *testing.T) {
	c := Default()
	back, err := Config{}.ParseYAML(c.YAML())
	if err != nil || !reflect.DeepEqual(back, c) {
		t.Fatalf("YAML round trip: %v\n%+v\n%+v", err, back, c)
	}
	if _, err := Default().ParseYAML([]byte("learning_rate: 1e-3\nbatchsize: 4\n")); err == nil {
		t.Error("unknown key accepted")
	}
	got, err := Default().ParseYAML([]byte("model:\n  num_feat: 32\nsteps: 10\n"))
	if err != nil || got.Model.NumFeat != 32 || got.Model.NumBlock != Default().Model.NumBlock || got.Steps != 10 {
		t.Errorf("partial YAML: %+v, %v", got, err)
	}
	for key, f := range map[string]func(*Config){
		"patch_size":             func(c *Config) { c.PatchSize = 0 },
		"steps":                  func(c *Config) { c.Steps = 0 },
		"loss":                   func(c *Config) { c.Loss = "l2" },
		"learning_rate":          func(c *Config) { c.LR = 0 },
		"lr_schedule":            func(c *Config) { c.LRSchedule = "step" },
		"ema_max_decay":          func(c *Config) { c.EMAMaxDecay = 1 },
		"checkpoint_every":       func(c *Config) { c.CheckpointEvery = 0 },
		"log_every":              func(c *Config) { c.LogEvery = 0 },
		"precision":              func(c *Config) { c.Precision = "fp16" },
		"model: srnet: num_feat": func(c *Config) { c.Model.NumFeat = 0 },
	} {
		c := Default()
		f(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: %v", key, err)
		}
	}
	for name, want := range map[string]int{"quick": budgets["quick"], "full": Default().Steps} {
		if n, err := Budget(name); err != nil || n != want {
			t.Errorf("Budget(%s) = %d, %v", name, n, err)
		}
	}
	if _, err := Budget("huge"); err == nil || !strings.Contains(err.Error(), "full or quick") {
		t.Errorf("unknown budget: %v", err)
	}
}

// BenchmarkTrainStep times whole training steps of the default settings
// (default network, 16 patches of 48x48, AdamW, EMA) in each precision and
// reports samples/s.
func BenchmarkTrainStep(b *testing.B) { benchTrainStep(b, Default()) }

// BenchmarkTrainStepLarge is the EDSR-baseline size (64 features, 16
// blocks, 1.2M parameters), a stronger network for the bench.
func BenchmarkTrainStepLarge(b *testing.B) {
	cfg := Default()
	cfg.Model.NumFeat, cfg.Model.NumBlock = 64, 16
	benchTrainStep(b, cfg)
}

func benchTrainStep(b *testing.B, cfg Config) {
	for _, prec := range []gemm.Precision{gemm.FP32, gemm.BF16} {
		b.Run(prec.String(), func(b *testing.B) {
			pairs := makePairsSized(b, 256)
			cfg.Steps = 1 << 30
			tr := newTrainer(b, cfg, pairs, b.TempDir())
			defer gemm.SetPrecision(prec)()
			if _, _, err := tr.TrainStep(); err != nil { // loads the pairs
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, _, err := tr.TrainStep(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cfg.BatchSize*b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

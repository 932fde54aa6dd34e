package bfrtrain

import (
	"bytes"
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
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/models/bfrnet"
	"github.com/degradiff/degradiff/models/modeldir"
	"github.com/degradiff/degradiff/pairset/pairread"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
	"github.com/degradiff/degradiff/train/runfolder"
)

// faceLike renders a crude aligned "face" of size x size: a skin-coloured
// ellipse on a shaded background, two dark eyes near FFHQ's eye positions
// and a mouth, with position, size and colours jittered by seed.
func faceLike(size int, seed uint64) *raster.Image {
	r := rng.New(seed, "face")
	m := raster.New(3, size, size)
	bg := [3]float64{r.Uniform(0.1, 0.9), r.Uniform(0.1, 0.9), r.Uniform(0.1, 0.9)}
	skin := [3]float64{r.Uniform(0.6, 0.95), r.Uniform(0.4, 0.75), r.Uniform(0.3, 0.6)}
	cx, cy := 0.5+r.Uniform(-0.03, 0.03), 0.55+r.Uniform(-0.03, 0.03)
	rx, ry := r.Uniform(0.28, 0.34), r.Uniform(0.36, 0.42)
	eyeY, eyeR := 0.47+r.Uniform(-0.02, 0.02), r.Uniform(0.04, 0.06)
	mouthY, mouthW := 0.72+r.Uniform(-0.02, 0.02), r.Uniform(0.08, 0.14)
	s := float64(size)
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			u, v := (float64(x)+0.5)/s, (float64(y)+0.5)/s
			col := [3]float64{bg[0] * (0.7 + 0.3*v), bg[1] * (0.7 + 0.3*v), bg[2] * (0.7 + 0.3*v)}
			if d := (u-cx)*(u-cx)/(rx*rx) + (v-cy)*(v-cy)/(ry*ry); d < 1 {
				col = skin
				for _, ex := range []float64{0.375, 0.625} {
					if math.Hypot(u-ex, v-eyeY) < eyeR {
						col = [3]float64{0.1, 0.08, 0.05}
					}
				}
				if math.Abs(v-mouthY) < 0.02 && math.Abs(u-0.5) < mouthW {
					col = [3]float64{0.55, 0.15, 0.15}
				}
			}
			for c := 0; c < 3; c++ {
				m.Set(c, y, x, float32(col[c]))
			}
		}
	}
	return m
}

// degrade is a fixed GFPGAN-like degradation at scale 1: downscaled by 4
// (area) and enlarged back (bicubic), then 8-bit noise of a few levels.
func degrade(hq *raster.Image, seed uint64) *raster.Image {
	small := resize.OpenCV(hq, hq.H/4, hq.W/4, resize.InterArea)
	lq := resize.OpenCV(small, hq.H, hq.W, resize.InterCubic)
	r := rng.New(seed, "noise")
	for i := range lq.Pix {
		lq.Pix[i] += float32(r.Norm() * 4 / 255)
	}
	return lq.Clamp()
}

// makeFacePairs writes n face-like pairs of size x size as HR/ and LR/
// with the same names.
func makeFacePairs(t testing.TB, n, size int) string {
	t.Helper()
	dir := t.TempDir()
	for i := 0; i < n; i++ {
		hq := faceLike(size, uint64(i))
		name := string(rune('a'+i)) + ".png"
		for sub, m := range map[string]*raster.Image{"HR": hq, "LR": degrade(hq, uint64(i))} {
			p := filepath.Join(dir, sub, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := imageio.Save(p, m, imageio.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// tinyConfig trains a 4-channel network on 16x16 faces in steps of a few
// milliseconds.
func tinyConfig() Config {
	c := Default()
	c.Model.NumFeat, c.Model.ChannelMult, c.Model.LevelBlocks, c.Model.NumBlock = 4, []int{1, 2}, 1, 1
	c.Model.FaceSize, c.PatchSize = 16, 16
	c.BatchSize, c.Steps, c.WarmupSteps = 4, 6, 2
	c.CheckpointEvery, c.LogEvery = 3, 2
	return c
}

func open(t testing.TB, pairs string) *pairread.Set {
	t.Helper()
	data, err := pairread.Open(pairs, 1)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func newTrainer(t testing.TB, cfg Config, pairs, dir string) *Trainer {
	t.Helper()
	run, err := runfolder.Create(dir, cfg.KeepCheckpoints)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run.Close() })
	tr, err := New(cfg, run, open(t, pairs), nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// stopAt is a context that reports cancellation once its trainer has done
// n steps, as if Ctrl-C came during step n.
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

// modelFiles returns the weight files of a finished run's model/ folder.
func modelFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, f := range []string{modeldir.WeightsFile, modeldir.EMAFile, modeldir.ConfigFile} {
		b, err := os.ReadFile(filepath.Join(dir, ModelDir, f))
		if err != nil {
			t.Fatal(err)
		}
		out[f] = b
	}
	return out
}

func sameFiles(t *testing.T, what string, a, b map[string][]byte) {
	t.Helper()
	for f, x := range a {
		if !bytes.Equal(x, b[f]) {
			t.Errorf("%s: %s differs", what, f)
		}
	}
}

// losses returns the (step, loss) of each log.jsonl line (the timings
// differ between runs).
func losses(t *testing.T, dir string) [][2]float64 {
	t.Helper()
	var out [][2]float64
	err := (&runfolder.Run{Dir: dir}).ReadLog(func(line []byte) error {
		var l struct {
			Step int     `json:"step"`
			Loss float64 `json:"loss"`
		}
		if err := json.Unmarshal(line, &l); err != nil {
			return err
		}
		out = append(out, [2]float64{float64(l.Step), l.Loss})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// meanL1 returns the mean absolute difference between the restored LR
// faces of data (or the LR faces themselves, with m nil) and their HR
// faces.
func meanL1(t *testing.T, m *bfrnet.Model, data *pairread.Set) float64 {
	t.Helper()
	var s float64
	for i := range data.Pairs {
		hr, lr, err := data.Load(i)
		if err != nil {
			t.Fatal(err)
		}
		out := lr
		if m != nil {
			out = m.Predict(lr)
		}
		for j, v := range out.Pix {
			s += math.Abs(float64(v-hr.Pix[j])) / float64(len(out.Pix))
		}
	}
	return s / float64(data.Len())
}

func TestLossFalls(t *testing.T) {
	pairs := makeFacePairs(t, 6, 16)
	cfg := tinyConfig()
	cfg.Model.NumFeat = 8
	cfg.Steps, cfg.BatchSize, cfg.LR, cfg.WarmupSteps, cfg.LogEvery, cfg.CheckpointEvery = 300, 6, 3e-3, 10, 50, 300
	tr := newTrainer(t, cfg, pairs, t.TempDir())
	data := open(t, pairs)
	input, before := meanL1(t, nil, data), meanL1(t, tr.Model, data)
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := meanL1(t, tr.Model, data)
	ls := losses(t, tr.Folder.Dir)
	t.Logf("L1 to HR: LQ input %.4f, network before %.4f, after %.4f; log %v", input, before, after, ls)
	// The network starts near its input (out_init_scale 0.1) and learns to
	// undo the blur of these simple faces. (Measured: L1 0.0695 for the
	// input, 0.0701 untrained, 0.0406 after 300 steps.)
	if !(after < 0.8*input) || !(after < 0.8*before) {
		t.Errorf("L1 after training %.4f, want below 0.8 x the input's %.4f and the untrained network's %.4f", after, input, before)
	}
	if first, last := ls[0][1], ls[len(ls)-1][1]; !(last < 0.8*first) {
		t.Errorf("logged loss went from %.4f to %.4f, want a fall by a fifth", first, last)
	}
}

func TestResumeIsByteIdentical(t *testing.T) {
	pairs := makeFacePairs(t, 4, 16)
	cfg := tinyConfig()
	straight := newTrainer(t, cfg, pairs, t.TempDir())
	if err := straight.Run(context.Background()); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	first := newTrainer(t, cfg, pairs, dir)
	// Interrupted after step 5: between checkpoints (3 and 6), mid log
	// interval (4 to 6).
	if err := first.Run(&stopAt{Context: context.Background(), tr: first, n: 5}); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted run returned %v", err)
	}
	if modeldir.IsModelDir(filepath.Join(dir, ModelDir)) {
		t.Error("an interrupted run wrote the final model")
	}
	first.Folder.Close()

	second := newTrainer(t, cfg, pairs, dir)
	ck, err := second.Folder.Resolve("latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Resume(ck); err != nil || second.Step() != 5 {
		t.Fatalf("resume from %s: step %d, %v", ck, second.Step(), err)
	}
	if err := second.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	sameFiles(t, "straight vs resumed", modelFiles(t, straight.Folder.Dir), modelFiles(t, dir))
	if a, b := losses(t, straight.Folder.Dir), losses(t, dir); !reflect.DeepEqual(a, b) || len(a) != 3 {
		t.Errorf("logs differ:\nstraight %v\nresumed  %v", a, b)
	}
	// Another seed trains another model (the comparison can fail).
	cfg.Seed = 1
	other := newTrainer(t, cfg, pairs, t.TempDir())
	if err := other.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(modelFiles(t, other.Folder.Dir)[modeldir.WeightsFile], modelFiles(t, dir)[modeldir.WeightsFile]) {
		t.Error("seeds 0 and 1 trained the same weights")
	}
}

func TestIndependentOfCores(t *testing.T) {
	pairs := makeFacePairs(t, 4, 16)
	cfg := tinyConfig()
	cfg.Steps = 3
	var runs []map[string][]byte
	for _, procs := range []int{1, 2, 3} {
		old := runtime.GOMAXPROCS(procs)
		tr := newTrainer(t, cfg, pairs, t.TempDir())
		err := tr.Run(context.Background())
		runtime.GOMAXPROCS(old)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, modelFiles(t, tr.Folder.Dir))
	}
	sameFiles(t, "1 vs 2 cores", runs[0], runs[1])
	sameFiles(t, "1 vs 3 cores", runs[0], runs[2])
}

func TestConfig(t *testing.T) {
	c := Default()
	back, err := Config{}.ParseYAML(c.YAML())
	if err != nil || !reflect.DeepEqual(back, c) {
		t.Fatalf("YAML round trip: %v\n%+v\n%+v", err, back, c)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if c.PatchSize != c.Model.FaceSize || !c.RandomHFlip || c.RandomFlip || c.RandomRot90 {
		t.Errorf("defaults: patch_size %d (face_size %d), hflip %v, flip %v, rot90 %v", c.PatchSize, c.Model.FaceSize, c.RandomHFlip, c.RandomFlip, c.RandomRot90)
	}
	got, err := Default().ParseYAML([]byte("model:\n  num_feat: 16\nsteps: 10\nrandom_hflip: false\n"))
	if err != nil || got.Model.NumFeat != 16 || got.Model.NumBlock != c.Model.NumBlock || got.Steps != 10 || got.RandomHFlip {
		t.Errorf("partial YAML: %+v, %v", got, err)
	}
	// Bad values from a file are refused, naming the key.
	for yaml, key := range map[string]string{
		"learning_rate: 1e-3\nbatchsize: 4\n": "batchsize",
		"out_init_scale: .nan\n":              "out_init_scale",
		"model:\n  res_scale: .inf\n":         "res_scale",
	} {
		if _, err := Default().ParseYAML([]byte(yaml)); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%q: %v, want an error naming %s", yaml, err, key)
		}
	}
	nan, inf := math.NaN(), math.Inf(1)
	for _, tc := range []struct {
		key string
		set func(*Config)
	}{
		{"out_init_scale", func(c *Config) { c.OutInitScale = nan }},
		{"out_init_scale", func(c *Config) { c.OutInitScale = -0.1 }},
		{"out_init_scale", func(c *Config) { c.OutInitScale = inf }},
		{"model: bfrnet: res_scale", func(c *Config) { c.Model.ResScale = nan }},
		{"model: bfrnet: res_scale", func(c *Config) { c.Model.ResScale = 0 }},
		{"model: bfrnet: num_feat", func(c *Config) { c.Model.NumFeat = 0 }},
		{"model: bfrnet: num_block", func(c *Config) { c.Model.NumBlock = -1 }},
		{"model: bfrnet: in_channels", func(c *Config) { c.Model.InChannels = 1 }},
		{"model: bfrnet: face_size", func(c *Config) { c.Model.FaceSize = 0 }},
		{"model: bfrnet: face_size", func(c *Config) { c.Model.FaceSize = 126 }},
		{"patch_size", func(c *Config) { c.PatchSize = 0 }},
		{"patch_size", func(c *Config) { c.PatchSize = -8 }},
		{"patch_size", func(c *Config) { c.PatchSize = 62 }},  // not a multiple of 4
		{"patch_size", func(c *Config) { c.PatchSize = 256 }}, // larger than face_size
		{"steps", func(c *Config) { c.Steps = 0 }},
		{"batch_size", func(c *Config) { c.BatchSize = 0 }},
		{"batch_size", func(c *Config) { c.BatchSize = -1 }},
		{"loss", func(c *Config) { c.Loss = "l2" }},
		{"charbonnier_eps", func(c *Config) { c.Loss, c.CharbonnierEps = "charbonnier", 0 }},
		{"charbonnier_eps", func(c *Config) { c.Loss, c.CharbonnierEps = "charbonnier", nan }},
		{"learning_rate", func(c *Config) { c.LR = 0 }},
		{"learning_rate", func(c *Config) { c.LR = -1e-3 }},
		{"learning_rate", func(c *Config) { c.LR = nan }},
		{"warmup_steps", func(c *Config) { c.WarmupSteps = -1 }},
		{"adam_beta1", func(c *Config) { c.AdamBeta1 = nan }},
		{"adam_beta2", func(c *Config) { c.AdamBeta2 = 1 }},
		{"adam_epsilon", func(c *Config) { c.AdamEps = 0 }},
		{"weight_decay", func(c *Config) { c.WeightDecay = nan }},
		{"max_grad_norm", func(c *Config) { c.MaxGradNorm = -1 }},
		{"ema_max_decay", func(c *Config) { c.EMAMaxDecay = nan }},
		{"ema_power", func(c *Config) { c.EMAPower = 0 }},
		{"lr_schedule", func(c *Config) { c.LRSchedule = "step" }},
		{"checkpoint_every", func(c *Config) { c.CheckpointEvery = 0 }},
		{"keep_checkpoints", func(c *Config) { c.KeepCheckpoints = -1 }},
		{"log_every", func(c *Config) { c.LogEvery = 0 }},
	} {
		c := Default()
		tc.set(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: %v, want an error naming it", tc.key, err)
		}
	}
}

func TestNewChecks(t *testing.T) {
	pairs := makeFacePairs(t, 2, 16)
	run, err := runfolder.Create(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	data := open(t, pairs)
	// Faces of another size than model.face_size are refused, naming the
	// file and the way out.
	cfg := tinyConfig()
	cfg.Model.FaceSize, cfg.PatchSize = 32, 32
	if _, err := New(cfg, run, data, nil); err == nil || !strings.Contains(err.Error(), filepath.Join(pairs, "LR")) ||
		!strings.Contains(err.Error(), "faces align --size 32") {
		t.Errorf("16-pixel faces for a 32-pixel model: %v", err)
	}
	// Pairs opened at another scale than 1.
	x2 := pairread.Set{Dir: pairs, Scale: 2, Pairs: data.Pairs}
	if _, err := New(tinyConfig(), run, &x2, nil); err == nil || !strings.Contains(err.Error(), "scale 2") {
		t.Errorf("pairs at scale 2: %v", err)
	}
	// A bad config is refused before anything else.
	cfg = tinyConfig()
	cfg.Steps = 0
	if _, err := New(cfg, run, data, nil); err == nil || !strings.Contains(err.Error(), "steps") {
		t.Errorf("steps 0: %v", err)
	}
	// out_init_scale scales PyTorch's initialisation of conv_last only.
	for _, scale := range []float64{1, 0.1, 0} {
		cfg := tinyConfig()
		cfg.OutInitScale = scale
		tr, err := New(cfg, run, data, nil)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := bfrnet.New(cfg.Model, rng.New(cfg.Seed, "init"))
		for i, p := range tr.Model.Params() {
			for j, v := range p.Value.Data {
				w := ref.Params()[i].Value.Data[j]
				if strings.HasPrefix(p.Name, "conv_last.") {
					w *= float32(scale)
				}
				if v != w {
					t.Fatalf("out_init_scale %v: %s[%d] = %v, want %v", scale, p.Name, j, v, w)
				}
			}
		}
	}
}

func TestLoadModel(t *testing.T) {
	pairs := makeFacePairs(t, 2, 16)
	cfg := tinyConfig()
	cfg.Steps, cfg.CheckpointEvery = 4, 2
	dir := t.TempDir()
	tr := newTrainer(t, cfg, pairs, dir)
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := func(w modeldir.Weights) [][]float32 {
		m, _, err := bfrnet.Load(filepath.Join(dir, ModelDir), w)
		if err != nil {
			t.Fatal(err)
		}
		var out [][]float32
		for _, p := range m.Params() {
			out = append(out, p.Value.Data)
		}
		return out
	}
	raw, ema := want(modeldir.RawWeights), want(modeldir.EMAWeights)
	if reflect.DeepEqual(raw, ema) {
		t.Fatal("the averaged weights equal the trained ones")
	}
	ck := tr.Folder.CheckpointPath(4)
	for _, tc := range []struct {
		path, src string
		w         modeldir.Weights
		want      [][]float32
	}{
		{dir, modeldir.EMAFile, modeldir.AutoWeights, ema},
		{filepath.Join(dir, ModelDir), modeldir.WeightsFile, modeldir.RawWeights, raw},
		{ck, "ema weights, step 4", modeldir.AutoWeights, ema},
		{ck, "model weights, step 4", modeldir.RawWeights, raw},
	} {
		m, src, err := LoadModel(tc.path, tc.w)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		var got [][]float32
		for _, p := range m.Params() {
			got = append(got, p.Value.Data)
		}
		if !strings.Contains(src, tc.src) || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("LoadModel(%s, %d): from %s, weights differ: %v", tc.path, tc.w, src, !reflect.DeepEqual(got, tc.want))
		}
	}
	if _, _, err := LoadModel(t.TempDir(), modeldir.AutoWeights); err == nil || !strings.Contains(err.Error(), "neither a model folder") {
		t.Errorf("empty folder: %v", err)
	}
}

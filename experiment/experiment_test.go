package experiment

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/degradiff/degradiff/calibrate"
	"github.com/degradiff/degradiff/degrade/noise"
	"github.com/degradiff/degradiff/degrade/resize"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/atomicfile"
	"github.com/degradiff/degradiff/internal/report"
	"github.com/degradiff/degradiff/internal/yamlconf"
	"github.com/degradiff/degradiff/measure"
	"github.com/degradiff/degradiff/models/unet"
	"github.com/degradiff/degradiff/pairset"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
	"github.com/degradiff/degradiff/samples"
	"github.com/degradiff/degradiff/train/ddpm"
)

// scene renders generated image i at h x w.
func scene(t testing.TB, i, h, w int) *raster.Image {
	t.Helper()
	m, err := samples.Render(samples.Names[i%len(samples.Names)], h, w, uint64(i))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func save(t testing.TB, p string, m *raster.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := imageio.Save(p, m, imageio.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
}

// inputs are generated folders for a tiny experiment.
type inputs struct {
	hq, realLQ, test, model string
}

// makeInputs writes: HQ images; "real" LQ images, other scenes through a
// fixed degradation (area x4 downscale and Gaussian noise of sigma 8); a
// RealSR-style test folder of bicubic x4 pairs, Canon_001 of which is not
// a test pair; and a diffusers pipeline folder with a small random UNet.
func makeInputs(t testing.TB) inputs {
	t.Helper()
	root := t.TempDir()
	in := inputs{
		hq: filepath.Join(root, "hq"), realLQ: filepath.Join(root, "real"),
		test: filepath.Join(root, "RealSR"), model: filepath.Join(root, "model"),
	}
	for i := 0; i < 3; i++ {
		save(t, filepath.Join(in.hq, fmt.Sprintf("hq%d.png", i)), scene(t, i, 160, 192))
	}
	for i := 0; i < 6; i++ {
		m := resize.Interpolate(scene(t, 10+i, 192, 192), 48, 48, resize.Area)
		m = noise.AddGaussian(m, noise.GaussianParams{Sigma: 8, Clip: true, Rounds: true}, rng.New(uint64(i), "real"))
		save(t, filepath.Join(in.realLQ, fmt.Sprintf("real%d.png", i)), m)
	}
	for i, n := range []string{"Canon_001", "Canon_041", "Canon_042", "Nikon_041"} {
		hr := scene(t, 20+i, 128, 128)
		save(t, filepath.Join(in.test, "HR", n+".png"), hr)
		save(t, filepath.Join(in.test, "LR", n+".png"), resize.Interpolate(hr, 32, 32, resize.Bicubic).Clamp())
	}
	m, err := unet.New(unet.TinyConfig(), rng.New(1, "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	if err := unet.Save(in.model, m, "F32"); err != nil {
		t.Fatal(err)
	}
	if err := unet.WritePipeline(in.model, ddpm.SchedulerConfig(ddpm.Default())); err != nil {
		t.Fatal(err)
	}
	return in
}

// tinyConfig is the tiny budget on the inputs.
func tinyConfig(t testing.TB, in inputs) Config {
	t.Helper()
	c, err := Default("tiny")
	if err != nil {
		t.Fatal(err)
	}
	c.HQ, c.RealLQ, c.Test, c.Model = []string{in.hq}, in.realLQ, in.test, in.model
	c.TestInclude = []string{"Canon_04*", "Nikon_04*"}
	c.Workers = 2
	return c
}

// cancelOn is a log that cancels a context once text is written after
// the text after.
type cancelOn struct {
	mu          sync.Mutex
	buf         bytes.Buffer
	after, text string
	cancel      context.CancelFunc
}

func (w *cancelOn) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.cancel != nil {
		s := w.buf.String()
		if i := strings.Index(s, w.after); i >= 0 && strings.Contains(s[i:], w.text) {
			w.cancel()
		}
	}
	return len(p), nil
}

func (w *cancelOn) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func pixels(t *testing.T, p string) *raster.Image {
	t.Helper()
	m, _, err := imageio.Load(p, imageio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameImage(a, b *raster.Image) bool {
	if !raster.SameSize(a, b) {
		return false
	}
	for i := range a.Pix {
		if a.Pix[i] != b.Pix[i] {
			return false
		}
	}
	return true
}

func TestTinyExperiment(t *testing.T) {
	if testing.Short() {
		t.Skip("trains five networks")
	}
	in := makeInputs(t)
	cfg := tinyConfig(t, in)
	out := filepath.Join(t.TempDir(), "bench")

	// Interrupted while the diffusion model is adapted, as by Ctrl-C: it
	// stops after its first step.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := &cancelOn{after: "bench: adapt ...", text: "bench: adapt: fine-tuning", cancel: cancel}
	if _, err := Run(ctx, cfg, out, log); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("run interrupted in adapt: %v, want ErrInterrupted\n%s", err, log)
	}
	if exists(filepath.Join(out, AdaptDir, AdaptRecord)) || !exists(filepath.Join(out, AdaptDir, "checkpoints", "step-00000001")) ||
		exists(filepath.Join(out, PairsDir, Method)) {
		t.Fatalf("the interrupted adaptation left no checkpoint, or finished:\n%s", log)
	}

	// Interrupted in the middle of a training run: after official's
	// first training step. The adaptation resumes and finishes first.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	log = &cancelOn{after: "bench: sr/official ...", text: "sr train: 1/", cancel: cancel}
	if _, err := Run(ctx, cfg, out, log); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted run: %v, want ErrInterrupted\n%s", err, log)
	}
	if exists(filepath.Join(out, SRDir, Official, "model")) || !exists(filepath.Join(out, SRDir, Official, "checkpoints", "step-00000001")) {
		t.Fatalf("the interrupted training left no checkpoint, or finished:\n%s", log)
	}
	if s := log.String(); !strings.Contains(s, "bench: adapt: resumed from") || !strings.Contains(s, "bench: adapt: done in") {
		t.Errorf("the adaptation did not resume and finish:\n%s", s)
	}

	// The rerun resumes.
	log = &cancelOn{}
	res, err := Run(context.Background(), cfg, out, log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	first := log.String()
	for _, want := range []string{"bench: crops: done earlier", "bench: adapt: done earlier", "bench: pairs/official+ddpm: done earlier", "bench: sr/bicubic: done earlier",
		"bench: test/bicubic: done earlier", // tested as soon as it was trained
		"bench: sr/official: resumed from", "bench: sr/bsrgan ...", "bench: test/official ..."} {
		if !strings.Contains(first, want) {
			t.Errorf("resumed run: log lacks %q:\n%s", want, first)
		}
	}
	checkAdapted(t, in, cfg, out, res)

	var crops CropList
	if err := atomicfile.ReadJSON(filepath.Join(out, CropsFile), &crops); err != nil {
		t.Fatal(err)
	}
	// 160x192 images in 128-pixel crops every 64 (and flush with the
	// border): 2 x 2 per image, a random 4 of the 12 kept.
	if len(crops.Crops) != 4 || crops.Total != 12 || res.HQCrops != 4 {
		t.Errorf("crops: %d of %d, results %d; want 4 of 12", len(crops.Crops), crops.Total, res.HQCrops)
	}
	for _, s := range cfg.Sources {
		dir := filepath.Join(out, PairsDir, s)
		meta, err := os.ReadFile(filepath.Join(dir, pairset.MetaFile))
		if err != nil || strings.Count(string(meta), "\n") != 4 {
			t.Errorf("%s: meta_info.txt: %v\n%s", s, err, meta)
		}
		for _, c := range crops.Crops {
			if lr := pixels(t, filepath.Join(dir, "LR", c.Name+"_00.png")); lr.W != 32 || lr.H != 32 {
				t.Errorf("%s: %s is %dx%d, want 32x32", s, c.Name, lr.W, lr.H)
			}
		}
		var g measure.Report
		if err := atomicfile.ReadJSON(filepath.Join(out, GapDir, s+".json"), &g); err != nil {
			t.Errorf("%s: gap: %v", s, err)
		} else if g.Real.Images != 6 || g.Synth.Images != 4 || !(g.KID.Subsets > 0) || g.C2ST == nil {
			t.Errorf("%s: gap report %+v", s, g)
		}
		if !exists(filepath.Join(out, SRDir, s, "model", "model.safetensors")) || !exists(filepath.Join(out, SRDir, s, "log.jsonl")) {
			t.Errorf("%s: no finished SR run", s)
		}
	}
	// Official and the method share the initial LQ image of every pair;
	// the diffusion step changes it.
	changed := 0
	for _, c := range crops.Crops {
		init := pixels(t, filepath.Join(out, PairsDir, Method, pairset.InitDir, c.Name+"_00.png"))
		if !sameImage(init, pixels(t, filepath.Join(out, PairsDir, Official, "LR", c.Name+"_00.png"))) {
			t.Errorf("%s: the method's LR_init differs from official's LR", c.Name)
		}
		if !sameImage(init, pixels(t, filepath.Join(out, PairsDir, Method, "LR", c.Name+"_00.png"))) {
			changed++
		}
	}
	if changed == 0 {
		t.Error("the diffusion step changed no LQ image")
	}
	man, _ := os.ReadFile(filepath.Join(out, PairsDir, Official, pairset.Manifest))
	if !strings.Contains(string(man), `"crop":[`) || !strings.Contains(string(man), `"preset":"official"`) {
		t.Errorf("official manifest: %.300s", man)
	}

	// Results: a row per source and the reference, every test pair but
	// Canon_001 scored.
	if len(res.Rows) != 6 || res.Rows[5].Source != Upscale || res.TestPairs != 3 || res.RealLQImages != 6 {
		t.Fatalf("results: %d rows, %d test pairs, %d real LQ", len(res.Rows), res.TestPairs, res.RealLQImages)
	}
	for _, row := range res.Rows {
		if len(row.Images) != 3 || row.Images[0].Name != "Canon_041" || !(row.PSNR > 10 && row.PSNR < 60) || !(row.SSIM > 0 && row.SSIM <= 1) {
			t.Errorf("%s: PSNR %v SSIM %v on %v", row.Source, row.PSNR, row.SSIM, row.Images)
		}
		if (row.Gap == nil) != (row.Source == Upscale) {
			t.Errorf("%s: gap %v", row.Source, row.Gap)
		}
	}
	if res.Model == nil || res.Model.Name == "" || len(res.Model.SHA256) != 64 {
		t.Errorf("model %+v", res.Model)
	}
	for _, f := range []string{ReportMD, ReportHTML, ResultsFile, CurvesPNG, SamplesPNG, StagesFile, ConfigFile} {
		if !exists(filepath.Join(out, f)) {
			t.Errorf("no %s", f)
		}
	}
	md, _ := os.ReadFile(filepath.Join(out, ReportMD))
	for _, want := range []string{"| official+ddpm |", "bicubic upsampling (no network)", "![Samples](samples.png)", "Canon_042", "| sr/bsrgan |", "degradiff sr test --model"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	page, _ := os.ReadFile(filepath.Join(out, ReportHTML))
	if !bytes.Contains(page, []byte(`<img alt="Training curves" src="data:image/png;base64,`)) || !bytes.Contains(page, []byte("<td>official+ddpm</td>")) {
		t.Error("report.html lacks the embedded plot or the table")
	}
	var saved Results
	if err := atomicfile.ReadJSON(filepath.Join(out, ResultsFile), &saved); err != nil || len(saved.Rows) != 6 {
		t.Errorf("results.json: %v", err)
	} else if sr, _ := saved.Config["sr"].(map[string]any); sr == nil || sr["patch_size"] != 16.0 {
		t.Errorf("results.json config: %v", saved.Config)
	}
	samplesPNG := pixels(t, filepath.Join(out, SamplesPNG))
	if samplesPNG.W < 7*128 || samplesPNG.H < 3*128 {
		t.Errorf("samples.png is %dx%d, want 3 rows of 8 images of 128 pixels", samplesPNG.W, samplesPNG.H)
	}

	// A third run redoes nothing but the report, and a lost stage output
	// is remade alone: the adapted model, lost after the last checkpoint
	// (as by a crash), is exported again from it, the same.
	stages, _ := os.ReadFile(filepath.Join(out, StagesFile))
	os.Remove(filepath.Join(out, TestDir, Bicubic+".json"))
	os.Remove(filepath.Join(out, AdaptDir, AdaptRecord))
	os.RemoveAll(filepath.Join(out, AdaptDir, AdaptModelDir))
	log = &cancelOn{}
	res2, err := Run(context.Background(), cfg, out, log)
	if err != nil {
		t.Fatal(err)
	}
	ran := []string{}
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.HasSuffix(l, " ...") {
			ran = append(ran, l)
		}
	}
	if strings.Join(ran, "|") != "bench: adapt ...|bench: test/bicubic ...|bench: report ..." || strings.Count(log.String(), "done earlier") != 1+5*3+5 ||
		!strings.Contains(log.String(), "bench: adapt: resumed from "+filepath.Join(out, AdaptDir, "checkpoints", "step-00000003")) {
		t.Errorf("third run ran %q:\n%s", ran, log)
	}
	if res2.Rows[0].PSNR != res.Rows[0].PSNR {
		t.Errorf("redone test: PSNR %v, was %v", res2.Rows[0].PSNR, res.Rows[0].PSNR)
	}
	if res2.Adapt == nil || !reflect.DeepEqual(*res2.Adapt, *res.Adapt) {
		t.Errorf("adapted model exported again: %+v, was %+v", res2.Adapt, res.Adapt)
	}
	var before, after []StageTime
	json.Unmarshal(stages, &before)
	b2, _ := os.ReadFile(filepath.Join(out, StagesFile))
	json.Unmarshal(b2, &after)
	for i := range before {
		if n := before[i].Name; n != "report" && n != "test/bicubic" && n != AdaptDir && before[i] != after[i] {
			t.Errorf("stage %s: time changed from %+v to %+v", n, before[i], after[i])
		}
	}

	// Fewer sources reuse the folder; other settings are refused.
	cfg.Sources = []string{Method, Bicubic}
	res3, err := Run(context.Background(), cfg, out, nil)
	if err != nil || len(res3.Rows) != 3 || res3.Rows[0].Source != Bicubic {
		t.Errorf("subset of sources: %v, %+v", err, res3)
	}
	for _, tc := range []struct {
		change func(c *Config)
		want   string
	}{
		{func(c *Config) { c.Seed = 5 }, "seed"},
		{func(c *Config) { c.Adapt.LearningRate = 2e-4 }, "adapt.learning_rate"},
		{func(c *Config) { c.Adapt.Steps = 0 }, "adapt.steps"},
	} {
		c := cfg
		tc.change(&c)
		if _, err := Run(context.Background(), c, out, nil); err == nil || !strings.Contains(err.Error(), "other settings ("+tc.want+" differ") {
			t.Errorf("other %s in the same folder: %v", tc.want, err)
		}
	}
}

// checkAdapted checks the adapted diffusion model of a finished tiny
// experiment: its folder loads, the Method's pairs were made with it, and
// the report and results describe it. The same adaptation without
// interruption gives the same weights.
func checkAdapted(t *testing.T, in inputs, cfg Config, out string, res *Results) {
	t.Helper()
	var rec Adapted
	if err := atomicfile.ReadJSON(filepath.Join(out, AdaptDir, AdaptRecord), &rec); err != nil {
		t.Fatal(err)
	}
	base, err := unet.Load(in.model)
	if err != nil {
		t.Fatal(err)
	}
	m, err := unet.Load(filepath.Join(out, AdaptDir, AdaptModelDir))
	if err != nil {
		t.Fatalf("the adapted model does not load: %v", err)
	}
	if rec.Base.Name != "model" || rec.Base.SHA256 != base.Source.SHA256 || rec.Model.Name != "model+adapt" ||
		rec.Model.SHA256 != m.Source.SHA256 || rec.Model.SHA256 == rec.Base.SHA256 || rec.Steps != 3 || rec.Images != 6 || len(rec.Skipped) != 0 ||
		!(rec.FinalLoss > 0) {
		t.Errorf("adapted.json %+v; base sha256 %s, adapted weights' %s", rec, base.Source.SHA256, m.Source.SHA256)
	}
	if !bytes.Equal(m.Source.SchedulerConfig, ddpm.SchedulerConfig(ddpm.Default())) || m.Config().BlockOutChannels[0] != base.Config().BlockOutChannels[0] {
		t.Errorf("adapted model: scheduler %s, config %+v", m.Source.SchedulerConfig, m.Config())
	}
	curve, err := adaptCurve(filepath.Join(out, AdaptDir))
	if err != nil || len(curve) != 3 || curve[0].Step != 1 || curve[2].Step != 3 {
		t.Errorf("adapt log: %v %+v", err, curve)
	}
	if got := manifestModel(filepath.Join(out, PairsDir, Method)); got == nil || *got != rec.Model {
		t.Errorf("the method's pairs name the model %+v, want %+v", got, rec.Model)
	}
	if res.Model == nil || *res.Model != rec.Model || res.Adapt == nil || res.Adapt.Model != rec.Model {
		t.Errorf("results: model %+v, adapt %+v", res.Model, res.Adapt)
	}
	md, _ := os.ReadFile(filepath.Join(out, ReportMD))
	for _, want := range []string{
		"| model adaptation | model (sha256 " + base.Source.SHA256 + ") fine-tuned on the 6 real LQ images: 3 steps of 2 crops of 16x16, AdamW learning rate 0.0001 (cosine, 1-step warm-up)",
		"| diffusion model (official+ddpm) | model+adapt (sha256 " + rec.Model.SHA256 + ") |",
		"![Diffusion model adaptation](adapt.png)", "| adapt |",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if p := pixels(t, filepath.Join(out, AdaptPNG)); p.W != 800 {
		t.Errorf("adapt.png is %dx%d", p.W, p.H)
	}

	// Without interruption: the same weights (the run stops before the
	// pairs).
	once := filepath.Join(t.TempDir(), "once")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := cfg
	c.Sources = []string{Method}
	log := &cancelOn{after: "bench: adapt ...", text: "bench: adapt: done", cancel: cancel}
	if _, err := Run(ctx, c, once, log); !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), "before pairs/official+ddpm") {
		t.Fatalf("adapt only: %v\n%s", err, log)
	}
	var again Adapted
	if err := atomicfile.ReadJSON(filepath.Join(once, AdaptDir, AdaptRecord), &again); err != nil || again.Model != rec.Model {
		t.Errorf("uninterrupted adaptation: %v, model %+v, want %+v", err, again.Model, rec.Model)
	}
}

func TestErrors(t *testing.T) {
	in := makeInputs(t)
	empty := t.TempDir()
	small := t.TempDir()
	save(t, filepath.Join(small, "a.png"), scene(t, 0, 64, 64))
	noHR := t.TempDir()
	save(t, filepath.Join(noHR, "LR", "a.png"), scene(t, 0, 32, 32))
	unmatched := t.TempDir()
	save(t, filepath.Join(unmatched, "HR", "a.png"), scene(t, 0, 128, 128))
	save(t, filepath.Join(unmatched, "LR", "b.png"), scene(t, 0, 32, 32))
	wrongScale := t.TempDir()
	save(t, filepath.Join(wrongScale, "HR", "a.png"), scene(t, 0, 128, 128))
	save(t, filepath.Join(wrongScale, "LR", "a.png"), scene(t, 0, 64, 64))

	tests := []struct {
		name   string
		change func(c *Config)
		out    string
		want   string
	}{
		{"no HQ", func(c *Config) { c.HQ = nil }, "", "--hq: at least one"},
		{"missing HQ", func(c *Config) { c.HQ = []string{filepath.Join(empty, "none")} }, "", "--hq " + filepath.Join(empty, "none")},
		{"empty HQ", func(c *Config) { c.HQ = []string{empty} }, "", "no images found"},
		{"small HQ", func(c *Config) { c.HQ = []string{small} }, "", "no image is at least 128x128 pixels"},
		{"test without HR", func(c *Config) { c.Test = noHR }, "", "has no HR/ folder"},
		{"unmatched test", func(c *Config) { c.Test, c.TestInclude = unmatched, nil }, "", "have no HR file of the same name: b.png"},
		{"wrong scale", func(c *Config) { c.Test, c.TestInclude = wrongScale, nil }, "", "fit scale 2"},
		{"no test pair selected", func(c *Config) { c.TestInclude = []string{"Sony_*"} }, "", "no pair's HR name matches"},
		{"unknown source", func(c *Config) { c.Sources = []string{"bicubic", "jpeg"} }, "", `--sources: unknown source "jpeg"`},
		{"repeated source", func(c *Config) { c.Sources = []string{"bicubic", "bicubic"} }, "", "given twice"},
		{"empty real LQ", func(c *Config) { c.RealLQ = empty }, "", "--real-lq " + empty + ": no images found"},
		{"all real LQ excluded", func(c *Config) { c.RealLQExclude = []string{"real*"} }, "", "none of its 6 images"},
		{"test leak", func(c *Config) { c.RealLQ = filepath.Join(in.test, "LR") }, "", "is the LR image of test pair Canon_041"},
		{"HQ leak", func(c *Config) { c.HQ = []string{filepath.Join(in.test, "HR")} }, "", "is the HR image of test pair"},
		{"out in input", func(c *Config) {}, filepath.Join(in.hq, "bench"), "is inside the input folder --hq"},
		{"bad model", func(c *Config) { c.Model, c.Sources = empty, []string{Method} }, "", "--model"},
		{"crop", func(c *Config) { c.Crop = 130 }, "", "crop: 130 must be a positive multiple of the scale 4"},
		{"patch", func(c *Config) { c.SR.PatchSize = 40 }, "", "sr.patch_size: 40 is larger than the LR crops (32"},
		{"glob", func(c *Config) { c.TestInclude = []string{"["} }, "", "test_include: bad name pattern"},
		{"adapt steps", func(c *Config) { c.Adapt.Steps = -1 }, "", "adapt.steps: -1 must not be negative"},
		{"adapt resolution", func(c *Config) { c.Adapt.Resolution = 12 }, "", "adapt.resolution: 12 must be a positive multiple of 8"},
		{"adapt warm-up", func(c *Config) { c.Adapt.WarmupSteps = 5 }, "", "adapt.warmup_steps: 5 must be in 0..adapt.steps (3)"},
		{"adapt rate", func(c *Config) { c.Adapt.LearningRate = 0 }, "", "adapt.learning_rate: 0 must be positive"},
		{"real without pairs", func(c *Config) { c.Sources = []string{Official, Real} }, "", "--real-pairs: the source real needs"},
		{"real pairs are test pairs", func(c *Config) { c.Sources, c.RealPairs = []string{Real}, in.test }, "", "is an image of test pair Canon_041"},
		{"seeds", func(c *Config) { c.SRSeeds = 21 }, "", "sr_seeds: 21 is outside 0..20"},
		{"refine", func(c *Config) { c.Synth.Refine = "chroma" }, "", `synth.refine: "chroma" is not rgb or luma`},
		{"tail steps", func(c *Config) { c.Synth.TailSteps = -2 }, "", "synth.tail_steps: -2 is outside 0..1000"},
		{"tail steps, sampler", func(c *Config) { c.Synth.Sampler, c.Synth.TailSteps = "unipc", 4 }, "", "synth.tail_steps: 4 needs the ddim sampler, not unipc"},
		{"synth steps", func(c *Config) { c.Synth.Steps = 0 }, "", "synth.steps: 0 is outside 1..1000"},
		{"adapt batch", func(c *Config) { c.Adapt.BatchSize = 0 }, "", "adapt.batch_size: 0 must be at least 1"},
		{"adapt on small images", func(c *Config) { c.Adapt.Resolution = 128 }, "",
			"--real-lq " + in.realLQ + ": none of the 6 images is at least 64 pixels on a side, too small to adapt the diffusion model on crops of 128 (adapt.resolution)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tinyConfig(t, in)
			tc.change(&c)
			out := tc.out
			if out == "" {
				out = t.TempDir()
			}
			_, err := Run(context.Background(), c, out, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	if _, err := Default("huge"); err == nil || !strings.Contains(err.Error(), "tiny, quick, full") {
		t.Errorf("unknown budget: %v", err)
	}
	f := filepath.Join(t.TempDir(), "bench.yaml")
	os.WriteFile(f, []byte("budget: tiny\nseed: 7\nsr:\n  steps: 3\ngap:\n  skip_c2st: true\n"), 0o644)
	c, err := Load("", f)
	if err != nil {
		t.Fatal(err)
	}
	if c.Budget != "tiny" || c.Seed != 7 || c.SR.Steps != 3 || c.SR.PatchSize != 16 || !c.Gap.SkipC2ST || c.Crop != 128 {
		t.Errorf("loaded %+v", c)
	}
	// The flag's budget wins over the file's.
	if c, err := Load("full", f); err != nil || c.Budget != "full" || c.SR.PatchSize != 48 || c.SR.Steps != 3 {
		t.Errorf("Load(full): %v %+v", err, c.SR)
	}
	os.WriteFile(f, []byte("sr:\n  stepz: 3\n"), 0o644)
	if _, err := Load("", f); err == nil || !strings.Contains(err.Error(), "stepz") {
		t.Errorf("unknown key: %v", err)
	}
	// The YAML round trip keeps every setting.
	q, _ := Default("quick")
	back, err := Config{}.ParseYAML(q.YAML())
	if err != nil || !bytes.Equal(back.YAML(), q.YAML()) {
		t.Errorf("round trip: %v", err)
	}
}

func TestHelpers(t *testing.T) {
	tests := []struct {
		n, k int
		want string
	}{
		{10, 4, "[0 2 5 7]"}, {3, 4, "[0 1 2]"}, {5, 0, "[]"}, {1, 1, "[0]"},
	}
	for _, tc := range tests {
		if got := fmt.Sprint(sampleIndices(tc.n, tc.k)); got != tc.want {
			t.Errorf("sampleIndices(%d, %d) = %s, want %s", tc.n, tc.k, got, tc.want)
		}
	}
	for _, tc := range []struct{ h, w, y, x, size int }{
		{512, 512, 192, 192, 128}, {128, 128, 0, 0, 128}, {130, 200, 0, 36, 128}, {50, 90, 0, 20, 48},
	} {
		if y, x, s := displayBox(tc.h, tc.w, 4); y != tc.y || x != tc.x || s != tc.size {
			t.Errorf("displayBox(%d, %d) = %d %d %d, want %d %d %d", tc.h, tc.w, y, x, s, tc.y, tc.x, tc.size)
		}
	}
	if got := fmt.Sprint(hqPrefixes([]string{"/a/Set5", "/b/Set5", "/c/x y"})); got != "[Set5/ Set5_2/ x_y/]" {
		t.Errorf("hqPrefixes: %s", got)
	}
	if got := fmt.Sprint(hqPrefixes([]string{"/a/Set5"})); got != "[]" {
		t.Errorf("hqPrefixes of one folder: %s", got)
	}
	if got := report.ShellQuote("a b'c") + " " + report.ShellQuote("/x/y_1,z"); got != `'a b'\''c' /x/y_1,z` {
		t.Errorf("shellQuote: %s", got)
	}
	if got := fmt.Sprint(ordered([]string{Method, Bicubic, Official})); got != "[bicubic official official+ddpm]" {
		t.Errorf("ordered: %s", got)
	}
}

func TestDifferingKeys(t *testing.T) {
	a := []byte("seed: 1\nsr:\n  steps: 3\n  model:\n    scale: 4\nhq: [a]\n")
	b := []byte("seed: 1\nsr:\n  steps: 4\n  model:\n    scale: 4\n  new: 1\nhq: [b]\n")
	if got := strings.Join(yamlconf.DifferingKeys(a, b), ","); got != "hq,sr.new,sr.steps" {
		t.Errorf("differingKeys = %s", got)
	}
}

// TestRealSourceAndSeeds trains official and real with two seeds each: the
// real source learns from the training pair Canon_001 of the test folder,
// and the report compares every source with official over seeds.
func TestRealSourceAndSeeds(t *testing.T) {
	if testing.Short() {
		t.Skip("trains four networks")
	}
	in := makeInputs(t)
	cfg := tinyConfig(t, in)
	cfg.Sources = []string{Real, Official}
	cfg.RealPairs, cfg.RealPairsInclude = in.test, []string{"Canon_001"}
	cfg.Gap.SkipC2ST = true
	out := filepath.Join(t.TempDir(), "bench")
	// One seed first, then a second in the same folder: the finished
	// networks of seed 0 are kept, not trained again.
	cfg.SRSeeds = 1
	if _, err := Run(context.Background(), cfg, out, nil); err != nil {
		t.Fatal(err)
	}
	cfg.SRSeeds = 2
	log := &strings.Builder{}
	res, err := Run(context.Background(), cfg, out, log)
	if err != nil {
		t.Fatal(err)
	}
	for _, stage := range []string{"sr/real", "sr/official"} {
		if !strings.Contains(log.String(), "bench: "+stage+": done earlier") {
			t.Errorf("more seeds trained %s again:\n%s", stage, log)
		}
	}
	if len(res.Rows) != 3 || res.Rows[0].Source != Official || res.Rows[1].Source != Real || res.Rows[2].Source != Upscale {
		t.Fatalf("rows %+v, want official, real, upscale", res.Rows)
	}
	off, real := res.Rows[0], res.Rows[1]
	if len(off.Seeds) != 2 || off.Seeds[0].Seed != cfg.Seed || off.Seeds[1].Seed != cfg.Seed+1 {
		t.Errorf("official seeds %+v, want two, from the experiment's seed", off.Seeds)
	}
	if off.Seeds[0].PSNR == off.Seeds[1].PSNR {
		t.Errorf("both seeds give PSNR %v: the seed does not reach the training", off.Seeds[0].PSNR)
	}
	if m := (off.Seeds[0].PSNR + off.Seeds[1].PSNR) / 2; math.Abs(m-off.PSNR) > 1e-9 || off.PSNRStd <= 0 {
		t.Errorf("official PSNR %v ± %v, want the mean of %+v", off.PSNR, off.PSNRStd, off.Seeds)
	}
	if real.Gap != nil || exists(filepath.Join(out, PairsDir, Real)) {
		t.Error("the real source has synthetic pairs or a gap")
	}
	c := real.VsOfficial
	if c == nil || c.SeedCI == nil || math.Abs(c.Delta-(real.PSNR-off.PSNR)) > 1e-12 || !(c.SeedCI[0] < c.Delta && c.Delta < c.SeedCI[1]) {
		t.Errorf("real against official %+v", c)
	}
	if real.GapClosed != nil {
		t.Errorf("real closes %v of its own gap: the fraction is only for synthetic sources", *real.GapClosed)
	}
	if f := gapClosed(Row{PSNR: 26.5}, off, Row{PSNR: off.PSNR + 2, VsOfficial: &Comparison{Significant: true}}); f == nil || math.Abs(*f-(26.5-off.PSNR)/2) > 1e-12 {
		t.Errorf("gapClosed %v", f)
	}
	for _, f := range []string{"sr/real/model", "sr/real.seed1/model", "sr/official.seed1/model", "test/official.seed1.json"} {
		if !exists(filepath.Join(out, filepath.FromSlash(f))) {
			t.Errorf("%s missing", f)
		}
	}
	md, err := os.ReadFile(filepath.Join(out, ReportMD))
	if err != nil || !strings.Contains(string(md), "## Against official") || !strings.Contains(string(md), "95% CI over seeds") {
		t.Errorf("report lacks the comparison with official (%v)", err)
	}

	// Validation pairs added to the finished run: only their stages run,
	// and Real is not validated on Canon_001, which it trained on.
	cfg.Val, cfg.ValInclude = in.test, []string{"Canon_001"}
	log.Reset()
	if res, err = Run(context.Background(), cfg, out, log); err != nil {
		t.Fatal(err)
	}
	if ran := regexp.MustCompile(`(?m)^bench: (sr|test)/\S+ \.\.\.$`).FindString(log.String()); ran != "" {
		t.Errorf("adding validation ran %q again:\n%s", ran, log)
	}
	off, real = res.Rows[0], res.Rows[1]
	if res.ValPairs != 1 || off.Val == nil || len(off.Val.Seeds) != 2 || res.Rows[2].Val == nil || real.Val != nil || !res.ValRealLeftOut || exists(filepath.Join(out, ValDir, Real+".json")) {
		t.Fatalf("validation on the real pairs: %d pairs, official %+v, real %+v, upscale %+v", res.ValPairs, off.Val, real.Val, res.Rows[2].Val)
	}
	log.Reset()
	if _, err = Run(context.Background(), cfg, out, log); err != nil || !strings.Contains(log.String(), "bench: val/official.seed1: done earlier") {
		t.Errorf("a rerun validated again (%v):\n%s", err, log)
	}
	// Other validation pairs are refused until the old results go.
	cfg.Val, cfg.ValInclude = filepath.Join(t.TempDir(), "val"), nil
	for i, n := range []string{"Sony_001", "Sony_002"} {
		hr := scene(t, 40+i, 128, 128)
		save(t, filepath.Join(cfg.Val, "HR", n+".png"), hr)
		save(t, filepath.Join(cfg.Val, "LR", n+".png"), resize.Interpolate(hr, 32, 32, resize.Bicubic).Clamp())
	}
	if _, err := Run(context.Background(), cfg, out, nil); err == nil || !strings.Contains(err.Error(), "other validation pairs") {
		t.Fatalf("changed validation pairs: error %v", err)
	}
	// Once the results are gone, the old list of pairs alone is replaced.
	old, _ := filepath.Glob(filepath.Join(out, ValDir, "*.json"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if res, err = Run(context.Background(), cfg, out, nil); err != nil {
		t.Fatal(err)
	}
	off, real = res.Rows[0], res.Rows[1]
	if res.ValPairs != 2 || off.Val == nil || real.Val == nil || len(real.Val.Images) != 2 || res.ValRealLeftOut {
		t.Fatalf("validation: %d pairs, official %+v, real %+v", res.ValPairs, off.Val, real.Val)
	}
	if c := real.Val.VsOfficial; c == nil || c.Images != 2 || math.Abs(c.Delta-(real.Val.PSNR-off.Val.PSNR)) > 1e-12 {
		t.Errorf("real against official on the validation pairs: %+v", c)
	}
	for _, f := range []string{"val/official.json", "val/official.seed1.json", "val/real.seed1.json", "val/" + Upscale + ".json"} {
		if !exists(filepath.Join(out, filepath.FromSlash(f))) {
			t.Errorf("%s missing", f)
		}
	}
	if md, err := os.ReadFile(filepath.Join(out, ReportMD)); err != nil || !strings.Contains(string(md), "## Validation pairs") {
		t.Errorf("report lacks the validation section (%v)", err)
	}
	var table strings.Builder
	if err := res.WriteTable(&table); err != nil || !strings.Contains(table.String(), "On the 2 validation pairs:") {
		t.Errorf("the table lacks the validation results (%v):\n%s", err, table.String())
	}
	// Validation HR images among the HQ images would be trained on.
	leak := cfg
	leak.HQ = append([]string{filepath.Join(cfg.Val, "HR")}, cfg.HQ...)
	if _, err := Run(context.Background(), leak, filepath.Join(t.TempDir(), "leak"), nil); err == nil || !strings.Contains(err.Error(), "validation pair Sony_001") {
		t.Errorf("validation HR images among the HQ images: error %v", err)
	}
	// Test pairs are no validation pairs.
	bad := cfg
	bad.Val = in.test
	if _, err := Run(context.Background(), bad, out, nil); err == nil || !strings.Contains(err.Error(), "--val-exclude") {
		t.Errorf("test pairs as validation pairs: error %v", err)
	}
}

// makeReal16 writes 16 real LQ images of 48x48, enough for calibrate to
// hold 4 out.
func makeReal16(t *testing.T) string {
	real := filepath.Join(t.TempDir(), "real16")
	for i := 0; i < 16; i++ {
		save(t, filepath.Join(real, fmt.Sprintf("real%02d.png", i)), resize.Interpolate(scene(t, 30+i, 192, 192), 48, 48, resize.Area))
	}
	return real
}

// TestCalibratedSources fits the calibration in the bench (16 real LQ
// images: calibrate holds 4 out) and checks that calibrated+ddpm starts
// from calibrated's LQ images; then a given --calibration file replaces
// the stage, and its LQ images are the file's degradation.
func TestCalibratedSources(t *testing.T) {
	if testing.Short() {
		t.Skip("trains networks")
	}
	in := makeInputs(t)
	cfg := tinyConfig(t, in)
	cfg.RealLQ = makeReal16(t)
	cfg.Sources = []string{CalibratedMethod, Calibrated}
	cfg.Gap.SkipC2ST = true
	out := filepath.Join(t.TempDir(), "bench")
	var log bytes.Buffer
	res, err := Run(context.Background(), cfg, out, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if len(res.Rows) != 3 || res.Rows[0].Source != Calibrated || res.Rows[1].Source != CalibratedMethod {
		t.Fatalf("rows %+v, want calibrated, calibrated+ddpm, upscale", res.Rows)
	}
	for _, f := range []string{"calibrate/config.yaml", "calibrate/report.md", "calibrate/evals.jsonl", "adapt/model"} {
		if !exists(filepath.Join(out, filepath.FromSlash(f))) {
			t.Errorf("%s missing", f)
		}
	}
	crops, err := readCrops(filepath.Join(out, CropsFile))
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	for _, c := range crops.Crops {
		init := pixels(t, filepath.Join(out, PairsDir, CalibratedMethod, pairset.InitDir, c.Name+"_00.png"))
		if !sameImage(init, pixels(t, filepath.Join(out, PairsDir, Calibrated, "LR", c.Name+"_00.png"))) {
			t.Errorf("%s: calibrated+ddpm's LR_init differs from calibrated's LR", c.Name)
		}
		if !sameImage(init, pixels(t, filepath.Join(out, PairsDir, CalibratedMethod, "LR", c.Name+"_00.png"))) {
			changed++
		}
	}
	if changed == 0 {
		t.Error("the diffusion step changed no calibrated LQ image")
	}
	md, err := os.ReadFile(filepath.Join(out, ReportMD))
	if err != nil || !strings.Contains(string(md), "fitted to the real LQ images by the stage calibrate") {
		t.Errorf("report does not describe the calibration (%v)", err)
	}
	// A rerun redoes nothing; the calibrate stage counts as done.
	log.Reset()
	if _, err := Run(context.Background(), cfg, out, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "bench: calibrate: done earlier, skipped") {
		t.Errorf("rerun log lacks the cached calibrate stage:\n%s", log.String())
	}

	// A given calibration: bicubic-only settings of the official preset
	// (no blur, noise, JPEG or sinc; resizes by area) are recognisable.
	file := filepath.Join(t.TempDir(), "cal.yaml")
	if err := os.WriteFile(file, []byte("preset: bicubic\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Calibration.Config = file
	cfg.Sources = []string{Calibrated, Bicubic}
	out2 := filepath.Join(t.TempDir(), "bench2")
	if _, err := Run(context.Background(), cfg, out2, nil); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(out2, CalibrateDir)) {
		t.Error("the calibrate stage ran although a calibration was given")
	}
	for _, c := range crops.Crops {
		a := pixels(t, filepath.Join(out2, PairsDir, Calibrated, "LR", c.Name+"_00.png"))
		if !sameImage(a, pixels(t, filepath.Join(out2, PairsDir, Bicubic, "LR", c.Name+"_00.png"))) {
			t.Errorf("%s: calibrated with the bicubic preset as its file differs from bicubic", c.Name)
		}
	}
	cfg.Calibration.Config = filepath.Join(t.TempDir(), "missing.yaml")
	if _, err := Run(context.Background(), cfg, filepath.Join(t.TempDir(), "bench3"), nil); err == nil || !strings.Contains(err.Error(), "--calibration") {
		t.Errorf("missing calibration file: %v, want an error naming --calibration", err)
	}
}

// TestCalibrationThroughStep: with calibration.through_step the bench
// adapts its model before the calibrate stage, even for the calibrated
// source alone, and fits through that model's step; a given calibration
// file with through_step is refused.
func TestCalibrationThroughStep(t *testing.T) {
	if testing.Short() {
		t.Skip("adapts a model and calibrates")
	}
	in := makeInputs(t)
	cfg := tinyConfig(t, in)
	cfg.RealLQ = makeReal16(t)
	cfg.Sources = []string{Calibrated}
	cfg.Gap.SkipC2ST = true
	cfg.Calibration.ThroughStep = true
	out := filepath.Join(t.TempDir(), "bench")
	var log bytes.Buffer
	if _, err := Run(context.Background(), cfg, out, &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	var adapted Adapted
	if err := atomicfile.ReadJSON(filepath.Join(out, AdaptDir, AdaptRecord), &adapted); err != nil {
		t.Fatalf("the model was not adapted before the fit: %v", err)
	}
	var settings calibrate.Settings
	if err := atomicfile.ReadJSON(filepath.Join(out, CalibrateDir, calibrate.SettingsFile), &settings); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("model %s (sha256 %.12s)", adapted.Model.Name, adapted.Model.SHA256); !strings.HasPrefix(settings.Step, want) {
		t.Errorf("the fit's step %q, want the adapted model's, %q", settings.Step, want)
	}
	if md, err := os.ReadFile(filepath.Join(out, ReportMD)); err != nil || !strings.Contains(string(md), "fitted through the diffusion step") {
		t.Errorf("the report does not say the fit went through the step (%v)", err)
	}
	cfg.Calibration.Config = filepath.Join(t.TempDir(), "given.yaml")
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "calibration.through_step") {
		t.Errorf("through_step with a given file: %v", err)
	}
}

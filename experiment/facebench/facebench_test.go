package facebench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/degradiff/degradiff/degrade/noise"
	"github.com/degradiff/degradiff/degrade/resize"
	"github.com/degradiff/degradiff/experiment"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/atomicfile"
	"github.com/degradiff/degradiff/internal/fixture"
	"github.com/degradiff/degradiff/measure/facemeasure"
	"github.com/degradiff/degradiff/models/unet"
	"github.com/degradiff/degradiff/pairset"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
	"github.com/degradiff/degradiff/train/ddpm"
)

// face draws a small frontal face, roughly at the place of an FFHQ-aligned
// crop, whose colours and proportions vary with i.
func face(i, size int) *raster.Image {
	r := rng.New(uint64(i), "test face")
	img := raster.New(3, size, size)
	bg := [3]float64{r.Uniform(0.1, 0.9), r.Uniform(0.1, 0.9), r.Uniform(0.1, 0.9)}
	skin := [3]float64{r.Uniform(0.6, 0.95), r.Uniform(0.45, 0.75), r.Uniform(0.35, 0.6)}
	hair := [3]float64{r.Uniform(0, 0.4), r.Uniform(0, 0.3), r.Uniform(0, 0.2)}
	s := float64(size)
	cx, cy := s/2, s*r.Uniform(0.52, 0.58)
	rx, ry := s*r.Uniform(0.26, 0.32), s*r.Uniform(0.34, 0.4)
	eyeY, eyeDX, eyeR := s*r.Uniform(0.44, 0.48), s*r.Uniform(0.11, 0.14), s*r.Uniform(0.03, 0.045)
	mouthY, mouthW := s*r.Uniform(0.7, 0.75), s*r.Uniform(0.08, 0.13)
	set := func(y, x int, c [3]float64) {
		for ch := 0; ch < 3; ch++ {
			img.Pix[(ch*size+y)*size+x] = float32(c[ch])
		}
	}
	in := func(x, y, ex, ey, ax, ay float64) bool {
		dx, dy := (x-ex)/ax, (y-ey)/ay
		return dx*dx+dy*dy <= 1
	}
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			fx, fy := float64(x)+0.5, float64(y)+0.5
			c := bg
			switch {
			case in(fx, fy, cx, cy-ry*0.35, rx*1.1, ry*0.8) && fy < cy-ry*0.3:
				c = hair
			case in(fx, fy, cx, cy, rx, ry):
				c = skin
				if in(fx, fy, cx-eyeDX, eyeY, eyeR*1.6, eyeR) || in(fx, fy, cx+eyeDX, eyeY, eyeR*1.6, eyeR) {
					c = [3]float64{0.1, 0.08, 0.08}
				}
				if in(fx, fy, cx, mouthY, mouthW, s*0.02) {
					c = [3]float64{0.6, 0.15, 0.2}
				}
				if in(fx, fy, cx, s*0.6, s*0.025, s*0.06) {
					c = [3]float64{skin[0] * 0.8, skin[1] * 0.8, skin[2] * 0.8}
				}
			}
			set(y, x, c)
		}
	}
	return img
}

func save(t testing.TB, p string, m *raster.Image) {
	t.Helper()
	if err := imageio.Save(p, m, imageio.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
}

// inputs are generated folders for a tiny face bench.
type inputs struct {
	hq, realLQ, model string
}

// makeInputs writes 12 HQ faces of 64 pixels (in two subfolders), 10
// "real" LQ faces (other faces, downscaled to 24 pixels with noise) and a
// diffusers pipeline folder with a small random UNet.
func makeInputs(t testing.TB) inputs {
	t.Helper()
	root := t.TempDir()
	in := inputs{hq: filepath.Join(root, "hq"), realLQ: filepath.Join(root, "real"), model: filepath.Join(root, "model")}
	for i := 0; i < 12; i++ {
		save(t, filepath.Join(in.hq, fmt.Sprintf("set%d", i%2), fmt.Sprintf("%05d.png", i)), face(i, 64))
	}
	for i := 0; i < 10; i++ {
		m := resize.Interpolate(face(100+i, 96), 24, 24, resize.Area)
		m = noise.AddGaussian(m, noise.GaussianParams{Sigma: 6, Clip: true, Rounds: true}, rng.New(uint64(i), "real"))
		save(t, filepath.Join(in.realLQ, fmt.Sprintf("lq%02d.png", i)), m)
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

var (
	faceOnce sync.Once
	faceNets *facemeasure.Measurer
	faceErr  error
)

// faceModels returns the face-api weights folder of ../shared, skipping
// the test when it is absent.
func faceModels(t *testing.T) (string, *facemeasure.Measurer) {
	t.Helper()
	root, _ := fixture.Root()
	dir := filepath.Join(root, "models", "face-api")
	if _, err := os.Stat(filepath.Join(dir, "face_recognition_model.bin")); err != nil {
		t.Skipf("face-api weights not found in %s (../shared/models/face-api, or $DEGRADIFF_SHARED/models/face-api): skipping, the face bench measures need them", dir)
	}
	faceOnce.Do(func() { faceNets, faceErr = facemeasure.Load(dir) })
	if faceErr != nil {
		t.Fatal(faceErr)
	}
	return dir, faceNets
}

// tinyConfig is the tiny budget on the inputs.
func tinyConfig(t testing.TB, in inputs, models string) Config {
	t.Helper()
	c, err := Default("tiny")
	if err != nil {
		t.Fatal(err)
	}
	c.HQ, c.RealLQ, c.Model, c.FaceModels = in.hq, in.realLQ, in.model, models
	c.HeldOut = 0.35
	c.Workers = 2
	return c
}

// lockedBuffer is a log written by several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestTinyBench(t *testing.T) {
	models, nets := faceModels(t)
	in := makeInputs(t)
	cfg := tinyConfig(t, in, models)
	out := filepath.Join(t.TempDir(), "bench")
	var log lockedBuffer
	res, err := Run(context.Background(), cfg, out, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}

	// The split: disjoint, within the caps, the held-out faces nowhere in
	// the training pairs.
	var split Split
	if err := atomicfile.ReadJSON(filepath.Join(out, SplitFile), &split); err != nil {
		t.Fatal(err)
	}
	if split.HQ.Found != 12 || len(split.HQ.Train)+len(split.HQ.HeldOut) > 12 || len(split.HQ.Train) > cfg.MaxFaces ||
		len(split.HQ.HeldOut) < 2 || len(split.HQ.HeldOut) > cfg.MaxHeldOut || len(split.RealLQ.HeldOut) < 2 {
		t.Fatalf("split: %d HQ found, %d train, %d held out; %d real LQ held out", split.HQ.Found, len(split.HQ.Train), len(split.HQ.HeldOut), len(split.RealLQ.HeldOut))
	}
	held := map[string]bool{}
	for _, f := range split.HQ.HeldOut {
		held[f.Name] = true
	}
	for _, f := range split.HQ.Train {
		if held[f.Name] {
			t.Errorf("%s is both a training and a held-out face", f.Name)
		}
	}
	for _, src := range Sources {
		for _, f := range split.HQ.HeldOut {
			if exists(filepath.Join(out, PairsDir, src, pairset.HRDir, f.Name+".png")) {
				t.Errorf("held-out face %s is among the %s training pairs", f.Name, src)
			}
		}
	}

	// Both sources share each pair's initial LQ face.
	n := 0
	for _, f := range split.HQ.Train {
		base := pairset.VariantName(f.Name, 0) + ".png"
		a, err := os.ReadFile(filepath.Join(out, PairsDir, Face, pairset.LRDir, base))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(out, PairsDir, FaceMethod, pairset.InitDir, base))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s: the initial LQ face of %s differs from the LQ face of %s", base, FaceMethod, Face)
		}
		lq, err := os.ReadFile(filepath.Join(out, PairsDir, FaceMethod, pairset.LRDir, base))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(a, lq) {
			t.Errorf("%s: %s's LQ face is its initial one: the diffusion step did nothing", base, FaceMethod)
		}
		m, _, err := imageio.Load(filepath.Join(out, PairsDir, Face, pairset.LRDir, base), imageio.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if m.W != cfg.faceSize() || m.H != cfg.faceSize() {
			t.Errorf("%s: LQ face %dx%d, want the face size %d (scale 1, resized back)", base, m.W, m.H, cfg.faceSize())
		}
		n++
	}
	if n == 0 {
		t.Fatal("no training pairs")
	}

	// The results: one row per source and the input row, with every
	// measure, and intervals over the 2 seeds.
	var got Results
	b, err := os.ReadFile(filepath.Join(out, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Rows) != 3 || got.Rows[0].Source != Face || got.Rows[1].Source != FaceMethod || got.Rows[2].Source != Input {
		t.Fatalf("rows %+v, want face, face+ddpm, input", got.Rows)
	}
	for _, row := range got.Rows[:2] {
		if len(row.Seeds) != 2 {
			t.Errorf("%s: seeds %v, want 2", row.Source, row.Seeds)
		}
		for _, m := range Measures {
			s, ok := row.Measures[m.Key]
			if !ok {
				t.Errorf("%s: no %s", row.Source, m.Key)
				continue
			}
			if len(s.Seeds) != 2 || s.CI == nil || !(s.CI[0] <= s.Mean && s.Mean <= s.CI[1]) || math.IsNaN(s.Mean) {
				t.Errorf("%s %s: %+v, want 2 seeds and an interval around the mean", row.Source, m.Key, s)
			}
		}
		id := row.Measures["identity_kept"].Mean
		if id < -1 || id > 1 {
			t.Errorf("%s: identity %g is not a cosine", row.Source, id)
		}
	}
	for _, m := range Measures {
		if _, ok := got.Rows[2].Measures[m.Key]; ok != m.Input {
			t.Errorf("input row: has %s %v, want %v", m.Key, ok, m.Input)
		}
	}
	if len(got.LQGap) != 2 || len(got.Comparisons) != 1 || got.Comparisons[0].Source != FaceMethod || got.Comparisons[0].Baseline != Face ||
		len(got.Comparisons[0].Differences) != len(Measures) {
		t.Fatalf("%d LQ gap rows and comparisons %+v, want 2 and face+ddpm against face on every measure", len(got.LQGap), got.Comparisons)
	}
	for _, d := range got.Comparisons[0].Differences {
		// Seeds that agree to the last digit on both sides (a saturated
		// classifier on these tiny sets) give no interval.
		a, b := got.Rows[1].Measures[d.Measure], got.Rows[0].Measures[d.Measure]
		_, sa := experiment.MeanStd(a.Seeds)
		_, sb := experiment.MeanStd(b.Seeds)
		if (d.CI == nil) != (sa == 0 && sb == 0) {
			t.Errorf("difference %s: interval %v with seeds %v and %v", d.Measure, d.CI, a.Seeds, b.Seeds)
		}
	}
	if got.Model == nil || got.Model.SHA256 == "" || !strings.Contains(got.HeldOutDegradation, "bsrgan") {
		t.Errorf("model %+v, held-out degradation %q", got.Model, got.HeldOutDegradation)
	}
	if res.Rows[1].Measures["psnr"].Mean != got.Rows[1].Measures["psnr"].Mean {
		t.Error("results.json differs from the returned results")
	}

	// The input row's identity to the HQ faces is that of the LQ faces.
	var input TestResult
	if err := atomicfile.ReadJSON(filepath.Join(out, TestDir, Input+".json"), &input); err != nil {
		t.Fatal(err)
	}
	p := input.Pairs[0]
	hr, _, err := imageio.Load(filepath.Join(out, HeldOutDir, pairset.HRDir, p.Name+".png"), imageio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lr, _, err := imageio.Load(filepath.Join(out, HeldOutDir, pairset.LRDir, pairset.VariantName(p.Name, 0)+".png"), imageio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := facemeasure.Score(nets.Face(lr), nets.Face(hr)); math.Abs(want.Identity-p.Identity) > 1e-9 {
		t.Errorf("input identity of %s: %g, want %g", p.Name, p.Identity, want.Identity)
	}

	md, err := os.ReadFile(filepath.Join(out, ReportMD))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Held-out real LQ faces", "## Held-out HQ faces with a degradation neither source trains on",
		"## face+ddpm against face", "## LQ training faces against held-out real LQ faces", "Held-out faces decide nothing",
		"bsrgan preset at scale 4", "| face |", "| face+ddpm |", "| input (no network) |", "| face+ddpm.seed1 |", "## Compute time"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if h, err := os.ReadFile(filepath.Join(out, ReportHTML)); err != nil || !bytes.Contains(h, []byte("<h2>Held-out real LQ faces</h2>")) {
		t.Errorf("report.html: %v", err)
	}
	var table bytes.Buffer
	if err := got.WriteTable(&table); err != nil || !strings.Contains(table.String(), "input (no network)") {
		t.Errorf("table: %v\n%s", err, table.String())
	}

	// A rerun skips every stage but the report, and gives the same results.
	log2 := &lockedBuffer{}
	cfg.Faces = nets
	res2, err := Run(context.Background(), cfg, out, log2)
	if err != nil {
		t.Fatalf("rerun: %v\n%s", err, log2.String())
	}
	for _, line := range strings.Split(log2.String(), "\n") {
		if strings.HasSuffix(line, " ...") && line != "bench: report ..." {
			t.Errorf("rerun redid a stage: %q", line)
		}
	}
	if k := strings.Count(log2.String(), "done earlier, skipped"); k != len(res2.Stages) {
		t.Errorf("rerun skipped %d stages, want all %d:\n%s", k, len(res2.Stages), log2.String())
	}
	for i := range res.Rows {
		for key, s := range res.Rows[i].Measures {
			if s2 := res2.Rows[i].Measures[key]; s2.Mean != s.Mean {
				t.Errorf("rerun: %s %s %g, was %g", res.Rows[i].Source, key, s2.Mean, s.Mean)
			}
		}
	}

	// Other settings in the same folder are refused, naming the key.
	cfg.Seed = 5
	if _, err := Run(context.Background(), cfg, out, nil); err == nil || !strings.Contains(err.Error(), "seed") {
		t.Errorf("rerun with another seed: %v, want a refusal naming seed", err)
	}
}

func TestValidate(t *testing.T) {
	base, err := Default("tiny")
	if err != nil {
		t.Fatal(err)
	}
	base.HQ, base.RealLQ, base.Model, base.FaceModels = "hq", "real", "model", "face-api"
	if err := base.Validate(); err != nil {
		t.Fatalf("tiny budget: %v", err)
	}
	for _, b := range Budgets {
		c, err := Default(b)
		if err != nil {
			t.Fatal(err)
		}
		c.HQ, c.RealLQ, c.Model, c.FaceModels = "hq", "real", "model", "face-api"
		if err := c.Validate(); err != nil {
			t.Errorf("budget %s: %v", b, err)
		}
	}
	if c, _ := Default("full"); c.Seeds < 3 {
		t.Errorf("full budget: %d seeds, want at least 3", c.Seeds)
	}
	for _, tc := range []struct {
		want string
		edit func(c *Config)
	}{
		{"--hq", func(c *Config) { c.HQ = "" }},
		{"--real-lq", func(c *Config) { c.RealLQ = "" }},
		{"--face-models", func(c *Config) { c.FaceModels = "" }},
		{"--model", func(c *Config) { c.Model = "" }},
		{"--sources", func(c *Config) { c.Sources = []string{"official"} }},
		{"--sources", func(c *Config) { c.Sources = []string{Face, Face} }},
		{"--sources", func(c *Config) { c.Sources = nil }},
		{"--calibration", func(c *Config) { c.Sources = []string{Calibrated} }},
		{"--model", func(c *Config) { c.Sources, c.Calibration, c.Model = []string{CalibratedMethod}, "cal.yaml", "" }},
		{"seeds", func(c *Config) { c.Seeds = 0 }},
		{"seeds", func(c *Config) { c.Seeds = 21 }},
		{"held_out", func(c *Config) { c.HeldOut = 0 }},
		{"held_out", func(c *Config) { c.HeldOut = 1 }},
		{"held_out", func(c *Config) { c.HeldOut = math.NaN() }},
		{"max_faces", func(c *Config) { c.MaxFaces = -1 }},
		{"max_held_out", func(c *Config) { c.MaxHeldOut = -1 }},
		{"per_image", func(c *Config) { c.PerImage = 0 }},
		{"synth.steps", func(c *Config) { c.Synth.Steps = 0 }},
		{"synth.max_strength", func(c *Config) { c.Synth.MaxStrength = 2 }},
		{"synth.refine", func(c *Config) { c.Synth.Refine = "chroma" }},
		{"held_out_degradation.preset", func(c *Config) { c.HeldOutDegradation.Preset = "face" }},
		{"held_out_degradation.preset", func(c *Config) { c.HeldOutDegradation.Preset = "nope" }},
		{"held_out_degradation.scale", func(c *Config) { c.HeldOutDegradation.Scale = 0 }},
		{"real_lq_include", func(c *Config) { c.RealLQInclude = []string{"["} }},
		{"bfr: model: bfrnet: face_size", func(c *Config) { c.BFR.Model.FaceSize, c.BFR.PatchSize = 31, 31 }},
		{"bfr: steps", func(c *Config) { c.BFR.Steps = 0 }},
		{"gap.features.patch_size", func(c *Config) { c.BFR.Model.FaceSize, c.BFR.PatchSize = 16, 16 }},
		{"gap: features", func(c *Config) { c.Gap.Features.PatchSize = 33 }},
	} {
		c := base
		c.Sources = append([]string(nil), base.Sources...)
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error starting with %q", tc.want, err, tc.want)
		}
	}
	// The source face alone needs no diffusion model.
	c := base
	c.Sources, c.Model = []string{Face}, ""
	if err := c.Validate(); err != nil {
		t.Errorf("face alone without --model: %v", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	os.WriteFile(p, []byte("budget: tiny\nseeds: 4\nbfr:\n  steps: 7\nheld_out_degradation:\n  preset: realesrgan\n"), 0o644)
	c, err := Load("", p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Budget != "tiny" || c.Seeds != 4 || c.BFR.Steps != 7 || c.BFR.Model.FaceSize != 32 || c.HeldOutDegradation.Preset != "realesrgan" || c.HeldOutDegradation.Scale != 4 {
		t.Errorf("loaded %+v", c)
	}
	os.WriteFile(p, []byte("seedz: 4\n"), 0o644)
	if _, err := Load("tiny", p); err == nil || !strings.Contains(err.Error(), "seedz") {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := Load("huge", ""); err == nil || !strings.Contains(err.Error(), "huge") {
		t.Errorf("unknown budget: %v", err)
	}
	// The YAML round trip keeps every setting.
	c2, err := c.ParseYAML(c.YAML())
	if err != nil || !bytes.Equal(c2.YAML(), c.YAML()) {
		t.Errorf("round trip: %v", err)
	}
}

func TestFaceModelsMissing(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"hq", "real"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	c, _ := Default("tiny")
	c.HQ, c.RealLQ, c.Sources = filepath.Join(root, "hq"), filepath.Join(root, "real"), []string{Face}
	out := filepath.Join(root, "out")
	if _, err := Run(context.Background(), c, out, nil); err == nil || !strings.HasPrefix(err.Error(), "--face-models") || !strings.Contains(err.Error(), "face-api") {
		t.Errorf("no --face-models: %v", err)
	}
	c.FaceModels = filepath.Join(root, "no-such-folder")
	if _, err := Run(context.Background(), c, out, nil); err == nil || !strings.HasPrefix(err.Error(), "--face-models "+c.FaceModels) {
		t.Errorf("missing --face-models folder: %v", err)
	}
	if exists(filepath.Join(out, ConfigFile)) {
		t.Error("a refused run wrote its settings")
	}
}

func TestSplitHash(t *testing.T) {
	// The split depends on the names and the key only, and holds out
	// about the fraction asked.
	held := 0
	for i := 0; i < 2000; i++ {
		if splitHash(0, "hq", fmt.Sprintf("face%04d", i)) < 0.2 {
			held++
		}
	}
	if held < 340 || held > 460 {
		t.Errorf("%d of 2000 held out at 0.2", held)
	}
	if splitHash(0, "hq", "a") != splitHash(0, "hq", "a") || splitHash(0, "hq", "a") == splitHash(1, "hq", "a") {
		t.Error("the hash is not a keyed function of the name")
	}
}

// cancelOn is a log that cancels a context once it has received text.
type cancelOn struct {
	lockedBuffer
	text   string
	cancel context.CancelFunc
}

func (w *cancelOn) Write(p []byte) (int, error) {
	n, err := w.lockedBuffer.Write(p)
	if strings.Contains(w.lockedBuffer.String(), w.text) {
		w.cancel()
	}
	return n, err
}

func TestInterruptResume(t *testing.T) {
	models, nets := faceModels(t)
	in := makeInputs(t)
	cfg := tinyConfig(t, in, models)
	cfg.Faces, cfg.Sources = nets, []string{Face}
	out := filepath.Join(t.TempDir(), "bench")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := &cancelOn{text: "bench: bfr/face: done", cancel: cancel}
	if _, err := Run(ctx, cfg, out, log); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("cancelled run: %v, want ErrInterrupted\n%s", err, log.String())
	}
	if exists(filepath.Join(out, ResultsFile)) {
		t.Fatal("an interrupted run wrote results")
	}
	var log2 lockedBuffer
	res, err := Run(context.Background(), cfg, out, &log2)
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, log2.String())
	}
	for _, stage := range []string{"split", "pairs/face", "gap/lq/face", "bfr/face"} {
		if !strings.Contains(log2.String(), "bench: "+stage+": done earlier, skipped") {
			t.Errorf("resume redid %s:\n%s", stage, log2.String())
		}
	}
	if !strings.Contains(log2.String(), "bench: bfr/face.seed1 ...") || len(res.Rows) != 2 {
		t.Errorf("resume: %d rows\n%s", len(res.Rows), log2.String())
	}
	// Sources added later run only their own stages; the calibration file
	// is outside the settings that must agree.
	cfg.Sources = Sources
	cfg.Calibration = filepath.Join(t.TempDir(), "cal.yaml")
	// A bad calibration file is refused before it is kept: the mended
	// file then runs.
	if err := os.WriteFile(cfg.Calibration, []byte("preset: face\nface:\n  blur_sigma: [3, 1]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), cfg, out, nil); err == nil || !strings.Contains(err.Error(), "--calibration") || exists(filepath.Join(out, CalibrationFile)) {
		t.Errorf("bad calibration: %v (kept: %v), want a refusal naming --calibration and nothing kept", err, exists(filepath.Join(out, CalibrationFile)))
	}
	// So is a degradation that is not a face one.
	if err := os.WriteFile(cfg.Calibration, []byte("preset: official\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), cfg, out, nil); err == nil || !strings.Contains(err.Error(), "the face bench needs a face one") || exists(filepath.Join(out, CalibrationFile)) {
		t.Errorf("official calibration: %v, want a refusal and nothing kept", err)
	}
	if err := os.WriteFile(cfg.Calibration, []byte(calibrationYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	var log3 lockedBuffer
	res, err = Run(context.Background(), cfg, out, &log3)
	if err != nil {
		t.Fatalf("added sources: %v\n%s", err, log3.String())
	}
	if strings.Contains(log3.String(), "bench: bfr/face ...") || !strings.Contains(log3.String(), "bench: pairs/face+ddpm ...") ||
		!strings.Contains(log3.String(), "bench: pairs/calibrated+ddpm ...") {
		t.Errorf("added sources:\n%s", log3.String())
	}
	var cmp [][2]string
	for _, c := range res.Comparisons {
		cmp = append(cmp, [2]string{c.Source, c.Baseline})
	}
	if !slices.Equal(cmp, Comparisons) {
		t.Errorf("comparisons %v, want %v", cmp, Comparisons)
	}
	// calibrated+ddpm refines calibrated's LQ faces, which are not face's.
	var split Split
	if err := atomicfile.ReadJSON(filepath.Join(out, SplitFile), &split); err != nil {
		t.Fatal(err)
	}
	for _, f := range split.HQ.Train {
		base := pairset.VariantName(f.Name, 0) + ".png"
		read := func(elem ...string) []byte {
			b, err := os.ReadFile(filepath.Join(append([]string{out, PairsDir}, elem...)...))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		cal := read(Calibrated, pairset.LRDir, base)
		if !bytes.Equal(cal, read(CalibratedMethod, pairset.InitDir, base)) {
			t.Errorf("%s: the initial LQ face of %s is not %s's LQ face", base, CalibratedMethod, Calibrated)
		}
		if bytes.Equal(cal, read(Face, pairset.LRDir, base)) {
			t.Errorf("%s: %s's LQ face is face's: the calibration file was not used", base, Calibrated)
		}
	}
	if b, err := os.ReadFile(filepath.Join(out, CalibrationFile)); err != nil || string(b) != calibrationYAML {
		t.Errorf("%s: %q, %v; want a copy of the calibration file", CalibrationFile, b, err)
	}
	// Another calibration into the same folder is refused.
	if err := os.WriteFile(cfg.Calibration, []byte(calibrationYAML+"  noise_range: [0, 3]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), cfg, out, nil); err == nil || !strings.Contains(err.Error(), "--calibration") {
		t.Errorf("another calibration: %v, want a refusal naming --calibration", err)
	}
}

// calibrationYAML is a face degradation milder than GFPGAN's, as degradiff
// calibrate --preset face might fit.
const calibrationYAML = `preset: face
face:
  blur_sigma: [0.1, 2]
  downsample_range: [1, 3]
`

// TestLoadCalibrationFallsBackOnFace: a calibration file of face: keys
// alone is read on top of the face preset, not degrade's default.
func TestLoadCalibrationFallsBackOnFace(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mild.yaml")
	if err := os.WriteFile(file, []byte("face:\n  blur_sigma: [0.1, 5]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := loadCalibration(file)
	if err != nil {
		t.Fatal(err)
	}
	if d.Type != "face" || d.Preset != "face" || d.Face.BlurSigma[1] != 5 {
		t.Errorf("loaded type %s, preset %s, blur sigma %v; want the face preset with the file's blur", d.Type, d.Preset, d.Face.BlurSigma)
	}
}

package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/degrade/resize"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/fixture"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// bfrMain runs the command line with the bfr command attached (whether or
// not root.go registers it) and returns the exit status and output.
func bfrMain(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	root := NewRoot(&out, &out)
	if c, _, err := root.Find([]string{"bfr"}); err != nil || c == root {
		root.AddCommand(newBFRCmd())
	}
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		out.WriteString("degradiff: " + err.Error() + "\n")
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code, out.String()
		}
		return 1, out.String()
	}
	return 0, out.String()
}

// bfrFace renders a crude aligned face of size x size (skin ellipse, eyes
// near FFHQ's positions, mouth) with colours jittered by seed.
func bfrFace(size int, seed uint64) *raster.Image {
	r := rng.New(seed, "face")
	bg := [3]float64{r.Uniform(0.1, 0.9), r.Uniform(0.1, 0.9), r.Uniform(0.1, 0.9)}
	skin := [3]float64{r.Uniform(0.6, 0.95), r.Uniform(0.4, 0.75), r.Uniform(0.3, 0.6)}
	m := raster.New(3, size, size)
	s := float64(size)
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			u, v := (float64(x)+0.5)/s, (float64(y)+0.5)/s
			col := bg
			if (u-0.5)*(u-0.5)/0.1+(v-0.55)*(v-0.55)/0.15 < 1 {
				col = skin
				if math.Hypot(u-0.375, v-0.47) < 0.05 || math.Hypot(u-0.625, v-0.47) < 0.05 {
					col = [3]float64{0.1, 0.08, 0.05}
				}
				if math.Abs(v-0.72) < 0.03 && math.Abs(u-0.5) < 0.1 {
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

// makeBFRPairs writes face pairs at scale 1 (same names in HR/ and LR/):
// generated faces and their blurred versions (area-downscaled by 4 and
// enlarged back).
func makeBFRPairs(t *testing.T, size int, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for i, n := range names {
		hq := bfrFace(size, uint64(i))
		lq := resize.OpenCV(resize.OpenCV(hq, size/4, size/4, resize.InterArea), size, size, resize.InterCubic).Clamp()
		for sub, m := range map[string]*raster.Image{"HR": hq, "LR": lq} {
			p := filepath.Join(dir, sub, n+".png")
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := imageio.Save(p, m, imageio.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// bfrTinyConfig writes the settings of a tiny network for 32-pixel faces.
func bfrTinyConfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bfr.yaml")
	cfg := "model:\n  num_feat: 4\n  channel_mult: [1, 2]\n  num_block: 1\n  face_size: 32\npatch_size: 32\nbatch_size: 2\nsteps: 4\ncheckpoint_every: 2\nlog_every: 1\nwarmup_steps: 1\n"
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func loadImage(t *testing.T, p string) *raster.Image {
	t.Helper()
	m, _, err := imageio.Load(p, imageio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// parseBFRReport decodes the JSON document of bfr test --json, which
// follows the progress lines in out.
func parseBFRReport(t *testing.T, out string) bfrReport {
	t.Helper()
	var rep bfrReport
	i := strings.Index(out, "{")
	if i < 0 {
		t.Fatalf("no JSON in\n%s", out)
	}
	dec := json.NewDecoder(strings.NewReader(out[i:]))
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("bfr test --json: %v\n%s", err, out)
	}
	return rep
}

// bfrTrainTiny trains the tiny network on pairs for 4 steps into a new run
// folder.
func bfrTrainTiny(t *testing.T, pairs string) string {
	t.Helper()
	run := filepath.Join(t.TempDir(), "run")
	if code, out := bfrMain(t, "bfr", "train", "--pairs", pairs, "--out", run, "--config", bfrTinyConfig(t)); code != 0 {
		t.Fatalf("bfr train: exit %d\n%s", code, out)
	}
	return run
}

func TestBFREndToEnd(t *testing.T) {
	pairs := makeBFRPairs(t, 32, "a", "b", "c", "d")
	cfgFile := bfrTinyConfig(t)
	run := filepath.Join(t.TempDir(), "run")

	code, out := bfrMain(t, "bfr", "train", "--pairs", pairs, "--out", run, "--config", cfgFile, "--exclude", "d")
	if code != 0 {
		t.Fatalf("bfr train: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "3 pairs") || !strings.Contains(out, "4 steps of 2 faces of 32x32") || !strings.Contains(out, "done, 4 steps") {
		t.Errorf("bfr train output:\n%s", out)
	}
	for _, f := range []string{"config.yaml", "inputs.json", "log.jsonl", "loss.png", "model/config.json", "model/model.safetensors", "model/model_ema.safetensors", "model/training.yaml", "checkpoints/step-00000004/state.json"} {
		if _, err := os.Stat(filepath.Join(run, f)); err != nil {
			t.Errorf("run folder lacks %s", f)
		}
	}
	// A second start over the same run is refused; --resume extends it.
	if code, out := bfrMain(t, "bfr", "train", "--pairs", pairs, "--out", run); code != 1 || !strings.Contains(out, "--resume latest") {
		t.Errorf("restart over a run: exit %d\n%s", code, out)
	}
	// Resuming on other data is refused: the run records its inputs.
	if code, out := bfrMain(t, "bfr", "train", "--pairs", pairs, "--out", run, "--resume", "latest", "--steps", "6"); code != 1 || !strings.Contains(out, "--exclude") || !strings.Contains(out, "keeps its data") {
		t.Errorf("resume without the run's --exclude: exit %d\n%s", code, out)
	}
	other := makeBFRPairs(t, 32, "a", "b", "c")
	if code, out := bfrMain(t, "bfr", "train", "--pairs", other, "--out", run, "--resume", "latest", "--steps", "6", "--exclude", "d"); code != 1 || !strings.Contains(out, "--pairs") || !strings.Contains(out, "keeps its data") {
		t.Errorf("resume on another --pairs folder: exit %d\n%s", code, out)
	}
	code, out = bfrMain(t, "bfr", "train", "--pairs", pairs, "--out", run, "--resume", "latest", "--steps", "6", "--exclude", "d")
	if code != 0 || !strings.Contains(out, "resumed from") || !strings.Contains(out, "at step 4") || !strings.Contains(out, "done, 6 steps") {
		t.Errorf("resume: exit %d\n%s", code, out)
	}

	// Test: a table, then JSON.
	code, out = bfrMain(t, "bfr", "test", "--model", run, "--pairs", pairs, "--baseline", "--include", "c,d")
	if code != 0 {
		t.Fatalf("bfr test: exit %d\n%s", code, out)
	}
	for _, want := range []string{"PSNR (Y)", "SSIM (Y)", "input PSNR", "input SSIM", "\n     c ", "\n     d ", "mean"} {
		if !strings.Contains(out, want) {
			t.Errorf("bfr test table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\n     a ") || strings.Contains(out, "identity") {
		t.Errorf("bfr test: an excluded pair, or face measures without --face-models:\n%s", out)
	}
	saved := t.TempDir()
	code, out = bfrMain(t, "bfr", "test", "--model", filepath.Join(run, "model"), "--pairs", pairs, "--json", "--rgb", "--save", saved)
	if code != 0 {
		t.Fatalf("bfr test --json: exit %d\n%s", code, out)
	}
	rep := parseBFRReport(t, out)
	if len(rep.Images) != 4 || rep.FaceSize != 32 || rep.TestY || rep.Reference != "" || rep.Mean.PSNR == nil || !(*rep.Mean.PSNR > 10) ||
		rep.Mean.SSIM == nil || !(*rep.Mean.SSIM > 0) || rep.Mean.InputPSNR != nil || rep.Mean.Face != nil || !strings.HasSuffix(rep.Model, "model_ema.safetensors") {
		t.Errorf("report %+v", rep)
	}
	var sum float64
	for _, r := range rep.Images {
		sum += float64(*r.PSNR)
	}
	if d := sum/4 - float64(*rep.Mean.PSNR); math.Abs(d) > 1e-9 {
		t.Errorf("mean PSNR %v is not the mean of the rows (off by %g)", *rep.Mean.PSNR, d)
	}
	if m := loadImage(t, filepath.Join(saved, "a.png")); m.W != 32 || m.H != 32 {
		t.Errorf("--save: a.png is %dx%d", m.W, m.H)
	}
	// Identical images have an infinite PSNR, which JSON gets as "inf".
	same := t.TempDir()
	for _, sub := range []string{"HR", "LR"} {
		os.MkdirAll(filepath.Join(same, sub), 0o755)
		b, _ := os.ReadFile(filepath.Join(pairs, "HR", "a.png"))
		os.WriteFile(filepath.Join(same, sub, "a.png"), b, 0o644)
	}
	code, out = bfrMain(t, "bfr", "test", "--model", run, "--pairs", same, "--json", "--baseline", "--weights", "raw")
	if code != 0 || !strings.Contains(out, `"input_psnr": "inf"`) {
		t.Fatalf("bfr test --json on identical images: exit %d\n%s", code, out)
	}
	if rep := parseBFRReport(t, out); rep.Mean.InputPSNR == nil || !math.IsInf(float64(*rep.Mean.InputPSNR), 1) || !strings.HasSuffix(rep.Model, "model.safetensors") {
		t.Errorf("identical images: report %+v", rep)
	}

	// Apply to a folder with a subfolder, a face of another size and an
	// unreadable file.
	in := t.TempDir()
	lq := loadImage(t, filepath.Join(pairs, "LR", "a.png"))
	os.MkdirAll(filepath.Join(in, "sub"), 0o755)
	imageio.Save(filepath.Join(in, "sub", "a.png"), lq, imageio.SaveOptions{})
	imageio.Save(filepath.Join(in, "big.png"), bfrFace(48, 7), imageio.SaveOptions{})
	os.WriteFile(filepath.Join(in, "broken.png"), []byte("not a png"), 0o644)
	outDir := filepath.Join(t.TempDir(), "restored")
	code, out = bfrMain(t, "bfr", "apply", "--model", run, "--in", in, "--out", outDir)
	if code != exitBadInputs || !strings.Contains(out, "broken.png") || !strings.Contains(out, "2 written") {
		t.Fatalf("bfr apply with a broken file: exit %d, want 2\n%s", code, out)
	}
	for _, name := range []string{"sub/a.png", "big.png"} {
		if m := loadImage(t, filepath.Join(outDir, name)); m.W != 32 || m.H != 32 {
			t.Errorf("%s: %dx%d, want the model's 32x32", name, m.W, m.H)
		}
	}
	// --skip-bad: exit 0, broken file still listed; a rerun skips what is
	// done, --overwrite redoes it (to the same bytes).
	before := digest(t, outDir)
	code, out = bfrMain(t, "bfr", "apply", "--model", run, "--in", in, "--out", outDir, "--skip-bad")
	if code != 0 || !strings.Contains(out, "0 written, 2 skipped") || !strings.Contains(out, "broken.png") {
		t.Errorf("rerun: exit %d\n%s", code, out)
	}
	code, out = bfrMain(t, "bfr", "apply", "--model", run, "--in", in, "--out", outDir, "--skip-bad", "--overwrite")
	if code != 0 || !strings.Contains(out, "2 written, 0 skipped") {
		t.Errorf("--overwrite: exit %d\n%s", code, out)
	}
	sameTree(t, before, digest(t, outDir))
	// --workers does not change the files; --keep-size writes each face at
	// its input size.
	two := filepath.Join(t.TempDir(), "two")
	if code, out := bfrMain(t, "bfr", "apply", "--model", run, "--in", in, "--out", two, "--skip-bad", "--workers", "2"); code != 0 {
		t.Fatalf("--workers 2: exit %d\n%s", code, out)
	}
	sameTree(t, before, digest(t, two))
	kept := filepath.Join(t.TempDir(), "kept")
	if code, out := bfrMain(t, "bfr", "apply", "--model", run, "--in", in, "--out", kept, "--skip-bad", "--keep-size"); code != 0 {
		t.Fatalf("--keep-size: exit %d\n%s", code, out)
	}
	if m := loadImage(t, filepath.Join(kept, "big.png")); m.W != 48 || m.H != 48 {
		t.Errorf("--keep-size: big.png is %dx%d, want 48x48", m.W, m.H)
	}
	a, _ := os.ReadFile(filepath.Join(kept, "sub", "a.png"))
	b, _ := os.ReadFile(filepath.Join(outDir, "sub", "a.png"))
	if !bytes.Equal(a, b) {
		t.Error("--keep-size changed a face that already had the model's size")
	}
}

func TestBFRFaceMeasures(t *testing.T) {
	models := fixture.Dir(t, "models", "face-api")
	pairs := makeBFRPairs(t, 32, "a", "b")
	run := bfrTrainTiny(t, pairs)

	code, out := bfrMain(t, "bfr", "test", "--model", run, "--pairs", pairs, "--face-models", models, "--baseline", "--json")
	if code != 0 {
		t.Fatalf("bfr test --face-models: exit %d\n%s", code, out)
	}
	rep := parseBFRReport(t, out)
	if rep.Reference != "ground truth" || len(rep.Images) != 2 || rep.Mean.Face == nil || rep.Mean.InputFace == nil {
		t.Fatalf("report %+v", rep)
	}
	for _, r := range rep.Images {
		for _, s := range []struct {
			what string
			id   float64
			lmd  float64
		}{{"restored", r.Face.Identity, r.Face.LandmarkDistance}, {"input", r.InputFace.Identity, r.InputFace.LandmarkDistance}} {
			if !(s.id >= -1 && s.id <= 1) || !(s.lmd >= 0 && s.lmd < 1) {
				t.Errorf("%s %s: identity %v, landmark distance %v", r.Name, s.what, s.id, s.lmd)
			}
		}
	}
	code, out = bfrMain(t, "bfr", "test", "--model", run, "--pairs", pairs, "--face-models", models)
	if code != 0 || !strings.Contains(out, "identity vs GT") || !strings.Contains(out, "landmarks vs GT") || !strings.Contains(out, "cosine similarity") {
		t.Errorf("table with face measures: exit %d\n%s", code, out)
	}

	// Real LQ faces without ground truth: compared with their input; an
	// unreadable file is listed and gives exit status 2 unless --skip-bad.
	lq := t.TempDir()
	for _, n := range []string{"a", "b"} {
		b, _ := os.ReadFile(filepath.Join(pairs, "LR", n+".png"))
		os.WriteFile(filepath.Join(lq, n+".png"), b, 0o644)
	}
	os.WriteFile(filepath.Join(lq, "broken.png"), []byte("not a png"), 0o644)
	saved := filepath.Join(t.TempDir(), "saved")
	code, out = bfrMain(t, "bfr", "test", "--model", run, "--lq", lq, "--face-models", models, "--save", saved)
	if code != exitBadInputs || !strings.Contains(out, "broken.png") || !strings.Contains(out, "identity vs input") {
		t.Errorf("--lq with a broken file: exit %d, want 2\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(saved, "b.png")); err != nil {
		t.Errorf("--save with --lq: %v", err)
	}
	code, out = bfrMain(t, "bfr", "test", "--model", run, "--lq", lq, "--face-models", models, "--skip-bad", "--json")
	if code != 0 {
		t.Fatalf("--lq --skip-bad: exit %d\n%s", code, out)
	}
	rep = parseBFRReport(t, out)
	if rep.Reference != "input" || len(rep.Images) != 2 || len(rep.Failed) != 1 || rep.Mean.PSNR != nil || rep.Mean.Face == nil {
		t.Errorf("--lq report %+v", rep)
	}
}

func TestBFRErrors(t *testing.T) {
	pairs := makeBFRPairs(t, 32, "a")
	run := bfrTrainTiny(t, pairs)
	big := makeBFRPairs(t, 64, "a")
	badCfg := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(badCfg, []byte("learning_rate: -1\n"), 0o644)
	nanCfg := filepath.Join(t.TempDir(), "nan.yaml")
	os.WriteFile(nanCfg, []byte("out_init_scale: .nan\n"), 0o644)
	faceModels := t.TempDir() // no networks in it
	out := func() string { return filepath.Join(t.TempDir(), "out") }

	for _, tc := range []struct {
		args []string
		want string
	}{
		// train
		{[]string{"bfr", "train", "--out", out()}, "--pairs and --out are required"},
		{[]string{"bfr", "train", "--pairs", pairs}, "--pairs and --out are required"},
		{[]string{"bfr", "train", "--pairs", pairs, "--out", filepath.Join(pairs, "run")}, "--out " + filepath.Join(pairs, "run") + " is inside --pairs"},
		{[]string{"bfr", "train", "--pairs", pairs, "--out", pairs}, "is the same folder as --pairs"},
		{[]string{"bfr", "train", "--pairs", big, "--out", out()}, "not model.face_size 128x128"},
		{[]string{"bfr", "train", "--pairs", pairs, "--out", out(), "--config", badCfg}, "learning_rate: -1 must be positive"},
		{[]string{"bfr", "train", "--pairs", pairs, "--out", out(), "--config", nanCfg}, "out_init_scale"},
		{[]string{"bfr", "train", "--pairs", pairs, "--out", out(), "--steps", "0"}, "steps: 0"},
		{[]string{"bfr", "train", "--pairs", pairs, "--out", out(), "--resume", "latest"}, "config.yaml not found"},
		{[]string{"bfr", "train", "--pairs", pairs, "--out", run, "--resume", "latest", "--seed", "3"}, "--seed cannot change on --resume"},
		{[]string{"bfr", "train", "--pairs", pairs, "--out", out(), "--include", "x["}, "--include"},
		// test
		{[]string{"bfr", "test", "--model", run}, "--pairs or --lq is required"},
		{[]string{"bfr", "test", "--pairs", pairs}, "--model is required"},
		{[]string{"bfr", "test", "--model", run, "--pairs", pairs, "--lq", pairs}, "exclude each other"},
		{[]string{"bfr", "test", "--model", run, "--lq", pairs}, "--lq needs --face-models"},
		{[]string{"bfr", "test", "--model", run, "--lq", pairs, "--face-models", faceModels, "--baseline"}, "--baseline needs --pairs"},
		{[]string{"bfr", "test", "--model", run, "--lq", pairs, "--face-models", faceModels}, "--face-models " + faceModels},
		{[]string{"bfr", "test", "--model", run, "--pairs", pairs, "--save", filepath.Join(pairs, "saved")}, "is inside --pairs"},
		{[]string{"bfr", "test", "--model", t.TempDir(), "--pairs", pairs}, "neither a model folder"},
		{[]string{"bfr", "test", "--model", run, "--pairs", pairs, "--weights", "best"}, "--weights"},
		// apply
		{[]string{"bfr", "apply", "--model", run, "--out", out()}, "--in and --out are required"},
		{[]string{"bfr", "apply", "--model", run, "--in", pairs}, "--in and --out are required"},
		{[]string{"bfr", "apply", "--in", pairs, "--out", out()}, "--model is required"},
		{[]string{"bfr", "apply", "--model", run, "--in", pairs, "--out", filepath.Join(pairs, "x")}, "is inside --in"},
		{[]string{"bfr", "apply", "--model", run, "--in", pairs, "--out", out(), "--workers", "0"}, "--workers: 0"},
		{[]string{"bfr", "apply", "--model", run, "--in", pairs, "--out", out(), "--precision", "fp16"}, "--precision: unknown precision \"fp16\""},
		{[]string{"bfr", "test", "--model", run, "--pairs", pairs, "--precision", "BF16"}, "--precision"},
	} {
		code, text := bfrMain(t, tc.args...)
		if code != exitFailure || !strings.Contains(text, tc.want) {
			t.Errorf("%v: exit %d, want 1 and an error mentioning %q:\n%s", tc.args, code, tc.want, text)
		}
	}
	// Test faces of another size than the model's are resized to it.
	if code, text := bfrMain(t, "bfr", "test", "--model", run, "--pairs", big); code != 0 || !strings.Contains(text, "measured at 32x32") {
		t.Errorf("64-pixel test faces: exit %d\n%s", code, text)
	}
	// Nothing was written inside the inputs.
	for _, p := range []string{filepath.Join(pairs, "run"), filepath.Join(pairs, "saved"), filepath.Join(pairs, "x")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was created", p)
		}
	}
}

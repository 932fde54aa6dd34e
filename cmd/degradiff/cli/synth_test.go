package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/samples"

	"github.com/degradiff/degradiff/models/unet"
	"github.com/degradiff/degradiff/rng"
	"github.com/degradiff/degradiff/train/ddpm"
)

// tinyModel writes a diffusers pipeline folder with a small random UNet.
func tinyModel(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	m, err := unet.New(unet.TinyConfig(), rng.New(1, "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	if err := unet.Save(dir, m, "F32"); err != nil {
		t.Fatal(err)
	}
	if err := unet.WritePipeline(dir, ddpm.SchedulerConfig(ddpm.Default())); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSynthWorkersShardsMerge(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the diffusion model")
	}
	hq := makeHQ(t, 3, 64, 64)
	model := tinyModel(t)
	common := []string{"synth", "--hq", hq, "--model", model, "--per-image", "2", "--seed", "3", "--max-strength", "0.3", "--steps", "20", "--keep-init"}
	whole := t.TempDir()
	if code, out := run(t, append(common, "--out", whole, "--workers", "1")...); code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	w2 := t.TempDir()
	if code, out := run(t, append(common, "--out", w2, "--workers", "2")...); code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	strip := func(d map[string]string) map[string]string {
		delete(d, "shard.json")
		delete(d, "merge.json") // what a merged folder was merged from
		return d
	}
	sameTree(t, strip(digest(t, whole)), strip(digest(t, w2)))
	for _, f := range []string{"LR_init/shapesa_01.png", "LR/ringsb_00.png", "HR/mandelbrotc.png"} {
		if _, err := os.Stat(filepath.Join(whole, f)); err != nil {
			t.Fatalf("missing %s", f)
		}
	}
	man, _ := os.ReadFile(filepath.Join(whole, "manifest.jsonl"))
	for _, key := range []string{`"strength":`, `"start_timestep":`, `"sampler":"ddim"`, `"model":{"name":`, `"sha256":"`, `"source":`, `"kernel1":`} {
		if !strings.Contains(string(man), key) {
			t.Fatalf("manifest lacks %s", key)
		}
	}

	s0, s1 := t.TempDir(), t.TempDir()
	if code, out := run(t, append(common, "--out", s0, "--shard", "0/2")...); code != 0 {
		t.Fatal(out)
	}
	// A merge with a shard missing is refused.
	merged := filepath.Join(t.TempDir(), "merged")
	if code, out := run(t, "merge", s0, "--out", merged); code == 0 || !strings.Contains(out, "shard(s) 1 of 2 missing") {
		t.Fatalf("merge without shard 1: exit %d: %s", code, out)
	}
	if code, out := run(t, "merge", s0, s0, "--out", merged); code == 0 || !strings.Contains(out, "given twice") {
		t.Fatalf("merge with a repeated shard: exit %d: %s", code, out)
	}
	if code, out := run(t, append(common, "--out", s1, "--shard", "1/2")...); code != 0 {
		t.Fatal(out)
	}
	// An incomplete shard is refused.
	os.Remove(filepath.Join(s1, "LR", "ringsb_01.png"))
	if code, out := run(t, "merge", s0, s1, "--out", merged); code == 0 || !strings.Contains(out, "incomplete") {
		t.Fatalf("merge with a missing pair: exit %d: %s", code, out)
	}
	if code, out := run(t, append(common, "--out", s1, "--shard", "1/2")...); code != 0 { // resume finishes it
		t.Fatal(out)
	}
	if code, out := run(t, "merge", s0, s1, "--out", merged); code != 0 {
		t.Fatalf("merge: exit %d: %s", code, out)
	}
	sameTree(t, strip(digest(t, whole)), strip(digest(t, merged)))
}

func TestSynthCropsAndDefaultModel(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the diffusion model")
	}
	hq := makeHQ(t, 1, 96, 64)
	small, _ := samples.Render("rings", 40, 80, 0)
	imageio.Save(filepath.Join(hq, "small.png"), small, imageio.SaveOptions{})
	out := t.TempDir()
	code, msg := run(t, "synth", "--hq", hq, "--out", out, "--crop", "64", "--step", "32", "--steps", "10", "--max-strength", "0.1")
	// An image smaller than the crop is skipped with a message, not failed.
	if code != 0 || !strings.Contains(msg, "small.png: 80x40 is smaller than --crop 64: skipped") {
		t.Fatalf("exit %d: %s", code, msg)
	}
	for _, f := range []string{"HR/shapesa_s001.png", "HR/shapesa_s002.png", "LR/shapesa_s002_00.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	man, _ := os.ReadFile(filepath.Join(out, "manifest.jsonl"))
	if !strings.Contains(string(man), `"name":"degradiff-default"`) || !strings.Contains(string(man), `"crop":[32,0,64,64]`) {
		t.Fatalf("manifest: %s", man)
	}
	// With the face preset the default is the built-in face model; --model
	// builtin still selects the natural one.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, `"name":"degradiff-face"`},
		{[]string{"--model", "builtin"}, `"name":"degradiff-default"`},
	} {
		out := t.TempDir()
		args := append([]string{"synth", "--hq", hq, "--out", out, "--preset", "face", "--steps", "10", "--max-strength", "0.1"}, tc.args...)
		if code, msg := run(t, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, msg)
		}
		man, _ := os.ReadFile(filepath.Join(out, "manifest.jsonl"))
		if !strings.Contains(string(man), tc.want) {
			t.Errorf("%v: manifest names another model than %s: %s", tc.args, tc.want, man)
		}
	}
}

func TestSynthBadInputsAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the diffusion model")
	}
	hq := makeHQ(t, 2, 64, 64)
	os.WriteFile(filepath.Join(hq, "broken.png"), []byte("\x89PNG\r\n\x1a\nnot really"), 0o644)
	os.WriteFile(filepath.Join(hq, "empty.jpg"), nil, 0o644)
	model := tinyModel(t)
	out := t.TempDir()
	args := []string{"synth", "--hq", hq, "--out", out, "--model", model, "--steps", "10"}
	code, msg := run(t, args...)
	if code != 2 || !strings.Contains(msg, "broken.png") || !strings.Contains(msg, "empty.jpg") || !strings.Contains(msg, "2 pairs written") {
		t.Fatalf("exit %d:\n%s", code, msg)
	}
	// No HR file without its LR file, for the good and the bad inputs.
	hr, _ := filepath.Glob(filepath.Join(out, "HR", "*.png"))
	lr, _ := filepath.Glob(filepath.Join(out, "LR", "*.png"))
	if len(hr) != 2 || len(lr) != 2 {
		t.Fatalf("%d HR and %d LR files", len(hr), len(lr))
	}
	// A rerun skips the done pairs and reports the bad files again.
	code, msg = run(t, append(args, "--skip-bad")...)
	if code != 0 || !strings.Contains(msg, "0 pairs written") || !strings.Contains(msg, "2 image(s) skipped") {
		t.Fatalf("rerun: exit %d:\n%s", code, msg)
	}
}

func TestTrainInitFromAndExport(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny model")
	}
	lq := makeHQ(t, 3, 48, 48)
	model := tinyModel(t)
	cfgFile := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfgFile, []byte("model: tiny\nresolution: 32\nbatch_size: 2\nsteps: 2\nwarmup_steps: 1\npreview_every: 0\ncheckpoint_every: 1\n"), 0o644)
	run1 := filepath.Join(t.TempDir(), "run")
	code, out := run(t, "train", "--lq", lq, "--out", run1, "--config", cfgFile, "--init-from", model)
	if code != 0 || !strings.Contains(out, "initialised from") {
		t.Fatalf("exit %d: %s", code, out)
	}
	if code, out := run(t, "train", "--lq", lq, "--out", run1, "--config", cfgFile, "--init-from", model, "--resume", "latest"); code == 0 || !strings.Contains(out, "exclude each other") {
		t.Fatalf("--init-from with --resume: exit %d: %s", code, out)
	}
	exp := filepath.Join(t.TempDir(), "exp")
	if code, out := run(t, "export", run1, "--out", exp, "--fp16"); code != 0 {
		t.Fatalf("export: exit %d: %s", code, out)
	}
	if _, err := unet.Load(exp); err != nil {
		t.Fatal(err)
	}
}

// TestTrainInitFromBuiltin adapts each built-in model with its shipped
// config (configs/ddpm-adapt.yaml, configs/ddpm-face-small.yaml), cut to
// one step of one small crop.
func TestTrainInitFromBuiltin(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the built-in models for a step")
	}
	for _, tc := range []struct{ config, spec string }{{"ddpm-adapt.yaml", "builtin"}, {"ddpm-face-small.yaml", "builtin-face"}} {
		base, err := os.ReadFile(filepath.Join("..", "..", "..", "configs", tc.config))
		if err != nil {
			t.Fatal(err)
		}
		small := map[string]string{"resolution": "32", "batch_size": "1", "steps": "1", "warmup_steps": "0", "checkpoint_every": "1", "preview_images": "0"}
		var lines []string
		for _, l := range strings.Split(string(base), "\n") {
			if key, _, ok := strings.Cut(l, ":"); ok && small[key] != "" {
				l = key + ": " + small[key]
			}
			lines = append(lines, l)
		}
		cfgFile := filepath.Join(t.TempDir(), "c.yaml")
		os.WriteFile(cfgFile, []byte(strings.Join(lines, "\n")), 0o644)
		lq := makeHQ(t, 2, 48, 48)
		out := filepath.Join(t.TempDir(), "run")
		code, msg := run(t, "train", "--lq", lq, "--out", out, "--config", cfgFile, "--init-from", tc.spec)
		if code != 0 || !strings.Contains(msg, "initialised from "+tc.spec) {
			t.Fatalf("%s: exit %d: %s", tc.spec, code, msg)
		}
	}
}

// TestSynthPrecision checks --precision bf16: the same pairs for any
// --workers, LQ images within a grey level of the float32 ones, recorded in
// run.json and the manifest; a resumed run keeps its precision, and an
// unknown one is refused naming the flag.
func TestSynthPrecision(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the diffusion model")
	}
	hq := makeHQ(t, 2, 64, 64)
	model := tinyModel(t)
	common := []string{"synth", "--hq", hq, "--model", model, "--seed", "5", "--max-strength", "0.3", "--steps", "20"}
	fp32, bf1, bf2 := t.TempDir(), t.TempDir(), t.TempDir()
	for _, r := range []struct {
		out  string
		args []string
	}{
		{fp32, []string{"--workers", "2"}},
		{bf1, []string{"--precision", "bf16", "--workers", "1"}},
		{bf2, []string{"--precision", "bf16", "--workers", "2"}},
	} {
		if code, out := run(t, append(append(common, "--out", r.out), r.args...)...); code != 0 {
			t.Fatalf("%v: exit %d: %s", r.args, code, out)
		}
	}
	sameTree(t, digest(t, bf1), digest(t, bf2))
	checkRecorded(t, fp32, bf1, "precision", `"bf16"`)
	lrs, _ := filepath.Glob(filepath.Join(fp32, "LR", "*.png"))
	if len(lrs) != 2 {
		t.Fatalf("%d LR images", len(lrs))
	}
	differ := false
	for _, f := range lrs {
		a, _, err := imageio.Load(f, imageio.Options{})
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := imageio.Load(filepath.Join(bf1, "LR", filepath.Base(f)), imageio.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range a.Pix {
			d := a.Pix[i] - b.Pix[i]
			differ = differ || d != 0
			if d > 1.5/255 || d < -1.5/255 {
				t.Fatalf("%s: bf16 differs from fp32 by %g at %d", filepath.Base(f), d, i)
			}
		}
	}
	if !differ {
		t.Error("bf16 LQ images are identical to the fp32 ones: --precision not in effect")
	}
	if code, out := run(t, append(common, "--out", bf1)...); code == 0 || !strings.Contains(out, "other settings") {
		t.Fatalf("resuming a bf16 run in fp32: exit %d: %s", code, out)
	}
	if code, out := run(t, append(common, "--out", t.TempDir(), "--precision", "fp16")...); code == 0 || !strings.Contains(out, "--precision") {
		t.Fatalf("--precision fp16: exit %d: %s", code, out)
	}
}

// TestSynthSettings checks the diffusion step's settings that runs record
// only when they are not the default (--refine luma, --tail-steps): each
// recorded in run.json and the manifest, giving other LQ images than the
// default run's, refused on resume without it, and a bad value refused
// naming the flag. (A strength below 2/steps runs the last timestep only,
// without a tail: hence the high maximum.)
func TestSynthSettings(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the diffusion model")
	}
	hq := makeHQ(t, 1, 64, 64)
	common := []string{"synth", "--hq", hq, "--model", tinyModel(t), "--seed", "2", "--max-strength", "0.9", "--steps", "20"}
	plain := t.TempDir()
	if code, out := run(t, append(common, "--out", plain)...); code != 0 {
		t.Fatalf("default settings: exit %d: %s", code, out)
	}
	for _, tc := range []struct {
		flag, value, key, recorded string
		bad                        []string
	}{
		{"--refine", "luma", "refine", `"luma"`, []string{"--refine", "chroma"}},
		{"--tail-steps", "4", "tail_steps", "4", []string{"--tail-steps", "4", "--sampler", "unipc"}},
	} {
		set := t.TempDir()
		if code, out := run(t, append(common, "--out", set, tc.flag, tc.value)...); code != 0 {
			t.Fatalf("%s %s: exit %d: %s", tc.flag, tc.value, code, out)
		}
		checkRecorded(t, plain, set, tc.key, tc.recorded)
		lrDiffer(t, plain, set)
		if code, out := run(t, append(common, "--out", set)...); code == 0 || !strings.Contains(out, "other settings") {
			t.Fatalf("resuming a %s %s run without it: exit %d: %s", tc.flag, tc.value, code, out)
		}
		if code, out := run(t, append(append(common, "--out", t.TempDir()), tc.bad...)...); code == 0 || !strings.Contains(out, tc.flag) {
			t.Fatalf("%v: exit %d: %s", tc.bad, code, out)
		}
	}
}

// checkRecorded checks that the synth run in set records key with the
// JSON value in its manifest and run.json, and the run in plain, made
// without the setting, does not name it.
func checkRecorded(t *testing.T, plain, set, key, value string) {
	t.Helper()
	man, _ := os.ReadFile(filepath.Join(set, "manifest.jsonl"))
	runJSON, _ := os.ReadFile(filepath.Join(set, "run.json"))
	if !strings.Contains(string(man), `"`+key+`":`+value) || !strings.Contains(string(runJSON), `"`+key+`": `+value) {
		t.Fatalf("%s not recorded:\n%s\n%s", key, man, runJSON)
	}
	if manPlain, _ := os.ReadFile(filepath.Join(plain, "manifest.jsonl")); strings.Contains(string(manPlain), key) {
		t.Fatalf("the manifest made without the setting names %s: %s", key, manPlain)
	}
}

// lrDiffer checks that every LR image of two synth runs differs.
func lrDiffer(t *testing.T, a, b string) {
	t.Helper()
	da, db := digest(t, a), digest(t, b)
	lrs := 0
	for name, h := range da {
		if strings.HasPrefix(name, "LR") {
			lrs++
			if db[name] == h {
				t.Errorf("%s: the same in %s and %s", name, a, b)
			}
		}
	}
	if lrs == 0 {
		t.Fatalf("no LR image in %v", da)
	}
}

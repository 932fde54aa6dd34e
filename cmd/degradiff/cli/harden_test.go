package cli

// Tests of issue 12 ("Hardening"): each names its case.

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/models/unet"
	"github.com/degradiff/degradiff/samples"
)

// TestMain lets the tests run the command line as a subprocess (signals,
// SIGKILL): with DEGRADIFF_TEST_MAIN=1 the test binary is degradiff.
func TestMain(m *testing.M) {
	if os.Getenv("DEGRADIFF_TEST_MAIN") == "1" {
		os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// command returns the test binary set up to run degradiff with args.
func command(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command(exe, args...)
	c.Env = append(os.Environ(), "DEGRADIFF_TEST_MAIN=1")
	return c
}

// shards makes a two-shard synth run of three small images.
func shards(t *testing.T) (hq, s0, s1 string) {
	t.Helper()
	hq = makeHQ(t, 3, 32, 32)
	model := tinyModel(t)
	s0, s1 = t.TempDir(), t.TempDir()
	for i, s := range []string{s0, s1} {
		args := []string{"synth", "--hq", hq, "--model", model, "--steps", "4", "--seed", "1", "--out", s, "--shard", []string{"0/2", "1/2"}[i]}
		if code, out := run(t, args...); code != 0 {
			t.Fatalf("exit %d: %s", code, out)
		}
	}
	return hq, s0, s1
}

// Cases 2 and 3: merge never writes into a shard, nor into a folder that is
// not an earlier merge of the same shards.
func TestMergeRefusesUnsafeOut(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the diffusion model")
	}
	hq, s0, s1 := shards(t)
	before := digest(t, s0)
	for _, out := range []string{s0, filepath.Join(s0, "merged"), filepath.Join(s1, "HR")} {
		code, msg := run(t, "merge", s0, s1, "--out", out)
		if code != 1 || !strings.Contains(msg, "--out") || !strings.Contains(msg, "shard folder") {
			t.Fatalf("merge --out %s: exit %d: %s", out, code, msg)
		}
	}
	sameTree(t, before, digest(t, s0))

	// A degrade output is not a merge of these shards.
	other := t.TempDir()
	if code, msg := run(t, "degrade", "--hq", hq, "--out", other); code != 0 {
		t.Fatal(msg)
	}
	otherBefore := digest(t, other)
	if code, msg := run(t, "merge", s0, s1, "--out", other); code != 1 || !strings.Contains(msg, "not empty") {
		t.Fatalf("merge into a degrade folder: exit %d: %s", code, msg)
	}
	sameTree(t, otherBefore, digest(t, other))

	// A new folder, then the same merge again, are fine.
	merged := filepath.Join(t.TempDir(), "m")
	for i := 0; i < 2; i++ {
		if code, msg := run(t, "merge", s0, s1, "--out", merged); code != 0 {
			t.Fatalf("merge %d: exit %d: %s", i, code, msg)
		}
	}
	// Other shards into that folder are refused.
	_, t0, t1 := shards(t)
	os.WriteFile(filepath.Join(t0, "run.json"), bytes.Replace(mustRead(t, filepath.Join(t0, "run.json")), []byte(`"seed": 1`), []byte(`"seed": 1 `), 1), 0o644)
	if code, msg := run(t, "merge", t0, t1, "--out", merged); code != 1 || !strings.Contains(msg, "other shards") {
		t.Fatalf("merge of other shards into a merge folder: exit %d: %s", code, msg)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Case 4 and the meta_info.txt part of case 12: write errors are not bad
// inputs, and a failed final write still lists the failures.
func TestWriteErrorsAreNotBadInputs(t *testing.T) {
	hq := makeHQ(t, 3, 32, 32)
	out := t.TempDir()
	// A folder where an LR file must go makes that write fail, as a full
	// disk would (permissions do not stop root).
	os.MkdirAll(filepath.Join(out, "LR", "ringsb_00.png", "x"), 0o755)
	code, msg := run(t, "degrade", "--hq", hq, "--out", out, "--workers", "1", "--skip-bad")
	if code != 1 || !strings.Contains(msg, "could not be written") || !strings.Contains(msg, "ringsb_00.png") {
		t.Fatalf("exit %d with --skip-bad: %s", code, msg)
	}
	os.RemoveAll(filepath.Join(out, "LR", "ringsb_00.png"))

	// meta_info.txt cannot be written: the bad input is still listed.
	os.WriteFile(filepath.Join(hq, "broken.png"), []byte("\x89PNG\r\n\x1a\nbroken"), 0o644)
	os.Remove(filepath.Join(out, "meta_info.txt"))
	os.MkdirAll(filepath.Join(out, "meta_info.txt", "x"), 0o755)
	code, msg = run(t, "degrade", "--hq", hq, "--out", out)
	if code != 1 || !strings.Contains(msg, "broken.png") || !strings.Contains(msg, "meta_info.txt") {
		t.Fatalf("exit %d when meta_info.txt cannot be written: %s", code, msg)
	}
}

// Case 6: outputs never inside inputs, nor inputs inside outputs.
func TestOutSeparateFromInputs(t *testing.T) {
	hq := makeHQ(t, 1, 32, 32)
	for _, tc := range []struct{ hq, out, want string }{
		{hq, hq, "same folder"},
		{hq, filepath.Join(hq, "pairs"), "inside --hq"},
		{hq, filepath.Join(hq, ".", "x", ".."), "same folder"},
		{hq, filepath.Dir(hq), "is inside --out"},
	} {
		code, msg := run(t, "degrade", "--hq", tc.hq, "--out", tc.out)
		if code != 1 || !strings.Contains(msg, tc.want) {
			t.Errorf("--hq %s --out %s: exit %d: %s", tc.hq, tc.out, code, msg)
		}
	}
	// Through a symbolic link too.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(hq, link); err == nil {
		if code, msg := run(t, "degrade", "--hq", hq, "--out", filepath.Join(link, "out")); code != 1 || !strings.Contains(msg, "inside --hq") {
			t.Errorf("through a link: exit %d: %s", code, msg)
		}
	}
	if entries, _ := os.ReadDir(hq); len(entries) != 1 {
		t.Fatalf("the input folder was written to: %d entries", len(entries))
	}
	lq := makeHQ(t, 1, 32, 32)
	if code, msg := run(t, "train", "--lq", lq, "--out", filepath.Join(lq, "run")); code != 1 || !strings.Contains(msg, "inside --lq") {
		t.Errorf("train --out inside --lq: exit %d: %s", code, msg)
	}
}

// Case 7: run.json records the input folder; another folder with the same
// names is not taken as done.
func TestRerunWithOtherInputsRefused(t *testing.T) {
	hq1, hq2 := makeHQ(t, 2, 32, 32), makeHQ(t, 2, 32, 32)
	out := t.TempDir()
	if code, msg := run(t, "degrade", "--hq", hq1, "--out", out); code != 0 {
		t.Fatal(msg)
	}
	if !bytes.Contains(mustRead(t, filepath.Join(out, "run.json")), []byte(`"inputs"`)) {
		t.Fatal("run.json does not record the input folder")
	}
	code, msg := run(t, "degrade", "--hq", hq2, "--out", out)
	if code != 1 || !strings.Contains(msg, "made from the images in") {
		t.Fatalf("other --hq: exit %d: %s", code, msg)
	}
	// The same folder resumes.
	if code, msg := run(t, "degrade", "--hq", hq1, "--out", out); code != 0 || !strings.Contains(msg, "2 skipped") {
		t.Fatalf("same --hq: exit %d: %s", code, msg)
	}
}

// Case 10: names that meta_info.txt cannot list are bad inputs, and the
// file stays parseable.
func TestNamesThatBreakMetaInfo(t *testing.T) {
	hq := makeHQ(t, 1, 32, 32)
	m, err := samples.Render(samples.Names[0], 32, 32, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a, b.png", "new\nline.png"} {
		if err := imageio.Save(filepath.Join(hq, n), m, imageio.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	code, msg := run(t, "degrade", "--hq", hq, "--out", out)
	if code != 2 || !strings.Contains(msg, "a, b.png") || !strings.Contains(msg, "rename the file") {
		t.Fatalf("exit %d: %s", code, msg)
	}
	sc := bufio.NewScanner(bytes.NewReader(mustRead(t, filepath.Join(out, "meta_info.txt"))))
	n := 0
	for sc.Scan() {
		if f := strings.Split(sc.Text(), ", "); len(f) != 2 || !strings.HasPrefix(f[0], "HR/") || !strings.HasPrefix(f[1], "LR/") {
			t.Fatalf("meta_info.txt line %q", sc.Text())
		}
		n++
	}
	if n != 1 {
		t.Fatalf("%d pairs listed, want 1", n)
	}
}

// Cases 5 and 11: a run stopped before its first checkpoint restarts, with
// or without --resume latest, and stale temporary checkpoints go.
func TestTrainRestartsWithoutCheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny model")
	}
	lq := makeHQ(t, 2, 32, 32)
	cfgFile := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfgFile, []byte("model: tiny\nresolution: 32\nbatch_size: 1\nsteps: 1\nwarmup_steps: 0\npreview_every: 0\ncheckpoint_every: 1\n"), 0o644)
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "--lq", lq, "--out", out, "--config", cfgFile}
	if code, msg := run(t, args...); code != 0 {
		t.Fatal(msg)
	}
	first := mustRead(t, filepath.Join(out, "model", "unet", "diffusion_pytorch_model.safetensors"))
	// As if killed before the first checkpoint, in the middle of one.
	os.RemoveAll(filepath.Join(out, "checkpoints"))
	os.RemoveAll(filepath.Join(out, "model"))
	stale := filepath.Join(out, "checkpoints", ".tmp-step-123456")
	os.MkdirAll(stale, 0o755)
	for _, extra := range [][]string{nil, {"--resume", "latest"}} {
		code, msg := run(t, append(args, extra...)...)
		if code != 0 {
			t.Fatalf("rerun %v: exit %d: %s", extra, code, msg)
		}
		if _, err := os.Stat(stale); err == nil {
			t.Fatal("stale temporary checkpoint left")
		}
		if !bytes.Equal(first, mustRead(t, filepath.Join(out, "model", "unet", "diffusion_pytorch_model.safetensors"))) {
			t.Fatal("the restarted run differs from the first")
		}
		os.RemoveAll(filepath.Join(out, "checkpoints"))
	}
	if n := bytes.Count(mustRead(t, filepath.Join(out, "log.jsonl")), []byte(`"step":1,`)); n != 1 {
		t.Fatalf("log.jsonl holds step 1 %d times", n)
	}
	// A rerun with other images is refused once there is a checkpoint.
	if code, msg := run(t, append(args, "--resume", "latest", "--steps", "2", "--lq", makeHQ(t, 1, 32, 32))...); code != 1 || !strings.Contains(msg, "inputs") {
		t.Fatalf("resume with another --lq: exit %d: %s", code, msg)
	}
}

// Case 12: the small ones.
func TestFlagAndConfigChecks(t *testing.T) {
	hq := makeHQ(t, 1, 32, 32)
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "notes.txt"), []byte("no image here"), 0o644)
	nanCfg := filepath.Join(t.TempDir(), "nan.yaml")
	os.WriteFile(nanCfg, []byte("realesrgan:\n  noise_range: [1, .nan]\n"), 0o644)
	nanOut := filepath.Join(t.TempDir(), "nan-out")
	tiny := filepath.Join(t.TempDir(), "tiny.yaml") // so that a run that is not refused ends soon
	os.WriteFile(tiny, []byte("model: tiny\nresolution: 32\nbatch_size: 1\nsteps: 1\nwarmup_steps: 0\npreview_every: 0\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"degrade", "--hq", t.TempDir(), "--out", t.TempDir()}, "no images found"},
		{[]string{"synth", "--hq", empty, "--out", t.TempDir()}, "no images found"},
		{[]string{"degrade", "--hq", hq, "--out", t.TempDir(), "--scale", "0"}, "--scale"},
		{[]string{"synth", "--hq", hq, "--out", t.TempDir(), "--steps", "0"}, "--steps"},
		{[]string{"degrade", "--hq", hq, "--out", t.TempDir(), "--workers", "0"}, "--workers"},
		{[]string{"synth", "--hq", hq, "--out", t.TempDir(), "--workers", "-3"}, "--workers"},
		{[]string{"synth", "--hq", hq, "--out", t.TempDir(), "--shard", "0/2abc"}, "--shard"},
		{[]string{"degrade", "--hq", hq, "--out", t.TempDir(), "--per-image", "1000000000"}, "--per-image"},
		{[]string{"synth", "--hq", hq, "--out", t.TempDir(), "--max-strength", "nan"}, "--max-strength"},
		// The library names the option (tile_overlap); the CLI its flag.
		{[]string{"synth", "--hq", hq, "--out", t.TempDir(), "--tile-overlap", "200"}, "--tile-overlap: 200"},
		{[]string{"synth", "--hq", hq, "--out", t.TempDir(), "--sampler", "unipc", "--final-sigmas", "one"}, `--final-sigmas: "one" is not`},
		// DDIM, the default, has no final sigmas: the flag is refused, not ignored.
		{[]string{"synth", "--hq", hq, "--out", t.TempDir(), "--final-sigmas", "sigma_min"}, "--final-sigmas applies to --sampler unipc or dpmpp, not ddim"},
		{[]string{"diagnose", "--real-lq", hq, "--out", t.TempDir(), "--sampler", "ddpm", "--final-sigmas", "zero"}, "not ddpm"},
		{[]string{"train", "--lq", hq, "--out", t.TempDir(), "--config", tiny, "--seed", "18446744073709551616"}, "--seed"},
		// Seeds are unsigned everywhere: -1 is refused, not wrapped.
		{[]string{"train", "--lq", hq, "--out", t.TempDir(), "--config", tiny, "--seed", "-1"}, "--seed"},
		{[]string{"sr", "train", "--pairs", t.TempDir(), "--out", t.TempDir(), "--seed", "-1"}, "--seed"},
		{[]string{"degrade", "--hq", hq, "--out", nanOut, "--config", nanCfg}, "nan.yaml: line 2: realesrgan.noise_range[1]"},
		{[]string{"export", t.TempDir(), "--out", t.TempDir()}, "not a training run"},
	} {
		code, msg := run(t, tc.args...)
		if code != 1 || !strings.Contains(msg, tc.want) {
			t.Errorf("%q: exit %d: %s", tc.args, code, msg)
		}
	}
	if _, err := os.Stat(nanOut); err == nil {
		t.Error("a refused config left an output folder")
	}
	// export --checkpoint names its own flag.
	runDir := t.TempDir()
	os.WriteFile(filepath.Join(runDir, "config.yaml"), []byte("model: tiny\n"), 0o644)
	code, msg := run(t, "export", runDir, "--out", t.TempDir(), "--checkpoint", filepath.Join(runDir, "BAD"))
	if code != 1 || !strings.Contains(msg, "--checkpoint") || strings.Contains(msg, "--resume") {
		t.Errorf("export --checkpoint BAD: exit %d: %s", code, msg)
	}
	// --version names the built-in models' SHA-256.
	code, msg = run(t, "--version")
	if code != 0 || !strings.Contains(msg, "built-in model degradiff-default (--model builtin): sha256 ") ||
		!strings.Contains(msg, "built-in model degradiff-face (--model builtin-face): sha256 ") || strings.Contains(msg, "(devel)") {
		t.Errorf("--version: exit %d: %s", code, msg)
	}
}

// Case 12: SIGTERM stops a run with 143 (128+15), Ctrl-C with 130.
func TestSignalExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny model in a subprocess")
	}
	lq := makeHQ(t, 2, 32, 32)
	cfgFile := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfgFile, []byte("model: tiny\nresolution: 32\nbatch_size: 1\nsteps: 1000000\nwarmup_steps: 0\npreview_every: 0\ncheckpoint_every: 1000000\n"), 0o644)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		out := filepath.Join(t.TempDir(), "run")
		c := command(t, "train", "--lq", lq, "--out", out, "--config", cfgFile)
		var stderr bytes.Buffer
		c.Stderr = &stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until it trains (its first log line), then signal it.
		deadline := time.Now().Add(60 * time.Second)
		for {
			if b, _ := os.ReadFile(filepath.Join(out, "log.jsonl")); len(b) > 0 {
				break
			}
			if time.Now().After(deadline) {
				c.Process.Kill()
				t.Fatalf("no training step after 60 s: %s", stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		c.Process.Signal(sig)
		c.Wait()
		if got, want := c.ProcessState.ExitCode(), 128+int(sig); got != want {
			t.Fatalf("%v: exit %d, want %d: %s", sig, got, want, stderr.String())
		}
		if !strings.Contains(stderr.String(), "checkpoint saved") {
			t.Fatalf("%v: %s", sig, stderr.String())
		}
	}
}

// Case 8: a model with NaN weights is refused by synth (it wrote black LR
// images with exit 0), and flipped bytes are found.
func TestSynthRefusesBadModel(t *testing.T) {
	hq := makeHQ(t, 1, 32, 32)
	model := tinyModel(t)
	m, err := unet.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	p := m.Params()[5]
	p.Value.Data[2] = float32(math.NaN())
	if err := unet.Save(model, m, "F32"); err != nil {
		t.Fatal(err)
	}
	code, msg := run(t, "synth", "--hq", hq, "--out", t.TempDir(), "--model", model)
	if code != 1 || !strings.Contains(msg, "non-finite") || !strings.Contains(msg, p.Name) {
		t.Fatalf("NaN model: exit %d: %s", code, msg)
	}
	w := filepath.Join(model, unet.UNetFolder, unet.WeightsFile)
	b := mustRead(t, w)
	b[len(b)-5] ^= 1
	os.WriteFile(w, b, 0o644)
	if code, msg := run(t, "synth", "--hq", hq, "--out", t.TempDir(), "--model", model); code != 1 || !strings.Contains(msg, "SHA-256") {
		t.Fatalf("flipped byte: exit %d: %s", code, msg)
	}
}

// TestPrintConfig: each trainer's --print-config shows its defaults, or a
// --config file on top of them, and refuses a bad file.
func TestPrintConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("steps: 7\n"), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("no_such_key: 1\n"), 0o644)
	for _, c := range [][]string{{"train"}, {"sr", "train"}, {"bfr", "train"}} {
		code, out := run(t, append(c, "--print-config")...)
		if code != 0 || !strings.Contains(out, "steps:") || strings.Contains(out, "steps: 7\n") {
			t.Errorf("%v --print-config: exit %d\n%s", c, code, out)
		}
		if code, out := run(t, append(c, "--print-config", "--config", cfg)...); code != 0 || !strings.Contains(out, "steps: 7\n") {
			t.Errorf("%v --print-config --config: exit %d\n%s", c, code, out)
		}
		if code, out := run(t, append(c, "--print-config", "--config", bad)...); code == 0 || !strings.Contains(out, "no_such_key") {
			t.Errorf("%v --print-config with a bad file: exit %d\n%s", c, code, out)
		}
	}
}

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
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/samples"
)

// srMain runs the command line with the sr command attached (whether or
// not root.go registers it) and returns the exit status and output.
func srMain(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	root := NewRoot(&out, &out)
	if c, _, err := root.Find([]string{"sr"}); err != nil || c == root {
		root.AddCommand(newSRCmd())
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

// makeSRPairs writes RealSR-style x4 pairs (same names in HR/ and LR/):
// generated 64x64 scenes and their bicubic downscales.
func makeSRPairs(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for i, n := range names {
		hr, err := samples.Render(samples.Names[i%len(samples.Names)], 64, 64, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		lr := resize.Interpolate(hr, 16, 16, resize.Bicubic).Clamp()
		for _, f := range []struct {
			sub string
			m   *raster.Image
		}{{"HR", hr}, {"LR", lr}} {
			p := filepath.Join(dir, f.sub, n+".png")
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := imageio.Save(p, f.m, imageio.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func TestSREndToEnd(t *testing.T) {
	pairs := makeSRPairs(t, "Canon_001", "Canon_002", "Nikon_001", "Nikon_002")
	cfgFile := filepath.Join(t.TempDir(), "sr.yaml")
	os.WriteFile(cfgFile, []byte("model:\n  num_feat: 8\n  num_block: 1\npatch_size: 8\nbatch_size: 2\nsteps: 4\ncheckpoint_every: 2\nlog_every: 1\nwarmup_steps: 1\n"), 0o644)
	run := filepath.Join(t.TempDir(), "run")

	code, out := srMain(t, "sr", "train", "--pairs", pairs, "--out", run, "--config", cfgFile, "--include", "Canon_*")
	if code != 0 {
		t.Fatalf("sr train: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "2 pairs") || !strings.Contains(out, "done, 4 steps") {
		t.Errorf("sr train output:\n%s", out)
	}
	for _, f := range []string{"config.yaml", "log.jsonl", "loss.png", "model/config.json", "model/model.safetensors", "model/model_ema.safetensors", "checkpoints/step-00000004/state.json"} {
		if _, err := os.Stat(filepath.Join(run, f)); err != nil {
			t.Errorf("run folder lacks %s", f)
		}
	}
	// A second start over the same run is refused; --resume extends it.
	if code, out := srMain(t, "sr", "train", "--pairs", pairs, "--out", run); code == 0 || !strings.Contains(out, "--resume latest") {
		t.Errorf("restart over a run: exit %d\n%s", code, out)
	}
	// Resuming on other pairs is refused: the run records its inputs.
	if code, out := srMain(t, "sr", "train", "--pairs", pairs, "--out", run, "--resume", "latest", "--steps", "6"); code == 0 || !strings.Contains(out, "--include") || !strings.Contains(out, "keeps its data") {
		t.Errorf("resume without the run's --include: exit %d\n%s", code, out)
	}
	other := makeSRPairs(t, "Canon_001", "Canon_002")
	if code, out := srMain(t, "sr", "train", "--pairs", other, "--out", run, "--resume", "latest", "--steps", "6", "--include", "Canon_*"); code == 0 || !strings.Contains(out, "--pairs") || !strings.Contains(out, "keeps its data") {
		t.Errorf("resume on another --pairs folder: exit %d\n%s", code, out)
	}
	if code, out := srMain(t, "sr", "train", "--pairs", pairs, "--out", run, "--resume", "latest", "--steps", "6", "--include", "Canon_*"); code != 0 || !strings.Contains(out, "resumed from") || !strings.Contains(out, "done, 6 steps") {
		t.Errorf("resume: exit %d\n%s", code, out)
	}

	// Test on the other pairs, as a table and as JSON.
	code, out = srMain(t, "sr", "test", "--model", run, "--pairs", pairs, "--include", "Nikon_*", "--baseline")
	if code != 0 {
		t.Fatalf("sr test: exit %d\n%s", code, out)
	}
	for _, want := range []string{"PSNR (Y)", "bicubic PSNR", "Nikon_001", "Nikon_002", "mean"} {
		if !strings.Contains(out, want) {
			t.Errorf("sr test table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Canon_001") {
		t.Errorf("sr test tested an excluded pair:\n%s", out)
	}
	saved := t.TempDir()
	code, out = srMain(t, "sr", "test", "--model", filepath.Join(run, "model"), "--pairs", pairs, "--json", "--save", saved)
	if code != 0 {
		t.Fatalf("sr test --json: exit %d\n%s", code, out)
	}
	var rep srReport
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &rep); err != nil {
		t.Fatalf("sr test --json: %v\n%s", err, out)
	}
	if len(rep.Images) != 4 || rep.Scale != 4 || rep.CropBorder != 4 || !rep.TestY || !(rep.Mean.PSNR > 10 && rep.Mean.SSIM > 0) {
		t.Errorf("report %+v", rep)
	}
	if m, _, err := imageio.Load(filepath.Join(saved, "Canon_001.png"), imageio.Options{}); err != nil || m.W != 64 || m.H != 64 {
		t.Errorf("--save: %v", err)
	}

	// Apply to a folder with a subfolder, an unreadable file and one image
	// large enough to be tiled.
	in := t.TempDir()
	lr, _, _ := imageio.Load(filepath.Join(pairs, "LR", "Canon_001.png"), imageio.Options{})
	os.MkdirAll(filepath.Join(in, "sub"), 0o755)
	imageio.Save(filepath.Join(in, "sub", "a.png"), lr, imageio.SaveOptions{})
	big, _ := samples.Render("rings", 40, 50, 1)
	imageio.Save(filepath.Join(in, "big.png"), big, imageio.SaveOptions{})
	os.WriteFile(filepath.Join(in, "broken.png"), []byte("not a png"), 0o644)
	outDir := filepath.Join(t.TempDir(), "sr")
	code, out = srMain(t, "sr", "apply", "--model", run, "--in", in, "--out", outDir, "--tile", "16")
	if code != 2 || !strings.Contains(out, "broken.png") {
		t.Fatalf("sr apply with a broken file: exit %d, want 2\n%s", code, out)
	}
	if m, _, err := imageio.Load(filepath.Join(outDir, "big.png"), imageio.Options{}); err != nil || m.W != 200 || m.H != 160 {
		t.Errorf("big.png: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outDir, "sub", "a.png")); err != nil {
		t.Error("sub/a.png not written")
	}
	// Tiled and whole-image runs write the same file.
	whole := filepath.Join(t.TempDir(), "whole")
	if code, out := srMain(t, "sr", "apply", "--model", run, "--in", in, "--out", whole, "--tile", "-1", "--skip-bad", "--workers", "2"); code != 0 {
		t.Fatalf("sr apply --skip-bad: exit %d\n%s", code, out)
	}
	a, _ := os.ReadFile(filepath.Join(outDir, "big.png"))
	b, _ := os.ReadFile(filepath.Join(whole, "big.png"))
	if !bytes.Equal(a, b) {
		t.Error("tiled output differs from the whole-image output")
	}
	// A rerun skips what is done.
	if code, out := srMain(t, "sr", "apply", "--model", run, "--in", in, "--out", outDir, "--skip-bad"); code != 0 || !strings.Contains(out, "2 skipped") {
		t.Errorf("rerun: exit %d\n%s", code, out)
	}
	// bf16 products: within a grey level or two of float32, not identical.
	bf := filepath.Join(t.TempDir(), "bf16")
	if code, out := srMain(t, "sr", "apply", "--model", run, "--in", in, "--out", bf, "--skip-bad", "--precision", "bf16"); code != 0 {
		t.Fatalf("sr apply --precision bf16: exit %d\n%s", code, out)
	}
	want, _, _ := imageio.Load(filepath.Join(whole, "big.png"), imageio.Options{})
	got, _, err := imageio.Load(filepath.Join(bf, "big.png"), imageio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	differ := false
	for i := range want.Pix {
		d := math.Abs(float64(got.Pix[i] - want.Pix[i]))
		differ = differ || d != 0
		if d > 2.5/255 {
			t.Fatalf("bf16 output differs from fp32 by %g at %d", d, i)
		}
	}
	if !differ {
		t.Error("bf16 output identical to fp32: --precision not in effect")
	}
	if code, out := srMain(t, "sr", "apply", "--model", run, "--in", in, "--out", t.TempDir(), "--precision", "half"); code == 0 || !strings.Contains(out, "--precision") {
		t.Errorf("--precision half: exit %d\n%s", code, out)
	}
}

func TestSRErrors(t *testing.T) {
	pairs := makeSRPairs(t, "a")
	noHR := t.TempDir()
	os.MkdirAll(filepath.Join(noHR, "LR"), 0o755)
	wrongScale := makeSRPairs(t, "a")
	m, _, _ := imageio.Load(filepath.Join(wrongScale, "LR", "a.png"), imageio.Options{})
	imageio.Save(filepath.Join(wrongScale, "HR", "a.png"), resize.Interpolate(m, 32, 32, resize.Bicubic), imageio.SaveOptions{})
	unmatched := makeSRPairs(t, "a")
	imageio.Save(filepath.Join(unmatched, "LR", "b.png"), m, imageio.SaveOptions{})

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"sr", "train", "--pairs", noHR, "--out", filepath.Join(t.TempDir(), "r")}, "has no HR/ folder"},
		{[]string{"sr", "train", "--pairs", wrongScale, "--out", filepath.Join(t.TempDir(), "r")}, "fit scale 2"},
		{[]string{"sr", "train", "--pairs", unmatched, "--out", filepath.Join(t.TempDir(), "r")}, "1 LR file(s) have no HR file of the same name: b.png"},
		{[]string{"sr", "train", "--pairs", pairs, "--out", filepath.Join(t.TempDir(), "r"), "--include", "x["}, "--include"},
		{[]string{"sr", "train", "--pairs", pairs, "--out", filepath.Join(t.TempDir(), "r"), "--budget", "huge"}, "--budget"},
		{[]string{"sr", "train", "--pairs", pairs, "--out", filepath.Join(t.TempDir(), "r"), "--resume", "latest"}, "config.yaml not found"},
		{[]string{"sr", "test", "--model", t.TempDir(), "--pairs", pairs}, "neither a model folder"},
		{[]string{"sr", "test", "--pairs", pairs}, "--model is required"},
		{[]string{"sr", "apply", "--model", t.TempDir(), "--in", pairs, "--out", pairs}, "is the input folder"},
	}
	for _, tc := range tests {
		code, out := srMain(t, tc.args...)
		if code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, want an error mentioning %q:\n%s", tc.args, code, tc.want, out)
		}
	}
}

// TestSRReportInfinitePSNR: identical images have an infinite PSNR, which
// sr test --json writes as "inf" (JSON numbers cannot hold it).
func TestSRReportInfinitePSNR(t *testing.T) {
	inf, one := decibels(math.Inf(1)), 1.0
	rep := srReport{Images: []srScore{{Name: "a", PSNR: inf, SSIM: 1, BicubicPSNR: &inf, BicubicSSIM: &one}}}
	rep.Mean = srMean(rep.Images, true)
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back srReport
	if err := json.Unmarshal(b, &back); err != nil || !math.IsInf(float64(back.Mean.PSNR), 1) || !math.IsInf(float64(*back.Images[0].BicubicPSNR), 1) {
		t.Errorf("round trip of %s: %+v, %v", b, back, err)
	}
}

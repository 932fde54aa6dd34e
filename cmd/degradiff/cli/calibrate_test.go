package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/degrade/blur"
	"github.com/degradiff/degradiff/degrade/resize"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/samples"
)

// calMain runs the command line with the calibrate command attached
// (whether or not root.go registers it) and returns the exit status,
// stdout and stderr.
func calMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := NewRoot(&stdout, &stderr)
	if c, _, err := root.Find([]string{"calibrate"}); err != nil || c == root {
		root.AddCommand(newCalibrateCmd())
	}
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		stderr.WriteString("degradiff: " + err.Error() + "\n")
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code, stdout.String(), stderr.String()
		}
		return 1, stdout.String(), stderr.String()
	}
	return 0, stdout.String(), stderr.String()
}

// makeRealLQ writes n "real" LQ images of 80x80: generated scenes
// reduced by 4 (area) and re-enlarged a little, so softer than bicubic.
func makeRealLQ(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		m, err := samples.Render(samples.Names[i%len(samples.Names)], 256, 256, uint64(50+i))
		if err != nil {
			t.Fatal(err)
		}
		lq := resize.Interpolate(resize.Interpolate(m, 64, 64, resize.Area), 80, 80, resize.Bicubic).Clamp()
		if err := imageio.Save(filepath.Join(dir, fmt.Sprintf("cam_%03d.png", i+1)), lq, imageio.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCalibrateEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a small calibration")
	}
	real := makeRealLQ(t, 18)
	hq := makeHQ(t, 4, 256, 256)
	out := filepath.Join(t.TempDir(), "cal")
	// Two images left out by --real-lq-exclude: 16 remain, the fewest
	// that --holdout 0.2 accepts.
	args := []string{"calibrate", "--real-lq", real, "--real-lq-exclude", "cam_017*,cam_018*", "--hq", hq, "--out", out,
		"--budget", "6", "--crop", "256", "--crop-step", "256", "--max-crops", "4", "--check", "3", "--no-c2st"}
	code, stdout, stderr := calMain(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, w := range []string{"held-out gap (4 real LQ images), before (official) -> after (calibrated)", "KID", "FD", "proxy check over 3 configurations", "config: " + filepath.Join(out, "config.yaml")} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout)
		}
	}
	if !strings.Contains(stderr, "fitted on 12 real LQ images (4 held out)") {
		t.Errorf("stderr:\n%s", stderr)
	}
	for _, f := range []string{"config.yaml", "report.md", "report.html", "result.json", "evals.jsonl", "settings.json", "progress.png", "histograms.png", "samples.png"} {
		if !fileExists(filepath.Join(out, f)) {
			t.Errorf("%s missing", f)
		}
	}
	md := readText(t, filepath.Join(out, "report.md"))
	for _, w := range []string{"## Gap before and after", "## Fitted settings", "realesrgan.kernels.blur_sigma", "## Does the proxy agree", "degradiff calibrate --budget 6"} {
		if !strings.Contains(md, w) {
			t.Errorf("report.md lacks %q", w)
		}
	}
	if strings.Contains(md, "taken from evals.jsonl") {
		t.Error("the report of a fresh run says evaluations were taken from an earlier run's log")
	}
	cfg := readText(t, filepath.Join(out, "config.yaml"))
	if !strings.HasPrefix(cfg, "# degradiff calibrate: the official preset's ranges fitted to the real LQ images of\n") || !strings.Contains(cfg, "\npreset: official\n") {
		t.Errorf("config.yaml:\n%s", cfg)
	}

	// config.yaml is a --config file of degrade.
	if _, err := degrade.Load("", filepath.Join(out, "config.yaml")); err != nil {
		t.Fatal(err)
	}
	pairs := t.TempDir()
	if code, msg := run(t, "degrade", "--config", filepath.Join(out, "config.yaml"), "--hq", hq, "--out", pairs); code != 0 {
		t.Fatalf("degrade --config config.yaml: exit %d: %s", code, msg)
	}
	if !fileExists(filepath.Join(pairs, "LR", "shapesa_00.png")) {
		t.Errorf("degrade --config wrote %v", digest(t, pairs))
	}

	// The same command again replays every evaluation and says so.
	evals := readText(t, filepath.Join(out, "evals.jsonl"))
	if code, stdout, stderr := calMain(t, args...); code != 0 {
		t.Fatalf("rerun: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if readText(t, filepath.Join(out, "evals.jsonl")) != evals {
		t.Error("the rerun changed evals.jsonl")
	}
	if !strings.Contains(readText(t, filepath.Join(out, "report.md")), "All of them were taken from evals.jsonl") {
		t.Error("the rerun's report does not say its evaluations were replayed")
	}

	// Other settings into the same folder are refused.
	other := append(append([]string{}, args...), "--seed", "2")
	if code, _, stderr := calMain(t, other...); code != 1 || !strings.Contains(stderr, "other settings") || !strings.Contains(stderr, "seed") {
		t.Errorf("another seed: exit %d: %s", code, stderr)
	}
}

// makeCameraPairs writes n pairs (HR/ and LR/) whose LR images are the
// HR images blurred with a Gaussian of sigma 2 HR pixels and reduced x4.
func makeCameraPairs(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		hr, err := samples.Render(samples.Names[i%len(samples.Names)], 256, 256, uint64(70+i))
		if err != nil {
			t.Fatal(err)
		}
		lr := resize.Imresize(blur.Filter2D(hr, blur.FspecialGaussian(17, 2)), 0.25, true).Round()
		for sub, m := range map[string]*raster.Image{"HR": hr, "LR": lr} {
			if err := imageio.Save(filepath.Join(dir, sub, fmt.Sprintf("cam_%03d.png", i+1)), m, imageio.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// TestCalibratePairs fits the blur of a clean start to pairs made with a
// wider blur: the held-out pairs' Y-PSNR is printed and rises, the report
// and config.yaml say they were fitted to pairs, --out inside --pairs and
// too few pairs are refused.
func TestCalibratePairs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a small calibration")
	}
	pairs := makeCameraPairs(t, 18)
	start := filepath.Join(t.TempDir(), "start.yaml")
	os.WriteFile(start, []byte("preset: official\nrealesrgan:\n  kernels: {kernel_range: [13, 15, 17], kernel_list: [iso], kernel_prob: [1], sinc_prob: 0, blur_sigma: [0.3, 0.5]}\n  final_sinc_prob: 0\n  second_blur_prob: 0\n  resize_prob: [0, 0, 1]\n  resize_prob2: [0, 0, 1]\n  noise_range: [0.1, 0.5]\n  noise_range2: [0.1, 0.5]\n  jpeg_range: [98, 99]\n  jpeg_range2: [98, 99]\n"), 0o644)
	out := filepath.Join(t.TempDir(), "cal")
	args := []string{"calibrate", "--pairs", pairs, "--pairs-exclude", "cam_017*,cam_018*", "--config", start, "--fit", "blur", "--out", out,
		"--budget", "20", "--crop", "256", "--crop-step", "256", "--max-crops", "8", "--check", "2", "--no-c2st"}
	code, stdout, stderr := calMain(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "held-out pairs (4), Y-PSNR against their real LR images, before (official with start.yaml) -> after (calibrated)") {
		t.Errorf("stdout does not name the start:\n%s", stdout)
	}
	if !strings.Contains(stderr, "fitted on 12 real pairs (4 held out)") || !strings.Contains(stderr, " dB") {
		t.Errorf("stderr:\n%s", stderr)
	}
	var before, after, lowBefore, lowAfter float64
	if _, err := fmt.Sscanf(stdout[strings.Index(stdout, "  plain"):], "  plain %f -> %f dB\n  low-pass %f -> %f dB", &before, &after, &lowBefore, &lowAfter); err != nil {
		t.Fatalf("stdout %q: %v", stdout, err)
	}
	if !(after > before+2) || !(lowAfter > lowBefore) {
		t.Errorf("held-out Y-PSNR %.2f -> %.2f, low-pass %.2f -> %.2f: want a better fit", before, after, lowBefore, lowAfter)
	}
	md := readText(t, filepath.Join(out, "report.md"))
	for _, w := range []string{"fitted to real pairs", "## Fit to the held-out pairs", "## Frequency response", "## Gap to the held-out LR images", "real LR crop of the same scene", "--pairs " + pairs} {
		if !strings.Contains(md, w) {
			t.Errorf("report.md lacks %q", w)
		}
	}
	var respBefore, respAfter float64
	if i := strings.Index(stdout, "  frequency response"); i < 0 {
		t.Errorf("stdout lacks the response distance:\n%s", stdout)
	} else if _, err := fmt.Sscanf(stdout[i:], "  frequency response, distance from the cameras' %f -> %f", &respBefore, &respAfter); err != nil || !(respAfter < respBefore) {
		t.Errorf("response distance %.3f -> %.3f (%v): the blur fitted should bring it closer", respBefore, respAfter, err)
	}
	if !strings.Contains(stdout, "  linear upscaler trained on the degradation, Y-PSNR ") {
		t.Errorf("stdout lacks the linear upscaler's PSNR:\n%s", stdout)
	}
	if _, err := os.Stat(filepath.Join(out, "response.png")); err != nil {
		t.Error(err)
	}
	if cfg := readText(t, filepath.Join(out, "config.yaml")); !strings.HasPrefix(cfg, "# degradiff calibrate: the official preset's ranges (with "+start+") fitted to the real pairs of\n") {
		t.Errorf("config.yaml:\n%s", cfg)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"out inside pairs", []string{"calibrate", "--pairs", pairs, "--out", filepath.Join(pairs, "cal")}, "is inside --pairs"},
		{"too few pairs", []string{"calibrate", "--pairs", pairs, "--pairs-include", "cam_00*", "--out", filepath.Join(t.TempDir(), "c")}, "--pairs: 9 pairs are too few"},
	} {
		if code, stdout, stderr := calMain(t, c.args...); code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, want 1 with %q:\n%s%s", c.name, code, c.want, stdout, stderr)
		}
	}
}

func readText(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCalibrateErrors(t *testing.T) {
	real := makeRealLQ(t, 10)
	hq := makeHQ(t, 1, 64, 64)
	out := filepath.Join(t.TempDir(), "cal")
	base := []string{"calibrate", "--real-lq", real, "--hq", hq, "--out", out}
	with := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"seed 0", with("--seed", "0"), "--seed: 0 is reserved"},
		{"no real-lq", []string{"calibrate", "--hq", hq, "--out", out}, "--real-lq: the folder of real LQ images is required"},
		{"no hq", []string{"calibrate", "--real-lq", real, "--out", out}, "--hq: at least one folder"},
		{"no out", []string{"calibrate", "--real-lq", real, "--hq", hq}, "--out is required"},
		{"out inside hq", []string{"calibrate", "--real-lq", real, "--hq", hq, "--out", filepath.Join(hq, "cal")}, "is inside --hq"},
		{"out is real-lq", []string{"calibrate", "--real-lq", real, "--hq", hq, "--out", real}, "is the same folder as --real-lq"},
		{"budget 0", with("--budget", "0"), "--budget: 0 must be at least 1"},
		{"crop 0", with("--crop", "0"), "--crop: 0 must be at least 1"},
		{"crop not multiple", with("--crop", "258"), "--crop: 258 must be at least 32 and a multiple of the scale 4"},
		{"crop too small for features", with("--crop", "128"), "smaller than the 64-pixel feature crops"},
		{"holdout", with("--holdout", "1"), "--holdout: 1 is not a fraction"},
		{"objective", with("--objective", "ssim"), "--objective: \"ssim\" is not one of fd, moments, psnr"},
		{"psnr without pairs", with("--objective", "psnr"), "--objective: psnr compares each degraded crop with the real LR image of the same scene: give real pairs (--pairs)"},
		{"pairs and real-lq", with("--pairs", hq), "--pairs: a fit to real pairs takes its LQ and HQ images from the pairs"},
		{"pairs-include alone", with("--pairs-include", "a*"), "--pairs-include/--pairs-exclude select real pairs: give --pairs DIR"},
		{"no real-lq nor pairs", []string{"calibrate", "--out", out}, "(or --pairs, a folder of real pairs)"},
		{"optimizer", with("--optimizer", "sgd"), "--optimizer: \"sgd\" is not one of cmaes, neldermead"},
		{"fit group", with("--fit", "blur,colour"), "--fit: unknown group \"colour\""},
		{"bicubic", with("--preset", "bicubic"), "no ranges to fit"},
		{"check", with("--check", "-1"), "--check: -1 is negative"},
		{"include nothing", with("--real-lq-include", "nikon_*"), "--real-lq " + real + ": none of its 10 images is left"},
		{"too few real", base, "--real-lq: 10 images are too few to hold out 20% (2 images) and fit on the rest: at least 16 images are needed"},
		{"hq too small", with("--holdout", "0.5"), "is at least 256x256 pixels (--crop)"},
		{"missing config", with("--config", filepath.Join(real, "none.yaml")), "none.yaml"},
	} {
		code, stdout, stderr := calMain(t, c.args...)
		if code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, want 1 with %q:\n%s%s", c.name, code, c.want, stdout, stderr)
		}
	}
	if fileExists(filepath.Join(hq, "cal")) {
		t.Error("--out inside --hq was created")
	}
}

// TestCalibrateThroughStep fits through the diffusion step of a tiny
// model: the outputs say so, the fit differs from one without the step,
// the step's settings are binding on a rerun, and the step's flags alone
// or with --pairs are refused.
func TestCalibrateThroughStep(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a small calibration with a diffusion model")
	}
	real := makeRealLQ(t, 16)
	hq := makeHQ(t, 4, 256, 256)
	model := tinyModel(t)
	common := []string{"calibrate", "--real-lq", real, "--hq", hq, "--budget", "4", "--crop", "256", "--crop-step", "256",
		"--max-crops", "4", "--check", "0", "--no-c2st"}
	step := []string{"--model", model, "--max-strength", "0.3", "--steps", "10", "--refine", "luma"}
	out := filepath.Join(t.TempDir(), "cal")
	code, stdout, stderr := calMain(t, append(append(common, step...), "--out", out)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	cfg := readText(t, filepath.Join(out, "config.yaml"))
	if !strings.Contains(cfg, "through the diffusion step (model ") || !strings.Contains(cfg, "10 steps, strength <= 0.3, refine luma)") || !strings.Contains(cfg, "with the same model and settings") {
		t.Errorf("config.yaml does not name the step:\n%s", cfg)
	}
	if md := readText(t, filepath.Join(out, "report.md")); !strings.Contains(md, "The fit went through the diffusion step") {
		t.Error("report.md does not say the fit went through the step")
	}

	// Without the step the same fit measures other LQ images.
	plain := filepath.Join(t.TempDir(), "cal")
	if code, _, stderr := calMain(t, append(common, "--out", plain)...); code != 0 {
		t.Fatalf("without the step: exit %d\n%s", code, stderr)
	}
	if readText(t, filepath.Join(plain, "evals.jsonl")) == readText(t, filepath.Join(out, "evals.jsonl")) {
		t.Error("the step changed no evaluation")
	}

	// The step's settings are part of the run's: another strength into
	// the same folder is refused, naming the step.
	other := append(append(common, "--model", model, "--max-strength", "0.2", "--steps", "10", "--refine", "luma"), "--out", out)
	if code, _, stderr := calMain(t, other...); code != 1 || !strings.Contains(stderr, "other settings") || !strings.Contains(stderr, "step") {
		t.Errorf("another strength: exit %d: %s", code, stderr)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{append(append(common, "--out", filepath.Join(t.TempDir(), "x")), "--max-strength", "0.2"), "--max-strength sets the diffusion step of --model"},
		{[]string{"calibrate", "--pairs", makeCameraPairs(t, 16), "--model", model, "--out", filepath.Join(t.TempDir(), "x")}, "--model: a fit through the diffusion step takes --real-lq and --hq, not --pairs"},
	} {
		if code, _, stderr := calMain(t, c.args...); code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
	}
}

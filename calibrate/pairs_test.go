package calibrate

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/degrade/blur"
	"github.com/degradiff/degradiff/degrade/resize"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/measure/response"
	"github.com/degradiff/degradiff/pairset/pairread"
	"github.com/degradiff/degradiff/samples"
)

// tinyPairs writes n pairs whose LR images are their 256x256 HR images
// blurred with a Gaussian of sigma HR pixels and downscaled x4 (MATLAB
// bicubic), as a camera with that blur would make them.
func tinyPairs(t *testing.T, n int, sigma float64) *pairread.Set {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		hr, err := samples.Render(samples.Names[i%len(samples.Names)], 256, 256, uint64(200+i))
		if err != nil {
			t.Fatal(err)
		}
		lr := resize.Imresize(blur.Filter2D(hr, blur.FspecialGaussian(17, sigma)), 0.25, true).Round()
		if err := imageio.Save(filepath.Join(dir, "HR", fmt.Sprintf("p%02d.png", i)), hr, imageio.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := imageio.Save(filepath.Join(dir, "LR", fmt.Sprintf("p%02d.png", i)), lr, imageio.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	set, err := pairread.Open(dir, 4)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// cameraStart is a clean official pipeline with too little blur: one
// isotropic Gaussian, no resizes, sinc or second blur, near-zero noise,
// light JPEG.
func cameraStart(t *testing.T) degrade.Config {
	t.Helper()
	c, err := degrade.Parse([]byte(`
realesrgan:
  kernels: {kernel_range: [13, 15, 17], kernel_list: [iso], kernel_prob: [1], sinc_prob: 0, blur_sigma: [0.3, 0.5]}
  final_sinc_prob: 0
  resize_prob: [0, 0, 1]
  gaussian_noise_prob: 1
  noise_range: [0.1, 0.5]
  jpeg_range: [98, 99]
  second_blur_prob: 0
  resize_prob2: [0, 0, 1]
  noise_range2: [0.1, 0.5]
  jpeg_range2: [98, 99]
`), loadPreset(t, "official"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRunPairs fits the blur to pairs made with a Gaussian of sigma 2: the
// fitted first blur must move from [0.3, 0.5] to around 2, the held-out
// pairs must be explained better, and the rest of a calibration's outputs
// must be there.
func TestRunPairs(t *testing.T) {
	set := tinyPairs(t, 16, 2)
	base := cameraStart(t)
	opt := Options{
		Preset: "official", Base: base, Groups: []string{"blur"}, Budget: 30, Seed: 3,
		Crop: 128, CropStep: 128, MaxCrops: 8, Check: 2,
		Features: tinyOptions(t, 1).Features, C2ST: tinyOptions(t, 1).C2ST,
	}
	dir := t.TempDir()
	in := Inputs{Pairs: set.Dir}
	res, err := RunPairs(context.Background(), set, in, opt, dir)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pairs != set.Dir || res.FitImages != 12 || res.HeldImages != 4 || res.HQCrops != 8 || res.Options.Objective != ObjectivePSNR {
		t.Errorf("result %+v", res)
	}
	b, a := res.Before.Pairs, res.After.Pairs
	if b == nil || a == nil || b.Pairs != 4 {
		t.Fatalf("held-out pair fits %+v, %+v", b, a)
	}
	if !(a.PSNR > b.PSNR+2) || !(a.LowPSNR > b.LowPSNR) || res.FitAfter >= res.FitBefore || res.After.Proxy != -a.PSNR {
		t.Errorf("held-out Y-PSNR %.2f -> %.2f (low-pass %.2f -> %.2f), fit objective %.2f -> %.2f: the fit should explain the pairs better",
			b.PSNR, a.PSNR, b.LowPSNR, a.LowPSNR, res.FitBefore, res.FitAfter)
	}
	back, err := degrade.Load("", filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	s := back.RealESRGAN.Kernels.BlurSigma
	if mid := (s[0] + s[1]) / 2; !(mid > 1.3 && mid < 2.8) {
		t.Errorf("fitted blur sigma %v, want around 2", s)
	}
	t.Logf("blur sigma %v; held-out Y-PSNR %.2f -> %.2f, low-pass %.2f -> %.2f", s, b.PSNR, a.PSNR, b.LowPSNR, a.LowPSNR)
	header := readFile(t, filepath.Join(dir, ConfigFile))
	if !strings.Contains(header, "fitted to the real pairs of") || !strings.Contains(header, "held-out pairs") {
		t.Errorf("config.yaml's header does not say it was fitted to pairs:\n%s", header)
	}
	for _, f := range []string{ResultFile, EvalsFile, ProgressPNG, HistogramsPNG, SamplesPNG} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	// A rerun replays every evaluation and measures the same.
	res2, err := RunPairs(context.Background(), set, in, opt, dir)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Replayed != opt.Budget || !reflect.DeepEqual(res2.After.Pairs, a) || res2.After.KID != res.After.KID {
		t.Errorf("rerun: %d replayed, held-out %+v vs %+v", res2.Replayed, res2.After.Pairs, a)
	}
}

// fitPlantedBlur fits the first blur of cameraStart by objective to pairs
// made with a Gaussian of sigma 2: the fitted sigma must land around 2.
func fitPlantedBlur(t *testing.T, objective string) *Result {
	t.Helper()
	set := tinyPairs(t, 16, 2)
	opt := Options{
		Preset: "official", Base: cameraStart(t), Groups: []string{"blur"}, Budget: 24, Seed: 3, Objective: objective,
		Crop: 128, CropStep: 128, MaxCrops: 8, Check: -1,
		Features: tinyOptions(t, 1).Features, C2ST: tinyOptions(t, 1).C2ST,
	}
	dir := t.TempDir()
	res, err := RunPairs(context.Background(), set, Inputs{Pairs: set.Dir}, opt, dir)
	if err != nil {
		t.Fatal(err)
	}
	back, err := degrade.Load("", filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	sigma := back.RealESRGAN.Kernels.BlurSigma
	if mid := (sigma[0] + sigma[1]) / 2; !(mid > 1.3 && mid < 2.8) {
		t.Errorf("%s: fitted blur sigma %v, want around 2", objective, sigma)
	}
	if res.FitAfter >= res.FitBefore {
		t.Errorf("%s: fit objective %.3f -> %.3f: the fit should come closer", objective, res.FitBefore, res.FitAfter)
	}
	t.Logf("%s: blur sigma %v", objective, sigma)
	return res
}

// TestRunPairsResponse fits the planted blur by the frequency response:
// the held-out response must come closer to the cameras', pooled and pair
// by pair (the proxy), as must its gains at the middle frequencies, which
// a blur of [0.3, 0.5] barely lowers.
func TestRunPairsResponse(t *testing.T) {
	res := fitPlantedBlur(t, ObjectiveResponse)
	b, a := res.Before.Pairs, res.After.Pairs
	if !(a.Response < b.Response/2) || res.After.Proxy != a.PairResponse {
		t.Errorf("held-out response distance %.3f -> %.3f (proxy %.3f): the fit should come closer", b.Response, a.Response, res.After.Proxy)
	}
	if !(a.PairResponse > 0 && a.PairResponse < b.PairResponse) {
		t.Errorf("pair by pair response distance %.3f -> %.3f", b.PairResponse, a.PairResponse)
	}
	mid := slices.Index(response.Frequencies, 0.25)
	if len(a.Gains) != len(response.Frequencies) || len(a.CameraGains) != len(a.Gains) ||
		!(math.Abs(a.Gains[mid]-a.CameraGains[mid]) < math.Abs(b.Gains[mid]-b.CameraGains[mid])/2) {
		t.Errorf("gains at 0.25 cycles/px: camera %v, before %v, after %v", a.CameraGains, b.Gains, a.Gains)
	}
}

// TestRunPairsLinearSR fits the planted blur by the linear upscaler's PSNR
// on the real crops: the upscaler trained on the right blur restores the
// pairs best, so the held-out upscaler's PSNR (the proxy, negated) must
// rise.
func TestRunPairsLinearSR(t *testing.T) {
	res := fitPlantedBlur(t, ObjectiveLinearSR)
	b, a := res.Before.Pairs, res.After.Pairs
	if !(a.LinearSR > b.LinearSR+1) || res.After.Proxy != -a.LinearSR {
		t.Errorf("held-out upscaler Y-PSNR %.2f -> %.2f (proxy %.3f): the fit should restore better", b.LinearSR, a.LinearSR, res.After.Proxy)
	}
}

// TestPreparePairsRefuses checks the objective and group defaults of a fit
// to pairs, and its refusals.
func TestPreparePairsRefuses(t *testing.T) {
	set := tinyPairs(t, 10, 1)
	opt := Options{Preset: "official", Base: cameraStart(t), Crop: 128, CropStep: 128, Features: tinyOptions(t, 1).Features, Holdout: 0.4}
	p, err := PreparePairs(set, opt)
	if err != nil {
		t.Fatal(err)
	}
	if p.Opt.Objective != ObjectivePSNR || !slices.Equal(p.Opt.Groups, CoarseGroups) || len(p.Crops) != 4*len(p.Fit) || len(p.heldPairs) != 4 {
		t.Errorf("defaults: objective %q, groups %v, %d crops of %d pairs, %d held out", p.Opt.Objective, p.Opt.Groups, len(p.Crops), len(p.Fit), len(p.heldPairs))
	}
	for i, c := range p.Crops {
		if p.imgs[i].H != 4*p.lrs[i].H || p.imgs[i].W != 4*p.lrs[i].W || c.Box[2] != 128 {
			t.Errorf("crop %s: HR %dx%d, LR %dx%d", c.Name, p.imgs[i].W, p.imgs[i].H, p.lrs[i].W, p.lrs[i].H)
		}
	}
	for _, c := range []struct {
		name string
		mod  func(o *Options)
		want string
	}{
		{"objective", func(o *Options) { o.Objective = "moments" }, "a fit to --pairs uses psnr, response, linear-sr"},
		{"holdout", func(o *Options) { o.Holdout = 0.2 }, "--pairs: 10 pairs are too few"},
		{"crop", func(o *Options) { o.Crop = 512 }, "--crop"},
		{"group", func(o *Options) { o.Groups = []string{"lens"} }, `unknown group "lens"`},
	} {
		o := opt
		c.mod(&o)
		if _, err := PreparePairs(set, o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
	var log bytes.Buffer
	warned := opt
	warned.Objective, warned.Groups, warned.Log = ObjectiveLinearSR, []string{"blur", "noise"}, &log
	if _, err := PreparePairs(set, warned); err != nil || !strings.Contains(log.String(), "warning: --objective linear-sr") {
		t.Errorf("linear-sr with the noise group: %v, log %q, want a warning", err, log.String())
	}
	real, hq := tinyInputs(t, 16)
	o := tinyOptions(t, 1)
	o.Objective = ObjectivePSNR
	if _, err := Prepare(real, hq, o); err == nil || !strings.Contains(err.Error(), "--pairs") {
		t.Errorf("psnr without pairs: %v", err)
	}
	o.Objective = ObjectiveResponse
	if _, err := Prepare(real, hq, o); err == nil || !strings.Contains(err.Error(), "--pairs") {
		t.Errorf("response without pairs: %v", err)
	}
}

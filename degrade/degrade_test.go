package degrade

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/samples"
)

func testImage(t *testing.T, h, w int) *raster.Image {
	t.Helper()
	m, err := samples.Render("shapes", h, w, 3)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPresetsLoadAndValidate(t *testing.T) {
	names := Presets()
	for _, want := range []string{"bicubic", "bsrgan", "face", "official", "realesrgan"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("preset %s missing from %v", want, names)
		}
	}
	for _, n := range names {
		c, err := LoadPreset(n)
		if err != nil {
			t.Errorf("preset %s: %v", n, err)
			continue
		}
		if _, err := New(c); err != nil {
			t.Errorf("preset %s: New: %v", n, err)
		}
	}
}

func TestOfficialPresetValues(t *testing.T) {
	c, err := LoadPreset("official")
	if err != nil {
		t.Fatal(err)
	}
	r := c.RealESRGAN
	checks := []struct {
		name      string
		got, want any
	}{
		{"scale", c.Scale, 4},
		{"resize_back", c.ResizeBack, false},
		{"resize_prob", r.ResizeProb, [3]float64{0.2, 0.7, 0.1}},
		{"resize_range", r.ResizeRange, [2]float64{0.3, 1.5}},
		{"noise_range", r.NoiseRange, [2]float64{1, 15}},
		{"poisson_scale_range", r.PoissonScaleRange, [2]float64{0.05, 2.0}},
		{"jpeg_range", r.JPEGRange, [2]float64{60, 95}},
		{"second_blur_prob", r.SecondBlurProb, 0.5},
		{"resize_prob2", r.ResizeProb2, [3]float64{0.3, 0.4, 0.3}},
		{"resize_range2", r.ResizeRange2, [2]float64{0.6, 1.2}},
		{"noise_range2", r.NoiseRange2, [2]float64{1, 12}},
		{"poisson_scale_range2", r.PoissonScaleRange2, [2]float64{0.05, 1.0}},
		{"jpeg_range2", r.JPEGRange2, [2]float64{60, 100}},
		{"final_sinc_prob", r.FinalSincProb, 0.8},
		{"blur_sigma", r.Kernels.BlurSigma, [2]float64{0.2, 3}},
		{"blur_sigma2", r.Kernels2.BlurSigma, [2]float64{0.2, 1.5}},
		{"usm", r.USMSharpen, false},
	}
	for _, c := range checks {
		if !jsonEqual(c.got, c.want) {
			t.Errorf("official %s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestUserOverrides(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) string {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := Load("", write("preset: realesrgan\nscale: 2\nrealesrgan:\n  noise_range: [1, 5]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Scale != 2 || c.RealESRGAN.NoiseRange != [2]float64{1, 5} || c.RealESRGAN.JPEGRange != [2]float64{30, 95} || c.Preset != "realesrgan" {
		t.Fatalf("override not applied on top of the preset: %+v", c)
	}
	bad := []struct{ text, want string }{
		{"realesrgan:\n  noise_rnage: [1, 5]\n", "noise_rnage"},
		{"scale: four\n", "four"},
		{"realesrgan:\n  noise_range: [9, 5]\n", "realesrgan.noise_range: min 9 > max 5"},
		{"realesrgan:\n  gaussian_noise_prob: 1.5\n", "realesrgan.gaussian_noise_prob"},
		{"type: blurry\n", "type"},
		{"face:\n  blur_kernel_size: 40\n", "face.blur_kernel_size"},
		{"face:\n  degrade_size: 8\n", "face.degrade_size"},
		{"face:\n  blur_sigma: [3, 3]\n", "face.blur_sigma: blur: sigma_x range [3 3]"},
		// Issue 12 case 1: an overflowing sigma hung degrade.
		{"realesrgan:\n  kernels:\n    blur_sigma: [0.2, 1e160]\n", "realesrgan.kernels: blur: sigma_x range"},
		// Issue 12 case 12: NaN names its key (and Load's error its file).
		{"realesrgan:\n  noise_range: [1, .nan]\n", "realesrgan.noise_range[1]"},
		{"face:\n  noise_range: [.nan, 3]\n", "face.noise_range[0]"},
		{"realesrgan:\n  final_sinc_omega: [2, 1]\n", "realesrgan.final_sinc_omega"},
		{"realesrgan:\n  final_sinc_omega: [0, 1]\n", "realesrgan.final_sinc_omega"},
		{"realesrgan:\n  final_sinc_omega: [1, 3.5]\n", "realesrgan.final_sinc_omega"},
		{"realesrgan:\n  final_sinc_omega: [1]\n", "realesrgan.final_sinc_omega"},
		{"realesrgan:\n  final_sinc_kernel_range: [8]\n", "realesrgan.final_sinc_kernel_range"},
	}
	for _, b := range bad {
		base := "official"
		if strings.HasPrefix(b.text, "face") {
			base = "face"
		}
		_, err := Load(base, write(b.text))
		if err == nil || !strings.Contains(err.Error(), b.want) || !strings.Contains(err.Error(), "c.yaml") {
			t.Errorf("config %q: error %v, want one naming %q", b.text, err, b.want)
		}
	}
	if _, err := Load("nosuch", ""); err == nil || !strings.Contains(err.Error(), "official") {
		t.Errorf("unknown preset error should list the presets, got %v", err)
	}
}

// TestJPEGQuality100 checks that jpeg_range may reach 100, which
// DiffJPEG's quantisation factor 200-2q turns into a division by zero:
// quality 100 compresses almost losslessly instead of panicking or
// overflowing.
func TestJPEGQuality100(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	text := "preset: official\nrealesrgan:\n  jpeg_range: [100, 100]\n  jpeg_range2: [100, 100]\n"
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load("", p)
	if err != nil {
		t.Fatal(err)
	}
	pipe, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 3; k++ {
		_, lr, rec, err := Degrade(pipe, testImage(t, 96, 80), 7, "img", k)
		if err != nil {
			t.Fatalf("variant %d: %v", k, err)
		}
		if q := rec.Params.RealESRGAN; q.JPEG1 != 100 || q.JPEG2 != 100 {
			t.Fatalf("variant %d: qualities %v and %v drawn, want 100", k, q.JPEG1, q.JPEG2)
		}
		// Nearly lossless: the LR image of quality 99 differs from it by
		// about a grey level at most, where a broken quantisation gives
		// noise.
		rec.Params.RealESRGAN.JPEG1, rec.Params.RealESRGAN.JPEG2 = 99, 99
		hr, _, _, _ := Degrade(pipe, testImage(t, 96, 80), 7, "img", k)
		lr99, err := Replay(pipe, hr, rec)
		if err != nil {
			t.Fatal(err)
		}
		var worst float64
		for i, v := range lr.Pix {
			worst = math.Max(worst, math.Abs(float64(v-lr99.Pix[i])))
		}
		if worst > 4.0/255 {
			t.Fatalf("variant %d: quality 100 differs from quality 99 by %.1f grey levels", k, worst*255)
		}
	}
}

// TestPipelines runs every preset on a generated image: sizes, range,
// 8-bit quantisation, determinism and replay from the JSON record.
func TestPipelines(t *testing.T) {
	hr := testImage(t, 96, 80)
	for _, name := range Presets() {
		t.Run(name, func(t *testing.T) {
			c, _ := LoadPreset(name)
			p, err := New(c)
			if err != nil {
				t.Fatal(err)
			}
			for k := 0; k < 6; k++ {
				hrOut, lr, rec, err := Degrade(p, hr, 42, "img", k)
				if err != nil {
					t.Fatalf("variant %d: %v", k, err)
				}
				wantH, wantW := hrOut.H/c.Scale, hrOut.W/c.Scale
				if c.ResizeBack {
					wantH, wantW = hrOut.H, hrOut.W
				}
				if lr.H != wantH || lr.W != wantW || lr.C != 3 {
					t.Fatalf("variant %d: LR %dx%dx%d, want %dx%dx3", k, lr.W, lr.H, lr.C, wantW, wantH)
				}
				for i, v := range lr.Pix {
					if v < 0 || v > 1 || math.Abs(float64(v)*255-math.Round(float64(v)*255)) > 1e-3 {
						t.Fatalf("variant %d: pixel %d = %v is not an 8-bit level in [0,1]", k, i, v)
					}
				}
				_, lr2, _, _ := Degrade(p, hr, 42, "img", k)
				if !equal(lr, lr2) {
					t.Fatalf("variant %d: not deterministic", k)
				}
				b, _ := json.Marshal(rec)
				rec2, err := ParseRecord(b)
				if err != nil {
					t.Fatal(err)
				}
				lr3, err := Replay(p, hrOut, rec2)
				if err != nil {
					t.Fatal(err)
				}
				if !equal(lr, lr3) {
					t.Fatalf("variant %d: replay from the JSON record differs (%s)", k, b)
				}
			}
		})
	}
}

// TestFaceDegradeSize checks that the face preset degrades a face of
// another size as it degrades a 512-pixel face: a 512-pixel face is
// untouched by the option, and a 128-pixel face loses about what a
// 512-pixel one loses, far less than when degraded at its own size.
func TestFaceDegradeSize(t *testing.T) {
	fixed := func(size int) Pipeline {
		c, err := LoadPreset("face")
		if err != nil {
			t.Fatal(err)
		}
		f := &c.Face
		f.BlurSigma, f.DownsampleRange, f.NoiseRange, f.JPEGRange = [2]float64{2.9, 3}, [2]float64{6, 6}, [2]float64{0, 0}, [2]float64{100, 100}
		f.ColorJitterProb, f.ColorJitterPtProb, f.GrayProb = 0, 0, 0
		f.DegradeSize = size
		p, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	hr512 := testImage(t, 512, 512)
	_, a, _, err := Degrade(fixed(512), hr512, 1, "face", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, b, _, _ := Degrade(fixed(0), hr512, 1, "face", 0)
	if !equal(a, b) {
		t.Error("degrade_size 512 changes the degradation of a 512-pixel face")
	}
	psnr := func(x, y *raster.Image) float64 {
		var se float64
		for i := range x.Pix {
			d := float64(x.Pix[i] - y.Pix[i])
			se += d * d
		}
		return -10 * math.Log10(se/float64(len(x.Pix)))
	}
	at512 := psnr(a, hr512)
	hr128 := testImage(t, 128, 128)
	_, lq512, _, err := Degrade(fixed(512), hr128, 1, "face", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, lqOwn, _, _ := Degrade(fixed(0), hr128, 1, "face", 0)
	if lq512.H != 128 || lq512.W != 128 {
		t.Fatalf("LQ face %dx%d, want 128x128", lq512.W, lq512.H)
	}
	scaled, own := psnr(lq512, hr128), psnr(lqOwn, hr128)
	t.Logf("PSNR to HQ: 512 face %.2f dB; 128 face degraded at 512 %.2f dB, at its own size %.2f dB", at512, scaled, own)
	if scaled < own+3 {
		t.Errorf("a 128-pixel face degraded at 512 (%.2f dB) is not much closer to its HQ than one degraded at 128 (%.2f dB)", scaled, own)
	}
}

func equal(a, b *raster.Image) bool {
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

func TestDeterministicAcrossGOMAXPROCS(t *testing.T) {
	hr := testImage(t, 64, 64)
	c, _ := LoadPreset("official")
	p, _ := New(c)
	run := func(procs int) *raster.Image {
		old := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(old)
		_, lr, _, err := Degrade(p, hr, 7, "a/b", 1)
		if err != nil {
			t.Fatal(err)
		}
		return lr
	}
	if !equal(run(1), run(3)) {
		t.Fatal("official pipeline output depends on GOMAXPROCS")
	}
}

func TestVariantsDiffer(t *testing.T) {
	hr := testImage(t, 64, 64)
	c, _ := LoadPreset("official")
	p, _ := New(c)
	_, a, _, _ := Degrade(p, hr, 1, "x", 0)
	_, b, _, _ := Degrade(p, hr, 1, "x", 1)
	_, d, _, _ := Degrade(p, hr, 2, "x", 0)
	if equal(a, b) || equal(a, d) {
		t.Fatal("different variants or seeds gave identical LR images")
	}
}

func TestTooSmall(t *testing.T) {
	c, _ := LoadPreset("official")
	p, _ := New(c)
	_, _, _, err := Degrade(p, testImage(t, 12, 40), 1, "x", 0)
	if err == nil || !strings.Contains(err.Error(), "too small") {
		t.Fatalf("12-row image at scale 4: error %v, want 'too small'", err)
	}
}

func TestOfficialLRSize(t *testing.T) {
	// Official: LR is exactly HR/4 with no resize back, whatever the
	// intermediate random resizes did.
	c, _ := LoadPreset("official")
	p, _ := New(c)
	for _, sz := range [][2]int{{64, 64}, {70, 90}, {128, 48}} {
		hr := testImage(t, sz[0], sz[1])
		hrOut, lr, _, err := Degrade(p, hr, 3, "s", 0)
		if err != nil {
			t.Fatal(err)
		}
		if hrOut.H%4 != 0 || hrOut.W%4 != 0 || lr.H*4 != hrOut.H || lr.W*4 != hrOut.W {
			t.Fatalf("HR %v -> prepared %dx%d, LR %dx%d", sz, hrOut.H, hrOut.W, lr.H, lr.W)
		}
	}
}

// TestShippedConfigs loads the degradation files under configs/ (the
// RealSR camera fits) and degrades an image with each: they must stay
// valid as keys change, and the narrowed final sinc must be drawn.
func TestShippedConfigs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "configs", "realsr-*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no configs/realsr-*.yaml found (%v)", err)
	}
	for _, f := range files {
		c, err := Load("", f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		p, err := New(c)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		_, lr, params, err := Degrade(p, testImage(t, 64, 64), 1, "x", 0)
		if err != nil || lr.H != 16 || lr.W != 16 {
			t.Fatalf("%s: LR %v, err %v", f, lr, err)
		}
		b, _ := json.Marshal(params)
		if omega := c.RealESRGAN.FinalSincOmega; len(omega) == 2 && !strings.Contains(string(b), `"omega_c"`) {
			t.Errorf("%s: final sinc [%v] not drawn: %s", f, omega, b)
		}
	}
	// The face start of docs/RESULTS-faces.md: the face preset with its
	// blur and downsampling halved.
	c, err := Load("", filepath.Join("..", "configs", "face-half.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Type != "face" || c.Face.BlurSigma != [2]float64{0.1, 5} || c.Face.DownsampleRange != [2]float64{0.8, 4} {
		t.Errorf("face-half.yaml: type %s, blur sigma %v, downsampling %v", c.Type, c.Face.BlurSigma, c.Face.DownsampleRange)
	}
}

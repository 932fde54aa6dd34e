package main

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/degrade/blur"
	"github.com/degradiff/degradiff/degrade/resize"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/measure/response"
	"github.com/degradiff/degradiff/pairset/pairread"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/samples"
)

// writePair saves hr and lr as dir/HR/name and dir/LR/name.
func writePair(t *testing.T, dir, name string, hr, lr *raster.Image) {
	t.Helper()
	for sub, m := range map[string]*raster.Image{"HR": hr, "LR": lr} {
		if err := imageio.Save(filepath.Join(dir, sub, name), m, imageio.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMeasure makes pairs whose LR images are their HR images blurred with
// sigma 1.5 and downscaled as the sweep does: the sweep must find 1.5 for
// every pair, and the bicubic preset (no blur) must explain them worse
// than that sigma does. The free filters fitted to the real LR images and
// to the sigma 1.5 reference must agree, and the bicubic preset's must
// keep every frequency.
func TestMeasure(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		hr, err := samples.Render(samples.Names[i%len(samples.Names)], 96, 96, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		lr := resize.Imresize(blur.Filter2D(hr, blur.FspecialGaussian(13, 1.5)), 0.25, true).Round()
		writePair(t, dir, fmt.Sprintf("p%d.png", i), hr, lr)
	}
	set, err := pairread.Open(dir, 4)
	if err != nil {
		t.Fatal(err)
	}
	c, err := degrade.LoadPreset("bicubic")
	if err != nil {
		t.Fatal(err)
	}
	p, err := degrade.New(c)
	if err != nil {
		t.Fatal(err)
	}
	res, err := measure(set, []float64{0, 1.5, 3}, []degrade.Pipeline{p}, []string{"bicubic"}, 2, 1, 1.5, 0, 5, 1.5)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.BestSigmas) != 2 || res.BestSigmas[0] != 1.5 || res.BestSigmas[1] != 1.5 {
		t.Errorf("best sigmas %v, want 1.5 for both pairs", res.BestSigmas)
	}
	exact := res.Sigmas[1]
	if !(exact.PSNR > 50) || !(res.Sigmas[0].PSNR < exact.PSNR-3) || !(res.Sigmas[2].PSNR < exact.PSNR-3) {
		t.Errorf("sweep %+v: sigma 1.5 should explain the pairs far better", res.Sigmas)
	}
	if tone := res.Tone; tone == nil || math.Abs(tone.Offset) > 0.05 || math.Abs(tone.Gain-1) > 0.01 || math.Abs(tone.PSNR-exact.PSNR) > 0.5 {
		t.Errorf("tone at the exact sigma %+v: want no offset, gain 1 and the sweep's PSNR %.2f", tone, exact.PSNR)
	}
	bic := res.Degradations[0]
	if bic.Name != "bicubic" || !(bic.PSNR < exact.PSNR) || !(bic.LowPSNR > bic.PSNR) || math.IsNaN(bic.LowPSNR) {
		t.Errorf("bicubic preset %+v against sigma 1.5 %+v", bic, exact)
	}
	if res.Kernel == nil || res.KernelRef == nil || len(res.KernelDegradations) != 1 {
		t.Fatalf("kernel fits %+v, %+v, %d for degradations: want all three", res.Kernel, res.KernelRef, len(res.KernelDegradations))
	}
	for _, f := range []float64{0.1, 0.25, 0.4} {
		real, ref, bicubic := res.Kernel.Gain(f), res.KernelRef.Gain(f), res.KernelDegradations[0].Gain(f)
		if math.Abs(real-ref) > 0.01 || !(real < bicubic-0.02) || math.Abs(bicubic-1) > 0.02 {
			t.Errorf("gain at %.2f cycles/px: real %.3f, sigma 1.5 %.3f (want equal, below the bicubic preset), bicubic preset %.3f (want 1)", f, real, ref, bicubic)
		}
	}
}

// TestAligned makes LR images from HR images blurred with sigma 1 and
// shifted by 3 HR pixels across and -2 down: the aligned sweep must find
// the shift and sigma 1, and explain the pairs better than the plain sweep,
// which widens the blur to hide the shift.
func TestAligned(t *testing.T) {
	dir := t.TempDir()
	const dx, dy = 3, -2
	for i := 0; i < 2; i++ {
		big, err := samples.Render(samples.Names[i%len(samples.Names)], 136, 136, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		hr := big.Crop(4, 4, 128, 128)
		lr := resize.Imresize(blur.Filter2D(big, blur.FspecialGaussian(9, 1)).Crop(4+dy, 4+dx, 128, 128), 0.25, true).Round()
		writePair(t, dir, fmt.Sprintf("p%d.png", i), hr, lr)
	}
	set, err := pairread.Open(dir, 4)
	if err != nil {
		t.Fatal(err)
	}
	res, err := measure(set, []float64{0, 1, 2}, nil, nil, 1, 1, -1, 4, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	a := res.Aligned
	if a == nil || len(a.BestSigmas) != 2 || a.BestSigmas[0] != 1 || a.BestSigmas[1] != 1 || a.Unshifted != 0 {
		t.Fatalf("aligned sweep %+v: want sigma 1 for both pairs, both shifted", a)
	}
	for i, s := range a.Shifts {
		if s != [2]int{dx, dy} {
			t.Errorf("pair %d: shift %v, want (%d, %d)", i, s, dx, dy)
		}
	}
	if !(a.Sigmas[1].PSNR > 45) || !(a.Sigmas[1].PSNR > res.Sigmas[1].PSNR+5) {
		t.Errorf("aligned PSNR at sigma 1 %.2f, plain %.2f: the shift should explain the misfit", a.Sigmas[1].PSNR, res.Sigmas[1].PSNR)
	}
	if _, err := measure(set, []float64{1}, nil, nil, 1, 1, -1, 8, 0, 0); err != nil {
		t.Errorf("--max-shift 8 on 128 px images: %v", err)
	}
}

// TestKernel makes LR images by filtering the HR images downscaled
// without blur with a known 3x3 sharpening filter: the free fit must find
// it, explain the pairs almost exactly, and show its gain above 1 at mid
// frequencies, where the Gaussian reference's is below 1.
func TestKernel(t *testing.T) {
	want := []float64{0, -0.1, 0, -0.1, 1.5, -0.1, 0, -0.1, 0}
	var down, real, ref []*raster.Image
	for i := 0; i < 2; i++ {
		hr, err := samples.Render(samples.Names[i%len(samples.Names)], 128, 128, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		d := blurDown(hr, 0, 4)
		down, real, ref = append(down, d), append(real, (&response.Filter{Size: 3, Weights: want, Offset: -0.05}).Apply(d)), append(ref, blurDown(hr, 1.5, 4))
	}
	fits, err := fitKernels(5, 4, down, real, ref)
	if err != nil {
		t.Fatal(err)
	}
	k, r := fits[0], fits[1]
	for i, w := range k.Weights {
		y, x := i/5, i%5
		var exact float64
		if y >= 1 && y <= 3 && x >= 1 && x <= 3 {
			exact = want[(y-1)*3+x-1]
		}
		if math.Abs(w-exact) > 1e-3 {
			t.Errorf("weight (%d, %d) = %.4f, want %.4f", y, x, w, exact)
		}
	}
	if math.Abs(k.Offset+0.05) > 1e-3 || !(k.PSNR > 60) || !(k.Plain < k.PSNR-10) {
		t.Errorf("fit offset %.4f (want -0.05), PSNR %.2f (unfiltered %.2f)", k.Offset, k.PSNR, k.Plain)
	}
	if g := k.Gain(0); math.Abs(g-1.1) > 1e-3 {
		t.Errorf("DC gain %.4f, want 1.1 (the filter's sum)", g)
	}
	if g, gr := k.Gain(0.25), r.Gain(0.25); !(g > 1.2) || !(gr < 1) {
		t.Errorf("gain at 0.25 cycles/px: fit %.3f (want the sharpening's 1.3), Gaussian %.3f (want below 1)", g, gr)
	}
}

// TestTone gives the real images a contrast gain of 0.8 and an offset: the
// tone check must find them, and the gain and offset must explain nearly
// all of the misfit.
func TestTone(t *testing.T) {
	var f toneFit
	for i := 0; i < 2; i++ {
		lq, err := samples.Render(samples.Names[i], 64, 64, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		lr := lq.Clone()
		for k, v := range lr.Pix {
			lr.Pix[k] = 0.8*v + 0.15
		}
		f.add(lq.Round(), lr, 4)
	}
	f.finish()
	// Every channel's mean v moves by 0.15*255 - 0.2*v > 0, and Y by
	// 0.15*219 - 0.2*(Y-16) > 0.
	if f.n != 2 || !(f.Offset > 5 && f.Offset < 33) || math.Abs(f.Gain-0.8) > 0.01 || f.ChannelOffset[0] <= 0 || f.ChannelOffset[1] <= 0 || f.ChannelOffset[2] <= 0 {
		t.Errorf("tone %+v: want positive offsets and gain 0.8", f)
	}
	if !(f.Linear > 45) || !(f.Linear > f.Shifted+5) || !(f.Shifted > f.PSNR) {
		t.Errorf("PSNR plain %.2f, shifted %.2f, linear %.2f: the gain and offset should explain the misfit", f.PSNR, f.Shifted, f.Linear)
	}
}

func TestParseSigmas(t *testing.T) {
	if s, err := parseSigmas("0, 1.5,2"); err != nil || len(s) != 3 || s[1] != 1.5 {
		t.Errorf("parseSigmas = %v, %v", s, err)
	}
	for _, bad := range []string{"", "-1", "NaN", "21", "1,,2", "x"} {
		if _, err := parseSigmas(bad); err == nil {
			t.Errorf("parseSigmas(%q) accepted", bad)
		}
	}
}

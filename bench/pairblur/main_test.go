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
	"github.com/degradiff/degradiff/pairset/pairread"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/samples"
)

// TestMeasure makes pairs whose LR images are their HR images blurred with
// sigma 1.5 and downscaled as the sweep does: the sweep must find 1.5 for
// every pair, and the bicubic preset (no blur) must explain them worse
// than that sigma does.
func TestMeasure(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		hr, err := samples.Render(samples.Names[i%len(samples.Names)], 96, 96, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		lr := resize.Imresize(blur.Filter2D(hr, blur.FspecialGaussian(13, 1.5)), 0.25, true).Round()
		name := fmt.Sprintf("p%d.png", i)
		for _, f := range []struct {
			sub string
			m   *raster.Image
		}{{"HR", hr}, {"LR", lr}} {
			if err := imageio.Save(filepath.Join(dir, f.sub, name), f.m, imageio.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
		}
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
	res, err := measure(set, []float64{0, 1.5, 3}, []degrade.Pipeline{p}, []string{"bicubic"}, 2, 1)
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
	bic := res.Degradations[0]
	if bic.Name != "bicubic" || !(bic.PSNR < exact.PSNR) || !(bic.LowPSNR > bic.PSNR) || math.IsNaN(bic.LowPSNR) {
		t.Errorf("bicubic preset %+v against sigma 1.5 %+v", bic, exact)
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

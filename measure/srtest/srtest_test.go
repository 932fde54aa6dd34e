package srtest

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/degradiff/degradiff/degrade/resize"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/pairset/pairread"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/samples"
)

// A folder of two pairs whose LR images are the bicubic downscales of
// their HR images.
func testSet(t *testing.T) *pairread.Set {
	dir := t.TempDir()
	for _, name := range []string{"a", "b"} {
		hr, err := samples.Render("bricks", 64, 48, 1)
		if err != nil {
			t.Fatal(err)
		}
		lr := resize.Interpolate(hr, 16, 12, resize.Bicubic).Clamp()
		for sub, m := range map[string]*raster.Image{"HR": hr, "LR": lr} {
			if err := imageio.Save(filepath.Join(dir, sub, name+".png"), m, imageio.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	set, err := pairread.OpenWith(dir, pairread.Options{Scale: 4})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestRunScoresInOrder(t *testing.T) {
	set := testSet(t)
	var seen []int
	done := 0
	scores, err := Run(context.Background(), set, func(lr *raster.Image) *raster.Image { return Bicubic(lr, 4) },
		Options{Scale: 4, Baseline: true, Done: func() { done++ },
			Each: func(i int, p pairread.Pair, sr *raster.Image) error { seen = append(seen, i); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if len(scores) != 2 || scores[0].Name != "a" || scores[1].Name != "b" || done != 2 || len(seen) != 2 {
		t.Fatalf("scores %+v, done %d, seen %v", scores, done, seen)
	}
	for _, sc := range scores {
		// The method is the baseline: equal scores, and a finite PSNR.
		if sc.PSNR != sc.BicubicPSNR || sc.SSIM != sc.BicubicSSIM || math.IsInf(sc.PSNR, 0) || sc.PSNR < 15 || sc.SSIM <= 0 || sc.SSIM > 1 {
			t.Errorf("score %+v", sc)
		}
	}
	// A cancelled context stops before the first pair.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if s, err := Run(ctx, set, func(lr *raster.Image) *raster.Image { return Bicubic(lr, 4) }, Options{Scale: 4}); err == nil || len(s) != 0 {
		t.Fatalf("cancelled run: %d scores, err %v", len(s), err)
	}
}

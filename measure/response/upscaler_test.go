package response

import (
	"errors"
	"math"
	"testing"

	"github.com/degradiff/degradiff/degrade/resize"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/samples"
)

// TestUpscaler fits the linear upscaler to HR images that are the LR
// images enlarged without interpolation: it must learn that exactly (the
// centre tap of every phase), and a fit to another upscale must restore
// those pairs worse.
func TestUpscaler(t *testing.T) {
	exact, _ := NewUpscaler(3, 2)
	other, _ := NewUpscaler(3, 2)
	var lrs, hrs []*raster.Image
	for i := 0; i < 2; i++ {
		lr, err := samples.Render(samples.Names[i%len(samples.Names)], 40, 48, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		hr := raster.New(3, 80, 96)
		for c := 0; c < 3; c++ {
			for y := 0; y < 80; y++ {
				for x := 0; x < 96; x++ {
					hr.Set(c, y, x, lr.At(c, y/2, x/2))
				}
			}
		}
		if err := exact.Add(lr, hr); err != nil {
			t.Fatal(err)
		}
		if err := other.Add(lr, resize.Imresize(lr, 2, true)); err != nil {
			t.Fatal(err)
		}
		lrs, hrs = append(lrs, lr), append(hrs, hr)
	}
	if err := exact.Add(lrs[0], raster.New(3, 10, 10)); err == nil {
		t.Error("an HR image of the wrong size was accepted")
	}
	for _, c := range [][2]int{{2, 2}, {11, 2}, {3, 0}, {3, 9}} {
		if _, err := NewUpscaler(c[0], c[1]); err == nil {
			t.Errorf("NewUpscaler(%d, %d) accepted", c[0], c[1])
		}
	}
	// The second image's equations, accumulated apart and merged, give
	// the same fit as adding them directly.
	merged, _ := NewUpscaler(3, 2)
	part, _ := NewUpscaler(3, 2)
	if err := merged.Add(lrs[0], hrs[0]); err != nil {
		t.Fatal(err)
	}
	if err := part.Add(lrs[1], hrs[1]); err != nil {
		t.Fatal(err)
	}
	merged.Merge(part)
	for _, u := range []*Upscaler{exact, other, merged} {
		if err := u.Solve(); err != nil {
			t.Fatal(err)
		}
	}
	for p, w := range exact.W {
		if math.Abs(w[4]-1) > 1e-6 {
			t.Errorf("phase %d: centre tap %.6f, want 1", p, w[4])
		}
	}
	for p := range exact.W {
		for i := range exact.W[p] {
			if math.Abs(merged.W[p][i]-exact.W[p][i]) > 1e-9 {
				t.Fatalf("merged fit differs at phase %d weight %d", p, i)
			}
		}
	}
	if flat, _ := NewUpscaler(3, 2); flat.Add(raster.New(3, 8, 8), raster.New(3, 16, 16)) != nil || !errors.Is(flat.Solve(), ErrSingular) {
		t.Error("a fit to flat images is not singular")
	}
	pe, po := exact.PSNR(lrs[1], hrs[1], 2), other.PSNR(lrs[1], hrs[1], 2)
	if !(pe > 60) || !(po < pe-10) {
		t.Errorf("Y-PSNR: exact fit %.2f (want above 60), other fit %.2f (want far lower)", pe, po)
	}
}

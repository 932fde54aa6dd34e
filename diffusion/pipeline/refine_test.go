package pipeline

import (
	"math"
	"testing"

	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// TestRefineLumaKeepsColour checks that Refine "luma" gives the luma of the
// rgb run and the colour (Cb, Cr) of the input, where nothing is clamped.
func TestRefineLumaKeepsColour(t *testing.T) {
	sched := schedule.DefaultDDPMFile()
	run := func(refine string, init *raster.Image) *raster.Image {
		p, err := New(local, sched, Options{Steps: 20, Refine: refine})
		if err != nil {
			t.Fatal(err)
		}
		out, r, err := p.Image(init, 0.2, rng.New(3, "refine"))
		if err != nil || r.Steps == 0 {
			t.Fatalf("%s: run %+v, err %v", refine, r, err)
		}
		return out
	}
	const h, w = 12, 10
	init := raster.New(3, h, w)
	src := rng.New(4, "init")
	for i := range init.Pix {
		init.Pix[i] = 0.4 + 0.2*float32(src.Float64()) // away from 0 and 1
	}
	rgb, luma := run("", init), run(RefineLuma, init)
	n := h * w
	y := func(m *raster.Image, i int) float64 {
		return 0.299*float64(m.Pix[i]) + 0.587*float64(m.Pix[n+i]) + 0.114*float64(m.Pix[2*n+i])
	}
	changed, compared := 0.0, 0
	for i := range n {
		if clamped(rgb, i) || clamped(luma, i) {
			continue
		}
		compared++
		if yr, yl := y(rgb, i), y(luma, i); math.Abs(yr-yl) > 1e-5 {
			t.Fatalf("pixel %d: luma %g, the rgb run's %g", i, yl, yr)
		}
		for c := range 3 {
			// B-Y and R-Y (and so G-Y) are the input's.
			got := float64(luma.Pix[c*n+i]) - y(luma, i)
			want := float64(init.Pix[c*n+i]) - y(init, i)
			if math.Abs(got-want) > 1e-5 {
				t.Fatalf("pixel %d channel %d: colour %g, input's %g", i, c, got, want)
			}
			changed = math.Max(changed, math.Abs(float64(rgb.Pix[c*n+i]-luma.Pix[c*n+i])))
		}
	}
	if compared < n/2 {
		t.Fatalf("only %d of %d pixels unclamped", compared, n)
	}
	if changed < 1e-3 {
		t.Errorf("rgb and luma runs differ by at most %g: the test model changes no colour", changed)
	}
}

// clamped reports whether a channel of pixel i is 0 or 1.
func clamped(m *raster.Image, i int) bool {
	n := m.H * m.W
	for c := range 3 {
		if v := m.Pix[c*n+i]; v <= 0 || v >= 1 {
			return true
		}
	}
	return false
}

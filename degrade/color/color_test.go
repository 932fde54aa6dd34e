package color

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/internal/fixture"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// pixels builds a 3-plane image of 1 row from RGB triplets.
func pixels(rgb ...[3]float32) *raster.Image {
	m := raster.New(3, 1, len(rgb))
	for x, p := range rgb {
		for c := 0; c < 3; c++ {
			m.Set(c, 0, x, p[c])
		}
	}
	return m
}

func pixel(m *raster.Image, x int) [3]float32 {
	return [3]float32{m.At(0, 0, x), m.At(1, 0, x), m.At(2, 0, x)}
}

func near(a, b [3]float32, tol float64) bool {
	for c := range a {
		if math.Abs(float64(a[c])-float64(b[c])) > tol {
			return false
		}
	}
	return true
}

// randImage returns a reproducible random RGB image in [0, 1].
func randImage(h, w int, seed uint64) *raster.Image {
	s := rng.New(seed, "color-test")
	m := raster.New(3, h, w)
	for i := range m.Pix {
		m.Pix[i] = float32(s.Float64())
	}
	return m
}

func TestGrayKnownPixels(t *testing.T) {
	tests := []struct {
		in   [3]float32
		want float64
	}{
		{[3]float32{1, 0, 0}, 0.2989},
		{[3]float32{0, 1, 0}, 0.587},
		{[3]float32{0, 0, 1}, 0.114},
		{[3]float32{1, 1, 1}, 0.9999},
		{[3]float32{0.2, 0.4, 0.6}, 0.2989*0.2 + 0.587*0.4 + 0.114*0.6},
	}
	for _, tt := range tests {
		g := Gray(pixels(tt.in))
		if g.C != 1 {
			t.Fatalf("Gray: %d planes, want 1", g.C)
		}
		if got := float64(g.Pix[0]); math.Abs(got-tt.want) > 1e-7 {
			t.Errorf("Gray(%v) = %.9f, want %.9f", tt.in, got, tt.want)
		}
		g3 := Grayscale(pixels(tt.in))
		if p := pixel(g3, 0); p[0] != g.Pix[0] || p[1] != g.Pix[0] || p[2] != g.Pix[0] {
			t.Errorf("Grayscale(%v) = %v, want all planes %v", tt.in, p, g.Pix[0])
		}
	}
}

// TestGrayFixture compares with torchvision rgb_to_grayscale on the BasicSR
// crop (fixture noise.gray).
func TestGrayFixture(t *testing.T) {
	dir := fixture.Dir(t, "fixtures", "basicsr")
	f, err := safetensors.Open(filepath.Join(dir, "ops.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pix, shape, err := f.Float32("image")
	if err != nil {
		t.Fatal(err)
	}
	img := &raster.Image{C: shape[1], H: shape[2], W: shape[3], Pix: pix}
	want, _, err := f.Float32("noise.gray")
	if err != nil {
		t.Fatal(err)
	}
	got := Gray(img)
	worst := 0.0
	for i := range want {
		worst = max(worst, math.Abs(float64(got.Pix[i])-float64(want[i])))
	}
	if worst > 1e-6 {
		t.Errorf("Gray vs noise.gray: max abs diff %g, want <= 1e-6", worst)
	}
	t.Logf("Gray vs torchvision: max abs diff %g", worst)
}

func TestBrightness(t *testing.T) {
	in := pixels([3]float32{0.2, 0.4, 0.6}, [3]float32{0.9, 0.5, 0})
	tests := []struct {
		factor float64
		want   [2][3]float32
	}{
		{1, [2][3]float32{{0.2, 0.4, 0.6}, {0.9, 0.5, 0}}},
		{0.5, [2][3]float32{{0.1, 0.2, 0.3}, {0.45, 0.25, 0}}},
		{1.5, [2][3]float32{{0.3, 0.6, 0.9}, {1, 0.75, 0}}},
		{0, [2][3]float32{{0, 0, 0}, {0, 0, 0}}},
	}
	for _, tt := range tests {
		out := AdjustBrightness(in, tt.factor)
		for x := 0; x < 2; x++ {
			if got := pixel(out, x); !near(got, tt.want[x], 1e-6) {
				t.Errorf("brightness %g pixel %d = %v, want %v", tt.factor, x, got, tt.want[x])
			}
		}
	}
}

func TestContrast(t *testing.T) {
	in := pixels([3]float32{0.2, 0.4, 0.6}, [3]float32{1, 1, 1})
	g0 := 0.2989*0.2 + 0.587*0.4 + 0.114*0.6
	mean := float32((g0 + 0.9999) / 2)
	tests := []struct {
		factor float64
		want   [2][3]float32
	}{
		{1, [2][3]float32{{0.2, 0.4, 0.6}, {1, 1, 1}}},
		{0, [2][3]float32{{mean, mean, mean}, {mean, mean, mean}}},
		{0.5, [2][3]float32{
			{0.1 + mean/2, 0.2 + mean/2, 0.3 + mean/2},
			{0.5 + mean/2, 0.5 + mean/2, 0.5 + mean/2}}},
		{2, [2][3]float32{{0, 0.8 - mean, 1.2 - mean}, {1, 1, 1}}}, // 0.4-mean < 0 is clipped
	}
	for _, tt := range tests {
		out := AdjustContrast(in, tt.factor)
		for x := 0; x < 2; x++ {
			if got := pixel(out, x); !near(got, tt.want[x], 1e-6) {
				t.Errorf("contrast %g pixel %d = %v, want %v", tt.factor, x, got, tt.want[x])
			}
		}
	}
	// 1-plane images use the mean of the plane itself.
	one := &raster.Image{C: 1, H: 1, W: 2, Pix: []float32{0.2, 0.6}}
	if got := AdjustContrast(one, 0).Pix; math.Abs(float64(got[0])-0.4) > 1e-7 || got[0] != got[1] {
		t.Errorf("contrast 0 of 1-plane [0.2 0.6] = %v, want [0.4 0.4]", got)
	}
}

func TestSaturation(t *testing.T) {
	in := randImage(7, 9, 1)
	if got, want := AdjustSaturation(in, 0), Grayscale(in); !equal(got, want) {
		t.Error("saturation 0 differs from Grayscale")
	}
	if got := AdjustSaturation(in, 1); !equal(got, in) {
		t.Error("saturation 1 is not the identity")
	}
	p := pixels([3]float32{0.2, 0.4, 0.6})
	g := float32(0.2989*0.2 + 0.587*0.4 + 0.114*0.6)
	want := [3]float32{(0.2 + g) / 2, (0.4 + g) / 2, (0.6 + g) / 2}
	if got := pixel(AdjustSaturation(p, 0.5), 0); !near(got, want, 1e-6) {
		t.Errorf("saturation 0.5 of (0.2,0.4,0.6) = %v, want %v", got, want)
	}
	want = [3]float32{0, 3*0.4 - 2*g, 1} // 3*0.2-2g < 0 and 3*0.6-2g > 1 are clipped
	if got := pixel(AdjustSaturation(p, 3), 0); !near(got, want, 1e-6) {
		t.Errorf("saturation 3 of (0.2,0.4,0.6) = %v, want %v", got, want)
	}
}

func TestHue(t *testing.T) {
	red := [3]float32{1, 0, 0}
	tests := []struct {
		in     [3]float32
		factor float64
		want   [3]float32
	}{
		{red, 0, red},
		{red, 1.0 / 6, [3]float32{1, 1, 0}},
		{red, 1.0 / 3, [3]float32{0, 1, 0}},
		{red, 0.5, [3]float32{0, 1, 1}},
		{red, -1.0 / 3, [3]float32{0, 0, 1}},
		{red, -1.0 / 6, [3]float32{1, 0, 1}},
		{[3]float32{0, 1, 0}, 1.0 / 3, [3]float32{0, 0, 1}},
		{[3]float32{0.5, 0.5, 0.5}, 0.3, [3]float32{0.5, 0.5, 0.5}},
		// (0.2,0.4,0.6): h = 7/12, s = 2/3, v = 0.6; +1/4 turn gives h = 5/6,
		// the sector where (R,G,B) = (v, v(1-s), v(1-s*f)) with f = 0.
		{[3]float32{0.2, 0.4, 0.6}, 0.25, [3]float32{0.6, 0.2, 0.6}},
	}
	for _, tt := range tests {
		got := pixel(AdjustHue(pixels(tt.in), tt.factor), 0)
		if !near(got, tt.want, 1e-5) {
			t.Errorf("hue %+.4f of %v = %v, want %v", tt.factor, tt.in, got, tt.want)
		}
	}
	// A rotation by zero reproduces any image to float32 rounding.
	in := randImage(16, 16, 2)
	out := AdjustHue(in, 0)
	for i := range in.Pix {
		if d := math.Abs(float64(in.Pix[i] - out.Pix[i])); d > 2e-6 {
			t.Fatalf("hue 0 changed value %d: %v -> %v", i, in.Pix[i], out.Pix[i])
		}
	}
}

func TestShift(t *testing.T) {
	in := pixels([3]float32{0.2, 0.5, 0.98}, [3]float32{0.01, 0.5, 0.5})
	p := ShiftParams{Shift: [3]float64{-0.05, 0, 0.05}}
	out := ApplyShift(in, p)
	want := [2][3]float32{{0.15, 0.5, 1}, {0, 0.5, 0.55}}
	for x := 0; x < 2; x++ {
		if got := pixel(out, x); !near(got, want[x], 1e-6) {
			t.Errorf("shift pixel %d = %v, want %v", x, got, want[x])
		}
	}
	s := rng.New(3, "shift")
	for range 1000 {
		p := SampleShift(s, 20)
		for _, v := range p.Shift {
			if math.Abs(v) > 20.0/255 {
				t.Fatalf("SampleShift(20) gave %v outside ±20/255", p.Shift)
			}
		}
	}
}

func TestSampleJitter(t *testing.T) {
	s := rng.New(4, "jitter")
	r := DefaultJitterRanges()
	orders := map[string]int{}
	const n = 4000
	for range n {
		p := SampleJitter(s, r)
		if len(p.Ops) != 4 {
			t.Fatalf("SampleJitter: %d ops, want 4", len(p.Ops))
		}
		var key []string
		for _, op := range p.Ops {
			var rg *[2]float64
			switch op.Op {
			case OpBrightness:
				rg = r.Brightness
			case OpContrast:
				rg = r.Contrast
			case OpSaturation:
				rg = r.Saturation
			case OpHue:
				rg = r.Hue
			}
			if op.Factor < rg[0] || op.Factor > rg[1] {
				t.Fatalf("%s factor %g outside %v", op.Op, op.Factor, *rg)
			}
			key = append(key, op.Op)
		}
		orders[strings.Join(key, ",")]++
	}
	if len(orders) != 24 {
		t.Fatalf("saw %d distinct orders, want 24", len(orders))
	}
	// Each order has probability 1/24; 5 standard deviations of the count.
	exp := float64(n) / 24
	sd := math.Sqrt(exp * (1 - 1.0/24))
	for k, c := range orders {
		if math.Abs(float64(c)-exp) > 5*sd {
			t.Errorf("order %s seen %d times, expected %.0f ± %.0f", k, c, exp, sd)
		}
	}

	// Disabled operations are skipped.
	r.Hue, r.Brightness = nil, nil
	p := SampleJitter(s, r)
	if len(p.Ops) != 2 {
		t.Fatalf("with hue and brightness disabled: %d ops, want 2", len(p.Ops))
	}
	for _, op := range p.Ops {
		if op.Op == OpHue || op.Op == OpBrightness {
			t.Errorf("disabled op %s sampled", op.Op)
		}
	}
}

func TestApplyJitterOrder(t *testing.T) {
	in := randImage(8, 8, 5)
	p := JitterParams{Ops: []JitterOp{{OpContrast, 1.3}, {OpHue, 0.07}, {OpBrightness, 0.8}, {OpSaturation, 0.4}}}
	got := ApplyJitter(in, p)
	want := AdjustSaturation(AdjustBrightness(AdjustHue(AdjustContrast(in, 1.3), 0.07), 0.8), 0.4)
	if !equal(got, want) {
		t.Error("ApplyJitter does not apply the steps in order")
	}
	// A manifest round trip reproduces the result.
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q JitterParams
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	if !equal(ApplyJitter(in, q), got) {
		t.Errorf("JSON round trip %s changed the result", b)
	}
	if ApplyJitter(in, JitterParams{}) == in {
		t.Error("ApplyJitter with no steps returned its input instead of a copy")
	}
}

func TestValidate(t *testing.T) {
	bad := []JitterRanges{
		{Brightness: &[2]float64{-0.1, 1}},
		{Contrast: &[2]float64{1.5, 0.5}},
		{Hue: &[2]float64{-0.6, 0.1}},
		{Saturation: &[2]float64{0, math.Inf(1)}},
	}
	for _, r := range bad {
		if r.Validate() == nil {
			t.Errorf("Validate(%+v) = nil, want an error", r)
		}
	}
	if err := DefaultJitterRanges().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if err := (JitterParams{Ops: []JitterOp{{"gamma", 1}}}).Validate(); err == nil {
		t.Error("unknown op accepted")
	}
}

func TestSampleGray(t *testing.T) {
	s := rng.New(6, "gray")
	n := 0
	for range 10000 {
		if SampleGray(s, 0.3).Gray {
			n++
		}
	}
	// Binomial(10000, 0.3): sd = 45.8; allow 5 sd.
	if math.Abs(float64(n)-3000) > 230 {
		t.Errorf("SampleGray(0.3): %d of 10000, want about 3000", n)
	}
	in := randImage(4, 4, 7)
	if !equal(ApplyGray(in, GrayParams{Gray: true}), Grayscale(in)) || !equal(ApplyGray(in, GrayParams{}), in) {
		t.Error("ApplyGray does not follow its params")
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

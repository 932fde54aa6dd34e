package blur

import (
	"math"
	"testing"
)

func TestGaussianKernel1D(t *testing.T) {
	// Small sizes with sigma <= 0 use OpenCV's tables.
	if g := GaussianKernel1D(5, 0); g[2] != 0.375 || g[0] != 0.0625 {
		t.Errorf("GaussianKernel1D(5, 0) = %v", g)
	}
	// Size 51, sigma 0: sigma = 0.3*(25-1)+0.8 = 8; ratio of neighbours is
	// exp(-(x²-(x-1)²)/128).
	g := GaussianKernel1D(51, 0)
	sum := 0.0
	for i, v := range g {
		sum += v
		if i > 0 && i <= 25 {
			x := float64(i - 25)
			want := math.Exp(-(x*x - (x-1)*(x-1)) / 128)
			if r := v / g[i-1]; math.Abs(r-want) > 1e-14 {
				t.Errorf("g[%d]/g[%d] = %v, want %v", i, i-1, r, want)
			}
		}
		if v != g[50-i] {
			t.Errorf("g not symmetric at %d", i)
		}
	}
	if math.Abs(sum-1) > 1e-15 {
		t.Errorf("sum %v", sum)
	}
}

// TestUSMMatchesBasicSR runs testUSMMatchesBasicSR on every corrRow path.
func TestUSMMatchesBasicSR(t *testing.T) { forEachPath(t, testUSMMatchesBasicSR) }

func testUSMMatchesBasicSR(t *testing.T) {
	o := loadOps(t)
	img := o.image(t, "image")
	u := NewUSM(50, 0)
	wantK, shape := o.f32(t, "usm.kernel")
	if shape[1] != 51 || shape[2] != 51 {
		t.Fatalf("usm.kernel shape %v", shape)
	}
	k := u.Kernel()
	worst := 0.0
	for i, w := range wantK {
		worst = math.Max(worst, math.Abs(float64(float32(k.W[i]))-float64(w))/float64(w))
	}
	t.Logf("usm.kernel: max relative error %.3g", worst)
	if worst > 1.2e-7 { // one float32 ulp
		t.Errorf("usm.kernel: max relative error %.3g", worst)
	}
	out, blur, soft := u.apply(img, 0.5, 10)
	if d := maxAbsDiff(USMSharp(img).Pix, out.Pix); d != 0 {
		t.Errorf("USMSharp differs from NewUSM(50, 0).Apply(img, 0.5, 10) by %g", d)
	}
	for _, c := range []struct {
		name string
		got  []float32
	}{{"usm.blur", blur.Pix}, {"usm.soft_mask", soft.Pix}, {"usm.out", out.Pix}} {
		want, _ := o.f32(t, c.name)
		d := maxAbsDiff(c.got, want)
		t.Logf("%s: max abs diff %.3g", c.name, d)
		if d > 1e-5 {
			t.Errorf("%s: max abs diff %.3g > 1e-5", c.name, d)
		}
	}
}

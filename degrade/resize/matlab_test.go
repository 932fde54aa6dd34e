package resize

import (
	"math"
	"testing"
)

func TestSymmetricIndex(t *testing.T) {
	// n = 3: ... 1 0 | 0 1 2 | 2 1 0 | 0 1 ...
	want := map[int]int{-4: 2, -3: 2, -2: 1, -1: 0, 0: 0, 2: 2, 3: 2, 4: 1, 5: 0, 6: 0, 7: 1}
	for i, w := range want {
		if got := symmetricIndex(i, 3); got != w {
			t.Errorf("symmetricIndex(%d, 3) = %d, want %d", i, got, w)
		}
	}
	if symmetricIndex(-5, 1) != 0 || symmetricIndex(4, 1) != 0 {
		t.Error("size 1 must map everything to 0")
	}
}

func TestImresizeHandDerived(t *testing.T) {
	// Halving without antialiasing: output o samples 0-based position
	// 2o+0.5 with weights (-1, 9, 9, -1)/16 at 2o-1 ... 2o+2, symmetric
	// borders (-1 -> 0, 8 -> 7).
	ramp := row(0, 1, 2, 3, 4, 5, 6, 7)
	got := Imresize(ramp, 0.5, false)
	want := []float32{0.4375, 2.5, 4.5, 6.5625}
	if got.H != 1 || got.W != 4 {
		t.Fatalf("size %dx%d, want 1x4", got.H, got.W)
	}
	for i := range want {
		if math.Abs(float64(got.Pix[i]-want[i])) > 1e-6 {
			t.Fatalf("no antialias: %v, want %v", got.Pix, want)
		}
	}
	// Halving with antialiasing stretches the kernel to width 8: the
	// normalised weights 0.5·cubic(d/2) at distances ±0.5, ±1.5, ±2.5,
	// ±3.5 are (0.43359375, 0.11328125, -0.03515625, -0.01171875). An
	// impulse at 8 sits at output coordinate 3.75.
	imp := make([]float32, 16)
	imp[8] = 1
	got = Imresize(row(imp...), 0.5, true)
	want = []float32{0, 0, -0.01171875, 0.11328125, 0.43359375, -0.03515625, 0, 0}
	for i := range want {
		if math.Abs(float64(got.Pix[i]-want[i])) > 1e-7 {
			t.Fatalf("antialias impulse: %v, want %v", got.Pix, want)
		}
	}
	// Doubling: source positions o/2 - 0.25; the a = -0.5 kernel
	// reproduces a ramp exactly away from the borders.
	got = Imresize(ramp, 2, true)
	if got.W != 16 {
		t.Fatalf("width %d, want 16", got.W)
	}
	for o := 4; o < 12; o++ {
		if want := float64(o)/2 - 0.25; math.Abs(float64(got.Pix[o])-want) > 1e-6 {
			t.Errorf("doubling ramp[%d] = %v, want %v", o, got.Pix[o], want)
		}
	}
}

func TestImresizeProperties(t *testing.T) {
	for _, s := range []float64{0.25, 0.3, 0.5, 0.77, 1, 1.5, 3} {
		for _, aa := range []bool{true, false} {
			img := constImage(3, 21, 18, 0.45)
			out := Imresize(img, s, aa)
			if out.H != int(math.Ceil(21*s)) || out.W != int(math.Ceil(18*s)) {
				t.Fatalf("scale %v: size %dx%d", s, out.H, out.W)
			}
			for i, v := range out.Pix {
				if math.Abs(float64(v)-0.45) > 1e-6 {
					t.Fatalf("scale %v aa %v: pixel %d = %v", s, aa, i, v)
				}
			}
		}
	}
	// Scale 1 is the identity (weights 1 at distance 0, 0 at ±1, ±2).
	img := randomImage(13, 2, 9, 14)
	if d := maxAbsDiff(Imresize(img, 1, true).Pix, img.Pix); d > 1e-7 {
		t.Errorf("scale 1 changed the image by %g", d)
	}
	// Mirroring commutes with resizing when in·scale is a whole number
	// (otherwise MATLAB's grid is anchored at the left edge): 15·0.4 = 6.
	img = randomImage(14, 1, 9, 15)
	a := Imresize(mirrorX(img), 0.4, true)
	b := mirrorX(Imresize(img, 0.4, true))
	if d := maxAbsDiff(a.Pix, b.Pix); d > 1e-6 {
		t.Errorf("mirror symmetry broken by %g", d)
	}
}

func BenchmarkImresize512Quarter(b *testing.B) {
	img := benchImage()
	for range b.N {
		Imresize(img, 0.25, true)
	}
}

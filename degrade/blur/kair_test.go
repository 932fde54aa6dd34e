package blur

import (
	"math"
	"testing"

	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

func TestFspecialGaussian(t *testing.T) {
	for _, tc := range []struct {
		size  int
		sigma float64
	}{{7, 1}, {15, 2.5}, {15, 0.5}, {25, 0.3}} {
		k := FspecialGaussian(tc.size, tc.sigma)
		if math.Abs(k.Sum()-1) > 1e-14 {
			t.Errorf("%v: sum %v", tc, k.Sum())
		}
		c := tc.size / 2
		centre := k.At(c, c)
		for i := 0; i < tc.size; i++ {
			for j := 0; j < tc.size; j++ {
				y, x := float64(i-c), float64(j-c)
				ratio := math.Exp(-(x*x + y*y) / (2 * tc.sigma * tc.sigma))
				got := k.At(i, j)
				if ratio < 0x1p-52 {
					if got != 0 {
						t.Errorf("%v: (%d,%d) = %v, want 0 below eps·max", tc, i, j, got)
					}
					continue
				}
				if e := math.Abs(got/centre - ratio); e > 1e-15+1e-13*ratio {
					t.Errorf("%v: (%d,%d)/centre = %v, want %v", tc, i, j, got/centre, ratio)
				}
				if got != k.At(j, i) || got != k.At(tc.size-1-i, j) {
					t.Errorf("%v: not symmetric at (%d,%d)", tc, i, j)
				}
			}
		}
	}
}

func TestAnisotropicGaussianKAIR(t *testing.T) {
	// With eigenvector (cos θ, sin θ) for l1 it is BasicSR's anisotropic
	// Gaussian with sigma_x = √l1, sigma_y = √l2 and the same θ.
	for _, tc := range []struct{ size, theta, l1, l2 float64 }{
		{15, 0.3, 6, 2}, {7, 2.5, 0.8, 3.1}, {21, 0, 4, 4}, {11, math.Pi / 2, 5, 0.5},
	} {
		got := AnisotropicGaussianKAIR(int(tc.size), tc.theta, tc.l1, tc.l2)
		want := Gaussian(int(tc.size), math.Sqrt(tc.l1), math.Sqrt(tc.l2), tc.theta, false)
		worst := 0.0
		for i := range want.W {
			worst = math.Max(worst, relErr(got.W[i], want.W[i]))
		}
		if worst > 1e-12 {
			t.Errorf("%v: max relative difference from Gaussian %.3g", tc, worst)
		}
	}
	// θ = 0: axis-aligned, l1 along x (columns): exp(-x²/(2 l1) - y²/(2 l2)).
	k := AnisotropicGaussianKAIR(9, 0, 4, 1)
	c := 4
	if r, want := k.At(c, c+2)/k.At(c, c), math.Exp(-4.0/8); math.Abs(r-want) > 1e-15 {
		t.Errorf("x ratio %v, want %v", r, want)
	}
	if r, want := k.At(c+2, c)/k.At(c, c), math.Exp(-4.0/2); math.Abs(r-want) > 1e-15 {
		t.Errorf("y ratio %v, want %v", r, want)
	}
	// θ = π/2 swaps the axes: the transpose of θ = 0.
	kt := AnisotropicGaussianKAIR(9, math.Pi/2, 4, 1)
	for i := 0; i < 9; i++ {
		for j := 0; j < 9; j++ {
			if relErr(kt.At(i, j), k.At(j, i)) > 1e-12 {
				t.Fatalf("θ=π/2 is not the transpose at (%d,%d)", i, j)
			}
		}
	}
}

func TestConvolveFlipsKernel(t *testing.T) {
	img := &raster.Image{C: 1, H: 1, W: 5, Pix: []float32{1, 2, 3, 4, 5}}
	k := NewKernel(3)
	k.W[1*3+2] = 1 // column offset +1
	// Correlation reads x+1, convolution x-1; both reflect at the ends.
	corr := Filter2D(img, k).Pix
	conv := Convolve(img, k).Pix
	wantCorr := []float32{2, 3, 4, 5, 4}
	wantConv := []float32{2, 1, 2, 3, 4}
	for i := range wantCorr {
		if corr[i] != wantCorr[i] || conv[i] != wantConv[i] {
			t.Fatalf("correlate %v (want %v), convolve %v (want %v)", corr, wantCorr, conv, wantConv)
		}
	}
}

func TestSampleBSRGAN(t *testing.T) {
	const n = 4000
	s := rng.New(9, "bsrgan")
	aniso := 0
	for i := 0; i < n; i++ {
		k, p, err := SampleBSRGAN(s, 4)
		if err != nil {
			t.Fatal(err)
		}
		if p.Size < 7 || p.Size > 25 || p.Size%2 == 0 || k.Size != p.Size {
			t.Fatalf("size %d", p.Size)
		}
		switch p.Type {
		case TypeKAIRAniso:
			aniso++
			if p.L1 >= 8 || p.L2 >= 8 || p.Theta < 0 || p.Theta >= math.Pi {
				t.Fatalf("%+v outside ranges", p)
			}
		case TypeKAIRGaussian:
			if p.SigmaX >= 2.8 {
				t.Fatalf("%+v outside ranges", p)
			}
		default:
			t.Fatalf("type %q", p.Type)
		}
		if math.Abs(k.Sum()-1) > 1e-12 {
			t.Fatalf("%+v: sum %v", p, k.Sum())
		}
	}
	if f := float64(aniso) / n; math.Abs(f-0.5) > 5*math.Sqrt(0.25/n) {
		t.Errorf("anisotropic fraction %.3f, want 0.5", f)
	}
}

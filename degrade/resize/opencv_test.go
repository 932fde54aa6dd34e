package resize

import (
	"fmt"
	"math"
	"testing"

	"github.com/degradiff/degradiff/raster"
)

var inters = []Inter{InterNearest, InterLinear, InterCubic, InterArea}

func row(v ...float32) *raster.Image { return &raster.Image{C: 1, H: 1, W: len(v), Pix: v} }

func mirrorX(img *raster.Image) *raster.Image {
	out := raster.New(img.C, img.H, img.W)
	for c := 0; c < img.C; c++ {
		for y := 0; y < img.H; y++ {
			for x := 0; x < img.W; x++ {
				out.Set(c, y, x, img.At(c, y, img.W-1-x))
			}
		}
	}
	return out
}

func TestOpenCVConstantAndIdentity(t *testing.T) {
	for _, in := range inters {
		for _, hw := range [][2]int{{10, 7}, {40, 45}, {7, 45}, {20, 17}, {5, 5}, {60, 51}} {
			out := OpenCV(constImage(3, 20, 17, 0.7), hw[0], hw[1], in)
			for i, v := range out.Pix {
				if math.Abs(float64(v)-0.7) > 1e-6 {
					t.Fatalf("%v to %v: pixel %d = %v", in, hw, i, v)
				}
			}
		}
		img := randomImage(7, 2, 13, 9)
		if d := maxAbsDiff(OpenCV(img, 13, 9, in).Pix, img.Pix); d != 0 {
			t.Errorf("%v: same size changed the image", in)
		}
	}
}

func TestOpenCVHandDerived(t *testing.T) {
	a := []float32{0.1, 0.9, 0.3, 0.5, 0.7}
	tests := []struct {
		name string
		in   *raster.Image
		w    int
		i    Inter
		want []float64
	}{
		// Area 5 -> 2: cells [0, 2.5) and [2.5, 5) of width 2.5.
		{"area 5->2", row(a...), 2, InterArea, []float64{
			0.4*0.1 + 0.4*0.9 + 0.2*0.3, 0.2*0.3 + 0.4*0.5 + 0.4*0.7}},
		// Area 2 -> 3 enlarges: f = (d+1) - (floor(d·2/3)+1)·1.5 gives
		// weights 0, 0.5 and the clamped right edge.
		{"area 2->3", row(0.2, 0.8), 3, InterArea, []float64{0.2, 0.5, 0.8}},
		// Area enlarging by an integer factor replicates pixels.
		{"area 3->6", row(0.2, 0.8, 0.4), 6, InterArea, []float64{0.2, 0.2, 0.8, 0.8, 0.4, 0.4}},
		// Area 4 -> 2 is the pair mean.
		{"area 4->2", row(0.1, 0.3, 0.6, 1), 2, InterArea, []float64{0.2, 0.8}},
		// Nearest 5 -> 3: sources floor(d·5/3) = 0, 1, 3.
		{"nearest 5->3", row(a...), 3, InterNearest, []float64{0.1, 0.9, 0.5}},
		// Nearest 3 -> 5: floor(d·0.6) = 0, 0, 1, 1, 2.
		{"nearest 3->5", row(0.1, 0.2, 0.3), 5, InterNearest, []float64{0.1, 0.1, 0.2, 0.2, 0.3}},
		// Linear 3 -> 6: sources d/2 - 0.25, clamped at both ends.
		{"linear 3->6", row(0, 1, 2), 6, InterLinear, []float64{0, 0.25, 0.75, 1.25, 1.75, 2}},
		// Linear 4 -> 2 with the height kept is not the 2x-in-both case, so
		// the bilinear formula applies: sources 0.5 and 2.5.
		{"linear 4->2", row(0.1, 0.3, 0.6, 1), 2, InterLinear, []float64{0.2, 0.8}},
		// Cubic 6 -> 12 of a ramp: A = -0.75 weights at fractions 0.75 and
		// 0.25 (see TestInterpolateProperties); checked where all four taps
		// are inside.
		{"cubic 6->12 interior", row(0, 1, 2, 3, 4, 5), 12, InterCubic, nil},
	}
	for _, tc := range tests {
		got := OpenCV(tc.in, 1, tc.w, tc.i)
		if tc.want == nil {
			// Interior samples 4..7: k - 0.296875 (even d) and k + 0.296875
			// (odd d) with k = d/2.
			for d := 4; d < 8; d++ {
				want := float64(d/2) - 0.296875
				if d%2 == 1 {
					want = float64(d/2) + 0.296875
				}
				if math.Abs(float64(got.Pix[d])-want) > 1e-6 {
					t.Errorf("%s: [%d] = %v, want %v", tc.name, d, got.Pix[d], want)
				}
			}
			continue
		}
		for d, want := range tc.want {
			if math.Abs(float64(got.Pix[d])-want) > 1e-6 {
				t.Errorf("%s: %v, want %v", tc.name, got.Pix, tc.want)
				break
			}
		}
	}
}

func TestOpenCVAreaIntegerFactorIsBlockMean(t *testing.T) {
	img := randomImage(8, 2, 12, 15)
	out := OpenCV(img, 4, 5, InterArea)
	for c := 0; c < 2; c++ {
		for oy := 0; oy < 4; oy++ {
			for ox := 0; ox < 5; ox++ {
				s := 0.0
				for y := 0; y < 3; y++ {
					for x := 0; x < 3; x++ {
						s += float64(img.At(c, 3*oy+y, 3*ox+x))
					}
				}
				if d := math.Abs(s/9 - float64(out.At(c, oy, ox))); d > 1e-6 {
					t.Errorf("block (%d,%d,%d): %v, want %v", c, oy, ox, out.At(c, oy, ox), s/9)
				}
			}
		}
	}
	// An exact 2x reduction with INTER_LINEAR switches to the block mean.
	a := OpenCV(randomImage(9, 1, 8, 10), 4, 5, InterLinear)
	b := OpenCV(randomImage(9, 1, 8, 10), 4, 5, InterArea)
	if d := maxAbsDiff(a.Pix, b.Pix); d != 0 {
		t.Errorf("linear 2x reduction differs from area by %g", d)
	}
}

// TestOpenCVAreaGeneralWeights checks the fractional area weights in two
// dimensions against the exact coverage integral.
func TestOpenCVAreaGeneralWeights(t *testing.T) {
	img := randomImage(10, 1, 10, 7)
	out := OpenCV(img, 4, 3, InterArea) // scales 2.5 and 7/3
	cover := func(d int, scale float64, i int) float64 {
		lo, hi := float64(d)*scale, float64(d+1)*scale
		return max(0, min(hi, float64(i+1))-max(lo, float64(i))) / scale
	}
	for oy := 0; oy < 4; oy++ {
		for ox := 0; ox < 3; ox++ {
			s := 0.0
			for y := 0; y < 10; y++ {
				for x := 0; x < 7; x++ {
					s += cover(oy, 2.5, y) * cover(ox, 7.0/3, x) * float64(img.At(0, y, x))
				}
			}
			if d := math.Abs(s - float64(out.At(0, oy, ox))); d > 1e-6 {
				t.Errorf("(%d,%d) = %v, want %v", oy, ox, out.At(0, oy, ox), s)
			}
		}
	}
}

// TestOpenCVMatchesTorchWhereSemanticsCoincide: INTER_LINEAR and
// INTER_CUBIC use the same source coordinates, kernels and edge clamping as
// torch's bilinear and bicubic with explicit sizes (except OpenCV's switch
// to area at exactly 2x, avoided here). They differ only in rounding:
// torch forms in/out and the source coordinate in float32, OpenCV in
// float64, which moves a coordinate near 30 by up to ~2e-6.
func TestOpenCVMatchesTorchWhereSemanticsCoincide(t *testing.T) {
	img := randomImage(11, 3, 30, 26)
	for _, hw := range [][2]int{{45, 39}, {17, 11}, {61, 20}, {9, 9}} {
		for _, p := range []struct {
			i Inter
			m Mode
		}{{InterLinear, Bilinear}, {InterCubic, Bicubic}} {
			a := OpenCV(img, hw[0], hw[1], p.i)
			b := Interpolate(img, hw[0], hw[1], p.m)
			if d := maxAbsDiff(a.Pix, b.Pix); d > 5e-6 {
				t.Errorf("%v vs %v to %v: max diff %g", p.i, p.m, hw, d)
			}
		}
	}
}

func TestOpenCVSymmetry(t *testing.T) {
	img := randomImage(12, 1, 11, 16)
	for _, in := range []Inter{InterLinear, InterCubic, InterArea} {
		for _, w := range []int{5, 7, 23, 40} {
			a := OpenCV(mirrorX(img), 11, w, in)
			b := mirrorX(OpenCV(img, 11, w, in))
			if d := maxAbsDiff(a.Pix, b.Pix); d > 1e-6 {
				t.Errorf("%v to width %d: mirror symmetry broken by %g", in, w, d)
			}
		}
	}
}

func TestCVCubicCoeffs(t *testing.T) {
	if c := cvCubicCoeffs(0); c != [4]float32{0, 1, 0, 0} {
		t.Errorf("coefficients at 0: %v", c)
	}
	for i := 0; i <= 100; i++ {
		x := float32(i) / 100
		c := cvCubicCoeffs(x)
		if s := c[0] + c[1] + c[2] + c[3]; math.Abs(float64(s)-1) > 1e-6 {
			t.Errorf("x=%v: sum %v", x, s)
		}
		// The kernel is even: the weights for 1-x are reversed.
		r := cvCubicCoeffs(1 - x)
		for k := 0; k < 4; k++ {
			if math.Abs(float64(c[k]-r[3-k])) > 1e-6 {
				t.Errorf("x=%v: %v not the reverse of %v", x, c, r)
			}
		}
	}
}

func TestInterString(t *testing.T) {
	for i, want := range []string{"nearest", "linear", "cubic", "area"} {
		if got := fmt.Sprint(Inter(i)); got != want {
			t.Errorf("Inter(%d) = %s", i, got)
		}
	}
}

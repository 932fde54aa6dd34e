package jpeg

import (
	"math"
	"testing"

	"github.com/degradiff/degradiff/rng"
)

// basicsrDCT returns BasicSR's forward DCT matrix as it applies it:
// m[(x*8+y)*64+u*8+v] = scale(u,v)·float32(cos((2x+1)uπ/16)·cos((2y+1)vπ/16)),
// the direct 64x64 product the separable transform replaces.
func basicsrDCT() []float64 {
	alpha := [8]float64{1 / math.Sqrt(2), 1, 1, 1, 1, 1, 1, 1}
	m := make([]float64, 64*64)
	for x := 0; x < 8; x++ {
		for y := 0; y < 8; y++ {
			for u := 0; u < 8; u++ {
				for v := 0; v < 8; v++ {
					c := f32(math.Cos(float64((2*x+1)*u)*math.Pi/16) * math.Cos(float64((2*y+1)*v)*math.Pi/16))
					m[(x*8+y)*64+u*8+v] = f32(alpha[u]*alpha[v]*0.25) * c
				}
			}
		}
	}
	return m
}

// TestSeparableDCT compares the separable forward and inverse transforms
// with BasicSR's 64x64 matrices on random blocks of the full range. The
// differences come from the float32 rounding of the reference's cosine
// products (at most 6e-8 relative each): they must stay below 1e-4 on the
// unscaled 0-255 range, a small fraction of the fixtures' 1.5e-4 margin
// once divided by a quantisation step (at least 1 for quality <= 95).
func TestSeparableDCT(t *testing.T) {
	m := basicsrDCT()
	s := rng.New(1, "dct")
	worstF, worstI := 0.0, 0.0
	for range 2000 {
		var blk, tmp, dct [64]float64
		for i := range blk {
			blk[i] = math.Round(s.Float64()*255) - 128
		}
		for y := 0; y < 8; y++ {
			dctRow((*[8]float64)(tmp[y*8:]), (*[8]float64)(blk[y*8:]))
		}
		dctCols(&dct, &tmp)
		for uv := range dct {
			want := 0.0
			for xy, b := range blk {
				want += b * m[xy*64+uv]
			}
			worstF = max(worstF, math.Abs(fwdScale[uv]*dct[uv]-want))
		}
		// The inverse of the coefficients just computed: the block again.
		var coef, pix [64]float64
		for uv := range coef {
			coef[uv] = dct[uv] * fwdScale[uv] * invScale[uv]
		}
		for u := 0; u < 8; u++ {
			idctRow((*[8]float64)(tmp[u*8:]), (*[8]float64)(coef[u*8:]))
		}
		idctCols(&pix, &tmp)
		for i := range pix {
			worstI = max(worstI, math.Abs(0.25*pix[i]-blk[i]))
		}
	}
	t.Logf("forward: max difference from the matrix %.3g; inverse: round trip error %.3g", worstF, worstI)
	if worstF > 1e-4 {
		t.Errorf("forward transform differs from BasicSR's matrix by %g > 1e-4", worstF)
	}
	if worstI > 1e-4 {
		t.Errorf("inverse transform does not invert the forward one: error %g > 1e-4", worstI)
	}
}

// TestDiffJPEGEqualsCompressDecompress checks that the fused DiffJPEG gives
// exactly Compress followed by Decompress, on sizes that pad on either side
// and cross several macroblocks.
func TestDiffJPEGEqualsCompressDecompress(t *testing.T) {
	for _, hw := range [][2]int{{16, 16}, {17, 5}, {40, 48}, {33, 70}} {
		img := randImage(hw[0], hw[1], uint64(hw[0]))
		for _, q := range []float64{10, 60, 95} {
			want := Compress(img, q).Decompress()
			got := DiffJPEG(img, q)
			for i := range want.Pix {
				if got.Pix[i] != want.Pix[i] {
					t.Fatalf("%dx%d q%g: value %d = %v, Compress+Decompress %v", hw[0], hw[1], q, i, got.Pix[i], want.Pix[i])
				}
			}
		}
	}
}

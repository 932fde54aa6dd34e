package gemm

import (
	"testing"

	"github.com/degradiff/degradiff/internal/rng"
)

func TestTranspose(t *testing.T) {
	sizes := []int{1, 3, 15, 16, 17, 32, 33, 50}
	for _, p := range paths() {
		restore := setPath(p)
		for _, rows := range sizes {
			for _, cols := range sizes {
				s := rng.New(4, "transpose")
				lds, ldd := cols+2, rows+3
				src := randSlice(s, rows*lds)
				dst := make([]float32, cols*ldd)
				for i := range dst {
					dst[i] = -7
				}
				Transpose(dst, ldd, src, lds, rows, cols)
				for c := 0; c < cols; c++ {
					for r := 0; r < ldd; r++ {
						want := float32(-7) // padding untouched
						if r < rows {
							want = src[r*lds+c]
						}
						if got := dst[c*ldd+r]; got != want {
							t.Fatalf("%s %dx%d: dst[%d][%d] = %v, want %v", p.name, rows, cols, c, r, got, want)
						}
					}
				}
			}
		}
		restore()
	}
}

package conv

import (
	"fmt"
	"math"
	"testing"

	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/rng"
)

// TestColOperandPackPairs checks the one-pass pairing of the im2col
// operand against Pack followed by pairing each value pair, with and
// without the ones row (after an even or odd number of image rows, or
// alone) and with pixel runs
// that cross output rows.
func TestColOperandPackPairs(t *testing.T) {
	s := rng.New(1, "conv", "pack-pairs")
	src := make([]float32, 3000)
	s.FillNormal(src, 1)
	const wp, wo, taps = 13, 9, 11
	offs := make([]int, taps)
	for p := range offs {
		offs[p] = (p * 97) % 1000
	}
	for _, ones := range []int{-1, 10} {
		for _, c := range []struct{ x0, nx, p0, kc int }{{0, 32, 0, 11}, {5, 20, 1, 10}, {3, 7, 6, 5}, {0, 32, 7, 4}, {2, 30, 2, 3}, {1, 20, 10, 1}} {
			if ones >= 0 && (ones < c.p0 || ones >= c.p0+c.kc || ones != c.p0+c.kc-1) {
				continue // the ones row is always the last summation index
			}
			t.Run(fmt.Sprintf("ones%d/%+v", ones, c), func(t *testing.T) {
				o := colOperand{src: src, offs: offs, wp: wp, wo: wo, ones: ones}
				const ld = 32
				plain := make([]float32, c.kc*ld)
				o.Pack(plain, ld, c.x0, c.nx, c.p0, c.kc)
				got := make([]float32, c.kc*ld)
				o.PackPairs(got, ld, c.x0, c.nx, c.p0, c.kc)
				for q := 0; 2*q < c.kc; q++ {
					for x := range c.nx {
						hi := float32(0)
						if 2*q+1 < c.kc {
							hi = plain[(2*q+1)*ld+x]
						}
						want := gemm.PackPair(plain[2*q*ld+x], hi)
						if math.Float32bits(got[q*ld+x]) != math.Float32bits(want) {
							t.Fatalf("pair (%d, %d) is %#08x, want %#08x", q, x, math.Float32bits(got[q*ld+x]), math.Float32bits(want))
						}
					}
				}
			})
		}
	}
}

//go:build !noasm

package gemm

import (
	"math"
	"testing"

	"github.com/degradiff/degradiff/internal/kernel"
	"github.com/degradiff/degradiff/rng"
)

// TestAMXPanelsAgree checks that both ways of laying out an AMX A panel
// give the same bits: packed straight from stored rows (amxPackRows), and
// packed by columns, paired and re-laid (packPanel, amxRows), which the
// path takes for other operands. Neither needs the tile unit.
func TestAMXPanelsAgree(t *testing.T) {
	if !kernel.BF16() {
		t.Skip("no AVX512_BF16 here: the AMX packing is never used")
	}
	s := rng.New(1, "gemm", "amx-panels")
	const ld = 101
	src := randSlice(s, 40*ld)
	for _, w := range []int{4, 8, 12, 16, 24, 32} {
		for _, nx := range []int{1, w / 2, w} {
			for _, kc := range []int{1, 2, 7, 31, 32, 33, 64, 95} {
				n := w * ((kc + 1) / 2)
				direct := make([]float32, n)
				amxPackRows(direct, src[3:], ld, nx, w, kc)
				o := operand{d: src[3:], ld: ld, xMajor: true}
				viaPairs := make([]float32, w*kc)
				packPanel(amxPath, &o, viaPairs, w, 0, nx, 0, kc)
				amxRows(viaPairs, w, (kc+1)/2)
				for i := range direct {
					if math.Float32bits(direct[i]) != math.Float32bits(viaPairs[i]) {
						t.Fatalf("w=%d nx=%d kc=%d: element %d is %#08x straight from rows, %#08x via pairs",
							w, nx, kc, i, math.Float32bits(direct[i]), math.Float32bits(viaPairs[i]))
					}
				}
			}
		}
	}
}

// TestAMXChosen checks that the BF16 precision runs on the tile unit
// wherever kernel.AMX says it may.
func TestAMXChosen(t *testing.T) {
	if !kernel.AMX() {
		t.Skip("no AMX-BF16 here (or DEGRADIFF_AMX=off)")
	}
	if got := active.Load().forPrecision(BF16); got != amxPath {
		t.Fatalf("BF16 products run on %s, want amx", got.name)
	}
}

// TestPairRows checks pairing straight from a matrix's rows against
// pairPanelGo on the same values packed first, zero columns included.
func TestPairRows(t *testing.T) {
	if !kernel.BF16() {
		t.Skip("no AVX512_BF16 here")
	}
	s := rng.New(1, "gemm", "pair-rows")
	const lds = 77
	src := randSlice(s, 70*lds)
	for _, w := range []int{4, 16, 32} {
		for _, nx := range []int{1, w - 3, w} {
			if nx < 1 {
				continue
			}
			for _, kc := range []int{1, 2, 5, 32, 33, 64} {
				want := make([]float32, w*kc)
				for r := range kc {
					copy(want[r*w:r*w+nx], src[r*lds:r*lds+nx])
				}
				pairPanelGo(want, w, kc)
				got := make([]float32, w*kc)
				for i := range got {
					got[i] = float32(math.NaN()) // must be overwritten
				}
				if !pairRows(avx512bf16Path, got, w, src, lds, nx, kc) {
					t.Fatal("pairRows did nothing on the AVX512_BF16 path")
				}
				for i := range w * ((kc + 1) / 2) {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("w=%d nx=%d kc=%d: word %d is %#08x, want %#08x", w, nx, kc, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
					}
				}
			}
		}
	}
}

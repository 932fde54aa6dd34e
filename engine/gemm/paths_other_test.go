//go:build !amd64 || noasm

package gemm

import "testing"

// The Go versions of the packing routines follow their contracts.
func TestPackingFallbacks(t *testing.T) {
	src := make([]float32, 64*40)
	for i := range src {
		src[i] = float32(i)
	}
	var offs [16]int
	for r := range offs {
		offs[r] = (r * 3 % 16) * 40
	}
	dst := make([]float32, 32*16)
	transposeOffs(dst, 16, src, &offs, 0b1010, 32)
	for c := range 32 {
		for r := range 16 {
			want := float32(0)
			if r == 1 || r == 3 {
				want = src[offs[r]+c]
			}
			if dst[c*16+r] != want {
				t.Fatalf("transposeOffs: dst[%d][%d] = %g, want %g", c, r, dst[c*16+r], want)
			}
		}
	}
	rows := make([]float32, 5*32)
	copyRows32(rows, src, 40, 5)
	for r := range 5 {
		for c := range 32 {
			if rows[r*32+c] != src[r*40+c] {
				t.Fatalf("copyRows32: row %d col %d", r, c)
			}
		}
	}
	gathered := make([]float32, 3*36)
	gatherRows(gathered, 36, src, offs[:3], 32)
	for r := range 3 {
		for c := range 32 {
			if gathered[r*36+c] != src[offs[r]+c] {
				t.Fatalf("gatherRows: row %d col %d", r, c)
			}
		}
	}
}

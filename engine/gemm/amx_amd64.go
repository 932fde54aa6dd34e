//go:build !noasm

package gemm

import (
	"unsafe"

	"github.com/degradiff/degradiff/internal/kernel"
)

// The AMX path computes BF16 products on the tile unit of Intel CPUs with
// AMX-BF16 (Sapphire Rapids and later): one tdpbf16ps does 16x16x32
// multiply-adds: 8 to 14 times the float32 AVX-512 kernel's rate on one
// core (BenchmarkMicro). Its A panels are packed straight from op(A)'s rows
// (amxPackRows) or re-laid (amxRows) so that each tile row is 16
// consecutive pairs of one row of op(A); its B panels are the pairs path's
// as they are.
//
// Its sums are rounded as the tile unit rounds them, which is not
// vdpbf16ps's order: results differ in the last bits from the AVX512_BF16
// and Go BF16 paths (within the float32 summation bound, by test), and do
// not depend on the number of goroutines.

// amxTileAsm sets C = alpha*A*B + beta*C for an mr x 32 tile: A is an
// amxRows panel and B a pairs panel, both of 16*nblk+rem pairs; ldc
// counts elements. cfg and tail are amxConfigs[mr][0] and [mr][rem].
//
//go:noescape
func amxTileAsm(cfg, tail *[64]byte, a, b *float32, nblk, rem int, c *float32, ldc, mr int, alpha, beta float32)

// amxTile2Asm is amxTileAsm for 17 to 32 rows.
//
//go:noescape
func amxTile2Asm(cfg, tail *[64]byte, a, b *float32, nblk, rem int, c *float32, ldc, mr int, alpha, beta float32)

// amxPackRowsAVX512 packs an AMX A panel of w rows and depth kc straight
// from rows of op(A) (row x at src[x*ld:], nx of them; the rest zero).
//
//go:noescape
func amxPackRowsAVX512(dst, src *float32, ld, nx, w, kc int)

// amxPackRows is amxPackRowsAVX512 with its bounds checked: dst holds the
// panel's w*ceil(kc/2) pairs.
func amxPackRows(dst, src []float32, ld, nx, w, kc int) {
	_, _ = dst[w*((kc+1)/2)-1], src[(nx-1)*ld+kc-1]
	amxPackRowsAVX512(unsafe.SliceData(dst), unsafe.SliceData(src), ld, nx, w, kc)
}

// packPairRows packs the rows x < n of src (ld apart, k values each) as
// amxPackRows packs a panel of n rows, and reports whether it could
// (AVX512_BF16 converts them).
func packPairRows(dst, src []float32, ld, n, k int) bool {
	if !kernel.BF16() {
		return false
	}
	amxPackRows(dst, src, ld, n, n, k)
	return true
}

// amxConfigs[mr][rem] is the tile configuration (ldtilecfg's 64 bytes) of
// an mr-row tile over blocks of rem pairs (rem 0: whole blocks of 16).
var amxConfigs [33][16][64]byte

func init() {
	for mr := 1; mr <= 32; mr++ {
		for rem := range 16 {
			cfg := &amxConfigs[mr][rem]
			pairs := 16
			if rem > 0 {
				pairs = rem
			}
			cfg[0] = 1 // palette 1
			// colsb (bytes per row, 16 bits each) at 16, rows at 48.
			set := func(t, rows, colsb int) {
				cfg[16+2*t], cfg[17+2*t] = byte(colsb), byte(colsb>>8)
				cfg[48+t] = byte(rows)
			}
			if mr <= 16 {
				set(0, mr, 64)      // C, columns 0-15
				set(1, mr, 64)      // C, columns 16-31
				set(2, mr, 4*pairs) // A
				set(3, pairs, 64)   // B, columns 0-15
				set(4, pairs, 64)   // B, columns 16-31
				continue
			}
			set(0, 16, 64)         // C, rows 0-15, columns 0-15
			set(1, 16, 64)         // C, rows 0-15, columns 16-31
			set(2, mr-16, 64)      // C, rows 16 and on, columns 0-15
			set(3, mr-16, 64)      // C, rows 16 and on, columns 16-31
			set(4, 16, 4*pairs)    // A, rows 0-15
			set(5, mr-16, 4*pairs) // A, rows 16 and on
			set(6, pairs, 64)      // B, columns 0-15
			set(7, pairs, 64)      // B, columns 16-31
		}
	}
}

// amxMicro returns the microKernel of mr-row AMX tiles (k counts pairs).
func amxMicro(mr int) microKernel {
	tile := amxTileAsm
	if mr > 16 {
		tile = amxTile2Asm
	}
	return func(k int, a, b, c []float32, ldc int, alpha, beta float32) {
		_, _, _ = a[mr*k-1], b[32*k-1], c[(mr-1)*ldc+31]
		nblk, rem := k/16, k%16
		tile(&amxConfigs[mr][0], &amxConfigs[mr][rem], unsafe.SliceData(a), unsafe.SliceData(b), nblk, rem, unsafe.SliceData(c), ldc, mr, alpha, beta)
	}
}

// The tile speeds order the rows' plans: tdpbf16ps takes about as long for
// any number of rows, so short tiles are slow per row (BenchmarkMicro).
var amxPath = &path{
	name: "amx",
	nr:   32,
	tiles: []tileKernel{
		{32, 2320, amxMicro(32)},
		{24, 1320, amxMicro(24)},
		{16, 1265, amxMicro(16)},
		{12, 1500, amxMicro(12)},
		{8, 1020, amxMicro(8)},
		{4, 560, amxMicro(4)},
	},
	kc: 1024, mc: 192, nc: 512,
	axpy:    axpyAVX512,
	dot:     dotAVX512,
	asmPack: true,
	pairs:   true,
	amx:     true,
}

// amxShiftAsm computes columns [0, ncols) of rows [0, mr) of a block of a
// Shifted product, mr <= 16: a and b are at the block's first row and
// column; offs are in elements, the strides in bytes; cfg is
// amxConfigs[mr][0].
//
//go:noescape
func amxShiftAsm(cfg *[64]byte, a, b *float32, aStep int, offs *int, shifts, chunks, bChunk, ldb int, c *float32, ldc, mr, ncols int, bias *float32, beta float32)

// amxShift2Asm is amxShiftAsm for 17 to 32 rows.
//
//go:noescape
func amxShift2Asm(cfg *[64]byte, a, b *float32, aStep int, offs *int, shifts, chunks, bChunk, ldb int, c *float32, ldc, mr, ncols int, bias *float32, beta float32)

// mulShiftedTiles is Shifted.Mul on AMX tiles (its arguments checked):
// blocks of 32 columns, each under every block of up to 32 rows in turn,
// so that the block's columns of B stay in cache. It reports true: this
// build has the tiles.
func mulShiftedTiles(s *Shifted, c []float32, ldc, q0, n int, beta float32) bool {
	chunks := s.K / 32
	ldb := 4 * s.LDB
	for j := 0; j < n; j += 32 {
		cols := min(32, n-j)
		for i := 0; i < s.M; i += 32 {
			mr := min(32, s.M-i)
			tile := amxShiftAsm
			if mr > 16 {
				tile = amxShift2Asm
			}
			var bias *float32
			if s.Bias != nil {
				bias = &s.Bias[i]
			}
			tile(&amxConfigs[mr][0], &s.A[i*16], &s.B[q0+j], 64*s.M, unsafe.SliceData(s.Offs),
				len(s.Offs), chunks, 16*ldb, ldb, &c[i*ldc+j], ldc, mr, cols, bias, beta)
		}
	}
	return true
}

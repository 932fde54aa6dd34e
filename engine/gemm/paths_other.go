//go:build !amd64 || noasm

package gemm

import "github.com/degradiff/degradiff/internal/kernel"

// asmPath returns nil: this build has no assembly kernels.
func asmPath(kernel.Path) *path { return nil }

// nativeBF16Paths returns nil: this build has no assembly kernels.
func nativeBF16Paths() []*path { return nil }

// Go versions of the AVX-512 packing routines (never called in this build,
// where no path has asmPack).

func transposeOffs(dst []float32, ld int, src []float32, offs *[16]int, mask int, cols int) {
	for r := range 16 {
		if mask&(1<<r) == 0 {
			continue
		}
		for c := range cols {
			dst[c*ld+r] = src[offs[r]+c]
		}
	}
}

func copyRows32(dst []float32, src []float32, lds, rows int) {
	for r := range rows {
		copy(dst[r*32:r*32+32], src[r*lds:r*lds+32])
	}
}

func gatherRows(dst []float32, ld int, src []float32, offs []int, cols int) {
	for r, o := range offs {
		copy(dst[r*ld:r*ld+cols], src[o:o+cols])
	}
}

// pairPanel is pairPanelGo: this build has no assembly.
func pairPanel(_ *path, dst []float32, w, kc int) { pairPanelGo(dst, w, kc) }

// pairRows reports false: this build has no assembly for it.
func pairRows(_ *path, dst []float32, w int, src []float32, lds, nx, kc int) bool { return false }

// amxPackRows is never called in this build: no path has amx.
func amxPackRows(dst, src []float32, ld, nx, w, kc int) { panic("gemm: no AMX in this build") }

// gatherPairs reports false: this build has no assembly for it.
func gatherPairs(dst []float32, ldd int, src []float32, offs []int, cols int) bool { return false }

// packPairRows reports false: this build has no assembly for it.
func packPairRows(dst, src []float32, ld, n, k int) bool { return false }

// mulShiftedTiles reports false: this build has no tile kernels.
func mulShiftedTiles(s *Shifted, c []float32, ldc, q0, n int, beta float32) bool { return false }

//go:build !noasm

package gemm

import (
	"unsafe"

	"github.com/degradiff/degradiff/internal/kernel"
)

// asmPath returns the assembly path of instruction set k, nil for Go.
func asmPath(k kernel.Path) *path {
	switch k {
	case kernel.AVX512:
		return avx512Path
	case kernel.AVX2:
		return avx2Path
	}
	return nil
}

// The tile speeds are GFLOP/s of each kernel alone on one core (AMD Zen 5
// at about 3.7 GHz, k = 256, best of 30 runs; BenchmarkMicro).
var avx512Path = &path{
	name: "avx512",
	nr:   32,
	tiles: []tileKernel{
		{14, 239, kernavx512_14x32},
		{12, 237, kernavx512_12x32},
		{8, 228, kernavx512_8x32},
		{4, 204, kernavx512_4x32},
	},
	kc: 384, mc: 192, nc: 512,
	axpy:    axpyAVX512,
	dot:     dotAVX512,
	asmPack: true,
}

// The bf16 tiles run at about twice the GFLOP/s of the float32 ones
// (BenchmarkMicro); their relative speeds order them the same way.
var avx512bf16Path = &path{
	name: "avx512bf16",
	nr:   32,
	tiles: []tileKernel{
		{14, 239, kernavx512bf16_14x32},
		{12, 237, kernavx512bf16_12x32},
		{8, 228, kernavx512bf16_8x32},
		{4, 204, kernavx512bf16_4x32},
	},
	kc: 384, mc: 192, nc: 512,
	axpy:    axpyAVX512,
	dot:     dotAVX512,
	asmPack: true,
	pairs:   true,
}

func init() {
	avx2Path.bf16 = genericBF16Path
	avx512Path.bf16 = genericBF16Path
	if kernel.BF16() {
		avx512Path.bf16 = avx512bf16Path
		avx512bf16Path.bf16 = avx512bf16Path
	}
	amxPath.bf16 = amxPath
	if kernel.AMX() {
		avx512Path.bf16 = amxPath
	}
}

// nativeBF16Paths returns the assembly paths of the BF16 precision this
// machine runs.
func nativeBF16Paths() []*path {
	var ps []*path
	if kernel.BF16() {
		ps = append(ps, avx512bf16Path)
	}
	if kernel.AMX() {
		ps = append(ps, amxPath)
	}
	return ps
}

var avx2Path = &path{
	name:  "avx2",
	nr:    16,
	tiles: []tileKernel{{6, 1, kernavx2_6x16}},
	kc:    384, mc: 192, nc: 512,
	axpy: axpyAVX2,
	dot:  dotAVX2,
}

// axpyAVX512 is Axpy for AVX-512: the assembly handles whole 16-element
// vectors, Go the rest.
func axpyAVX512(alpha float32, x, y []float32) {
	n := len(x) &^ 15
	if n > 0 {
		axpyAVX512Asm(alpha, x[:n], y[:n])
	}
	axpyGeneric(alpha, x[n:], y[n:len(x)])
}

func axpyAVX2(alpha float32, x, y []float32) {
	n := len(x) &^ 7
	if n > 0 {
		axpyAVX2Asm(alpha, x[:n], y[:n])
	}
	axpyGeneric(alpha, x[n:], y[n:len(x)])
}

// dotAVX512 is Dot for AVX-512: the assembly sums whole 64-element blocks
// into the 64 lanes, Go adds the rest and reduces in the documented order.
func dotAVX512(x, y []float32) float32 {
	var acc [dotLanes]float32
	n := len(x) &^ (dotLanes - 1)
	if n > 0 {
		dotAVX512Asm(x[:n], y[:n], &acc)
	}
	dotTail(&acc, x[n:], y[n:len(x)])
	return reduceLanes(&acc)
}

func dotAVX2(x, y []float32) float32 {
	var acc [dotLanes]float32
	n := len(x) &^ (dotLanes - 1)
	if n > 0 {
		dotAVX2Asm(x[:n], y[:n], &acc)
	}
	dotTail(&acc, x[n:], y[n:len(x)])
	return reduceLanes(&acc)
}

// axpyAVX512Asm sets y += alpha*x; len(x) is a multiple of 16, y as long.
//
//go:noescape
func axpyAVX512Asm(alpha float32, x, y []float32)

// axpyAVX2Asm sets y += alpha*x; len(x) is a multiple of 8, y as long.
//
//go:noescape
func axpyAVX2Asm(alpha float32, x, y []float32)

// dotAVX512Asm sets acc[l] = sum of x[i]*y[i] over i%64 == l; len(x) is a
// multiple of 64, y as long.
//
//go:noescape
func dotAVX512Asm(x, y []float32, acc *[dotLanes]float32)

// dotAVX2Asm is dotAVX512Asm for AVX2.
//
//go:noescape
func dotAVX2Asm(x, y []float32, acc *[dotLanes]float32)

// The packing routines of paths with asmPack.
func transposeOffs(dst []float32, ld int, src []float32, offs *[16]int, mask int, cols int) {
	transposeOffsAVX512(dst, ld, src, offs, mask, cols)
}

func copyRows32(dst []float32, src []float32, lds, rows int) { copyRows32AVX512(dst, src, lds, rows) }

func gatherRows(dst []float32, ld int, src []float32, offs []int, cols int) {
	gatherRowsAVX512(dst, ld, src, offs, 1<<cols-1)
}

// transposeOffsAVX512 sets dst[c*ld+r] = src[offs[r]+c] for the rows r
// whose bit is set in mask and c < cols, a multiple of 16.
//
//go:noescape
func transposeOffsAVX512(dst []float32, ld int, src []float32, offs *[16]int, mask int, cols int)

// copyRows32AVX512 sets dst[r*32+c] = src[r*lds+c] for r < rows, c < 32.
//
//go:noescape
func copyRows32AVX512(dst []float32, src []float32, lds int, rows int)

// gatherRowsAVX512 sets dst[r*ld+c] = src[offs[r]+c] for r < len(offs)
// and the columns c < 32 whose bit is set in mask (the low cols bits).
//
//go:noescape
func gatherRowsAVX512(dst []float32, ld int, src []float32, offs []int, mask int)

// pairPanel is pairPanelGo, in assembly on the bf16 paths (the pairs paths
// with asmPack: AVX512_BF16 or AMX, both with vcvtne2ps2bf16).
func pairPanel(p *path, dst []float32, w, kc int) {
	if p.asmPack && p.pairs {
		_ = dst[w*kc-1]
		pairConvertAVX512(unsafe.SliceData(dst), w, w, unsafe.SliceData(dst), nil, w, w, kc)
		return
	}
	pairPanelGo(dst, w, kc)
}

// pairRows packs a pairs panel of width w straight from kc rows of a
// matrix (row r at src[r*lds:], nx <= w values each): pairPanel without
// the float32 panel in between. It reports false, doing nothing, where
// path p has no assembly for it.
func pairRows(p *path, dst []float32, w int, src []float32, lds, nx, kc int) bool {
	if !p.asmPack || !p.pairs {
		return false
	}
	_, _ = dst[w*((kc+1)/2)-1], src[(kc-1)*lds+nx-1]
	pairConvertAVX512(unsafe.SliceData(dst), w, w, unsafe.SliceData(src), nil, lds, nx, kc)
	return true
}

// gatherPairs is GatherRowsPairs in assembly where the CPU has
// AVX512_BF16; it reports false, doing nothing, elsewhere.
func gatherPairs(dst []float32, ldd int, src []float32, offs []int, cols int) bool {
	if !kernel.BF16() {
		return false
	}
	pairConvertAVX512(unsafe.SliceData(dst), ldd, cols, unsafe.SliceData(src), unsafe.SliceData(offs), 0, cols, len(offs))
	return true
}

// pairConvertAVX512 converts rows of src (at offs, or every lds values)
// into bf16 pairs with vcvtne2ps2bf16, nx values a row, sw words a row of
// dst; it may run in place. Callers check the bounds.
//
//go:noescape
func pairConvertAVX512(dst *float32, ldd, sw int, src *float32, offs *int, lds, nx, rows int)

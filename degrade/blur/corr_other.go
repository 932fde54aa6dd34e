//go:build !amd64 || noasm

package blur

// Go versions of the assembly kernels (never chosen in this build, where
// package kernel offers only the generic path).

func corrRowAVX512(dst, src []float32, stride int, box []float32, kh, kw int) {
	corrRowGo(dst, src, stride, box, kh, kw)
}

func corrRowAVX2(dst, src []float32, stride int, box []float32, kh, kw int) {
	corrRowGo(dst, src, stride, box, kh, kw)
}

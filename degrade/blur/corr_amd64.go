//go:build !noasm

package blur

// corrRowAVX512 is corrRow for any len(dst) >= 1, lengths checked.
//
//go:noescape
func corrRowAVX512(dst, src []float32, stride int, box []float32, kh, kw int)

// corrRowAVX2 is corrRow for len(dst) a multiple of 8, lengths checked.
//
//go:noescape
func corrRowAVX2(dst, src []float32, stride int, box []float32, kh, kw int)

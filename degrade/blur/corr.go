package blur

import (
	"fmt"

	"github.com/degradiff/degradiff/internal/kernel"
)

// corrPath is the path corrRow uses: AVX-512 or AVX2 with FMA assembly on
// amd64, Go elsewhere, as chosen for the whole engine by package kernel
// (DEGRADIFF_KERNEL=generic|avx2|avx512 forces one).
var corrPath = kernel.Chosen()

// corrRow computes one output row: dst[x] = Σ_ij box[i*kw+j]·src[i*stride+x+j]
// for x < len(dst), over kh rows of src that hold at least len(dst)+kw-1
// values each. Every path sums the taps of an output in the same order (by
// row, then column); the assembly paths fuse each multiply-add, so results
// differ from the Go path by float32 rounding only.
func corrRow(dst, src []float32, stride int, box []float32, kh, kw int) {
	wd := len(dst)
	if wd == 0 {
		return
	}
	if kh < 1 || kw < 1 || stride < 0 || len(box) < kh*kw || len(src) < (kh-1)*stride+wd+kw-1 {
		panic(fmt.Sprintf("blur: corrRow of %d outputs with a %dx%d box (%d weights) over %d values at stride %d",
			wd, kh, kw, len(box), len(src), stride))
	}
	switch corrPath {
	case kernel.AVX512:
		corrRowAVX512(dst, src, stride, box, kh, kw)
	case kernel.AVX2:
		n := wd &^ 7
		if n > 0 {
			corrRowAVX2(dst[:n], src, stride, box, kh, kw)
		}
		corrRowGo(dst[n:], src[n:], stride, box, kh, kw)
	default:
		corrRowGo(dst, src, stride, box, kh, kw)
	}
}

// corrRowGo is corrRow in pure Go. Six outputs are accumulated in registers
// across all taps, three taps per iteration: on amd64 this keeps every
// accumulator and window value in a register (wider blocks spill), about
// 1.7 multiply-adds per cycle.
func corrRowGo(dst, src []float32, stride int, box []float32, kh, kw int) {
	wd := len(dst)
	x := 0
	for ; x+6 <= wd; x += 6 {
		var a0, a1, a2, a3, a4, a5 float32
		for i := 0; i < kh; i++ {
			row := src[i*stride+x : i*stride+x+kw+5]
			wr := box[i*kw : (i+1)*kw]
			j := 0
			for ; j+3 <= len(wr); j += 3 {
				s := row[j : j+8 : j+8]
				w := wr[j : j+3 : j+3]
				wv := w[0]
				a0 += wv * s[0]
				a1 += wv * s[1]
				a2 += wv * s[2]
				a3 += wv * s[3]
				a4 += wv * s[4]
				a5 += wv * s[5]
				wv = w[1]
				a0 += wv * s[1]
				a1 += wv * s[2]
				a2 += wv * s[3]
				a3 += wv * s[4]
				a4 += wv * s[5]
				a5 += wv * s[6]
				wv = w[2]
				a0 += wv * s[2]
				a1 += wv * s[3]
				a2 += wv * s[4]
				a3 += wv * s[5]
				a4 += wv * s[6]
				a5 += wv * s[7]
			}
			for ; j < len(wr); j++ {
				s := row[j : j+6 : j+6]
				wv := wr[j]
				a0 += wv * s[0]
				a1 += wv * s[1]
				a2 += wv * s[2]
				a3 += wv * s[3]
				a4 += wv * s[4]
				a5 += wv * s[5]
			}
		}
		d := dst[x : x+6 : x+6]
		d[0], d[1], d[2], d[3], d[4], d[5] = a0, a1, a2, a3, a4, a5
	}
	for ; x < wd; x++ {
		var a float32
		for i := 0; i < kh; i++ {
			row := src[i*stride+x : i*stride+x+kw]
			wr := box[i*kw : (i+1)*kw]
			for j, wv := range wr {
				a += wv * row[j]
			}
		}
		dst[x] = a
	}
}

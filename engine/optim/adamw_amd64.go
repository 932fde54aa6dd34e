//go:build !noasm

package optim

import (
	"unsafe"

	"github.com/degradiff/degradiff/internal/kernel"
)

// adamwAVX512 is adamwRow on 16 elements at a time, with the Go loop's
// operations in its order (each rounded to float32; vsqrtps rounds the
// square root once, as float32(math.Sqrt(float64(v))) does), so both give
// the same bits; n is a multiple of 16.
//
//go:noescape
func adamwAVX512(param, grad, mom, sq *float32, n int, c *adamCoef)

// adamwVector updates the longest prefix of p it can in assembly and
// returns its length.
func adamwVector(p, g, m, v []float32, c *adamCoef) int {
	n := len(p) &^ 15
	if n == 0 || kernel.Chosen() != kernel.AVX512 {
		return 0
	}
	_, _, _ = g[n-1], m[n-1], v[n-1]
	adamwAVX512(unsafe.SliceData(p), unsafe.SliceData(g), unsafe.SliceData(m), unsafe.SliceData(v), n, c)
	return n
}

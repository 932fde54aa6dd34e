package gemm

import "fmt"

// Axpy adds alpha*x to y: y[i] += alpha*x[i] for i < len(x). It panics if y
// is shorter than x.
//
// The assembly paths use a fused multiply-add; the generic path rounds the
// product first, so results may differ in the last bit between paths.
func Axpy(alpha float32, x, y []float32) {
	if len(y) < len(x) {
		panic(fmt.Sprintf("gemm.Axpy: len(y) = %d < len(x) = %d", len(y), len(x)))
	}
	if alpha == 0 || len(x) == 0 {
		return
	}
	active.Load().axpy(alpha, x, y[:len(x)])
}

// dotLanes is the number of partial sums Dot keeps.
const dotLanes = 64

// Dot returns the sum of x[i]*y[i] for i < len(x). It panics if y is shorter
// than x.
//
// The summation order is fixed and the same on every path: element i is
// added to partial sum i%64 in increasing i, and the 64 partial sums are
// then combined pairwise, s[l] += s[l+w] for w = 32, 16, ..., 1. The
// assembly paths fuse the multiply and add of whole 64-element blocks; the
// generic path and the final partial block round each product first.
func Dot(x, y []float32) float32 {
	if len(y) < len(x) {
		panic(fmt.Sprintf("gemm.Dot: len(y) = %d < len(x) = %d", len(y), len(x)))
	}
	return active.Load().dot(x, y[:len(x)])
}

// axpyGeneric is the pure-Go Axpy.
func axpyGeneric(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

// dotGeneric is the pure-Go Dot.
func dotGeneric(x, y []float32) float32 {
	var acc [dotLanes]float32
	dotTail(&acc, x, y)
	return reduceLanes(&acc)
}

// dotTail adds x[i]*y[i] to acc[i%64], in blocks of 64.
func dotTail(acc *[dotLanes]float32, x, y []float32) {
	y = y[:len(x)]
	for len(x) >= dotLanes {
		xs, ys := x[:dotLanes], y[:dotLanes]
		for l := range acc {
			acc[l] += xs[l] * ys[l]
		}
		x, y = x[dotLanes:], y[dotLanes:]
	}
	for l := range x {
		acc[l] += x[l] * y[l]
	}
}

// reduceLanes combines the partial sums of Dot in its documented order.
func reduceLanes(acc *[dotLanes]float32) float32 {
	for w := dotLanes / 2; w >= 1; w /= 2 {
		for l := 0; l < w; l++ {
			acc[l] += acc[l+w]
		}
	}
	return acc[0]
}

package gemm

// Tile of the pure-Go micro-kernel: 16 scalar accumulators fit the 16
// floating-point registers of amd64 and arm64's 32.
const (
	genMR = 4
	genNR = 4
)

// kernGeneric is the pure-Go microKernel for a genMR x genNR tile.
func kernGeneric(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	a = a[:k*genMR]
	b = b[:k*genNR]
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	for len(a) >= genMR && len(b) >= genNR {
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		a0 := a[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := a[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := a[2]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := a[3]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
		a = a[genMR:]
		b = b[genNR:]
	}
	storeRow4(c[:genNR], c00, c01, c02, c03, alpha, beta)
	storeRow4(c[ldc:ldc+genNR], c10, c11, c12, c13, alpha, beta)
	storeRow4(c[2*ldc:2*ldc+genNR], c20, c21, c22, c23, alpha, beta)
	storeRow4(c[3*ldc:3*ldc+genNR], c30, c31, c32, c33, alpha, beta)
}

// storeRow4 sets c = alpha*s + beta*c for one row of a generic tile, not
// reading c when beta == 0.
func storeRow4(c []float32, s0, s1, s2, s3, alpha, beta float32) {
	c = c[:4]
	if beta == 0 {
		c[0], c[1], c[2], c[3] = alpha*s0, alpha*s1, alpha*s2, alpha*s3
		return
	}
	c[0] = alpha*s0 + beta*c[0]
	c[1] = alpha*s1 + beta*c[1]
	c[2] = alpha*s2 + beta*c[2]
	c[3] = alpha*s3 + beta*c[3]
}

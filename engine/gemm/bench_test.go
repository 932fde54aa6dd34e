package gemm

import (
	"fmt"
	"testing"

	"github.com/degradiff/degradiff/rng"
)

// benchSgemm times C = op(A)*op(B) with the active path and reports GFLOP/s.
func benchSgemm(b *testing.B, transA, transB bool, m, n, k int) {
	s := rng.New(9, "bench")
	a, bm, c := randSlice(s, m*k), randSlice(s, k*n), make([]float32, m*n)
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	Sgemm(transA, transB, m, n, k, 1, a, lda, bm, ldb, 0, c, n)
	b.ResetTimer()
	for range b.N {
		Sgemm(transA, transB, m, n, k, 1, a, lda, bm, ldb, 0, c, n)
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkSgemm1024(b *testing.B) { benchSgemm(b, false, false, 1024, 1024, 1024) }

// BenchmarkSgemmPaths runs 1024^3 on every path.
func BenchmarkSgemmPaths(b *testing.B) {
	for _, p := range paths() {
		b.Run(p.name, func(b *testing.B) {
			defer setPath(p)()
			benchSgemm(b, false, false, 1024, 1024, 1024)
		})
	}
}

// BenchmarkSgemmConv runs the shapes of the 3x3 convolutions of the conv
// benchmarks: forward W*col (Cout x HW x Cin*9), the data gradient W^T*dY
// (Cin*9 x HW x Cout) and the weight gradient dY*col^T (Cout x Cin*9 x HW).
func BenchmarkSgemmConv(b *testing.B) {
	for _, s := range []struct {
		transA, transB bool
		m, n, k        int
	}{
		{false, false, 64, 4096, 576},
		{true, false, 576, 4096, 64},
		{false, true, 64, 576, 4096},
		{false, false, 128, 1024, 1152},
		{true, false, 1152, 1024, 128},
		{false, true, 128, 1152, 1024},
	} {
		t := map[bool]string{false: "N", true: "T"}
		for _, prec := range benchPrecisions() {
			b.Run(fmt.Sprintf("%s%s_%dx%dx%d/%s", t[s.transA], t[s.transB], s.m, s.n, s.k, prec), func(b *testing.B) {
				defer SetPrecision(prec)()
				benchSgemm(b, s.transA, s.transB, s.m, s.n, s.k)
			})
		}
	}
}

// benchPrecisions returns FP32 and, where it runs natively, BF16 (the Go
// BF16 kernel is a reference, not worth timing).
func benchPrecisions() []Precision {
	if BF16Native() {
		return []Precision{FP32, BF16}
	}
	return []Precision{FP32}
}

// BenchmarkSgemmPrecision runs 1024^3 in each precision.
func BenchmarkSgemmPrecision(b *testing.B) {
	for _, prec := range benchPrecisions() {
		b.Run(prec.String(), func(b *testing.B) {
			defer SetPrecision(prec)()
			benchSgemm(b, false, false, 1024, 1024, 1024)
		})
	}
}

func BenchmarkDot(b *testing.B) {
	s := rng.New(9, "dot")
	x, y := randSlice(s, 4096), randSlice(s, 4096)
	b.SetBytes(2 * 4 * 4096)
	for range b.N {
		_ = Dot(x, y)
	}
}

func BenchmarkAxpy(b *testing.B) {
	s := rng.New(9, "axpy")
	x, y := randSlice(s, 4096), randSlice(s, 4096)
	b.SetBytes(3 * 4 * 4096)
	for range b.N {
		Axpy(1e-3, x, y)
	}
}

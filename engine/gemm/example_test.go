package gemm_test

import (
	"fmt"

	"github.com/degradiff/degradiff/engine/gemm"
)

func ExampleSgemm() {
	// C = A * B^T for A 2x3 and B 2x3 (so op(B) is 3x2).
	a := []float32{
		1, 2, 3,
		4, 5, 6,
	}
	b := []float32{
		1, 0, 1,
		0, 1, 0,
	}
	c := make([]float32, 2*2)
	gemm.Sgemm(false, true, 2, 2, 3, 1, a, 3, b, 3, 0, c, 2)
	fmt.Println(c)
	// Output: [4 2 10 5]
}

func ExampleDot() {
	x := []float32{1, 2, 3}
	y := []float32{4, 5, 6}
	fmt.Println(gemm.Dot(x, y))
	// Output: 32
}

// rampOperand is the k x n matrix op(B)(p, x) = p + 10*x, never stored.
type rampOperand struct{}

func (rampOperand) Pack(dst []float32, ld, x0, nx, p0, kc int) {
	for p := 0; p < kc; p++ {
		for x := 0; x < nx; x++ {
			dst[p*ld+x] = float32(p0 + p + 10*(x0+x))
		}
	}
}

func ExampleMulOperands() {
	// C (1x3) = [1 1] * op(B), op(B) 2x3 given by a function.
	a := &gemm.Dense{Data: []float32{1, 1}, Stride: 2, XMajor: true}
	c := make([]float32, 3)
	gemm.MulOperands(1, 3, 2, 1, a, rampOperand{}, 0, c, 3)
	fmt.Println(c)
	// Output: [1 21 41]
}

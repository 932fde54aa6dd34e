package conv_test

import (
	"fmt"

	"github.com/degradiff/degradiff/engine/conv"
)

func ExampleForward() {
	// A 3x3 box filter over a 3x3 image of ones, zero padding 1.
	s := conv.Shape{N: 1, Cin: 1, H: 3, W: 3, Cout: 1, K: 3, Stride: 1, Pad: 1}
	x := []float32{1, 1, 1, 1, 1, 1, 1, 1, 1}
	w := []float32{1, 1, 1, 1, 1, 1, 1, 1, 1}
	ho, wo := s.Out()
	y := make([]float32, ho*wo)
	conv.Forward(s, x, w, nil, y)
	fmt.Println(y)
	// Output: [4 6 4 6 9 6 4 6 4]
}

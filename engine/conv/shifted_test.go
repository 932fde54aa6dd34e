package conv

import (
	"math"
	"testing"

	"github.com/degradiff/degradiff/engine/gemm"
)

// shiftedShapes have whole blocks of 32 channels in the source of Forward
// (Cin) or of the data gradient (Cout): output rows of whole blocks of 32
// (straight into the output) and not (through the flat buffer), several
// images and one (split over the cores), kernels 3 and 5, pads 0 to 2.
var shiftedShapes = []Shape{
	{N: 1, Cin: 32, Cout: 32, H: 8, W: 8, K: 3, Stride: 1, Pad: 1},
	{N: 2, Cin: 64, Cout: 20, H: 5, W: 70, K: 3, Stride: 1, Pad: 1},
	{N: 3, Cin: 32, Cout: 40, H: 6, W: 32, K: 3, Stride: 1, Pad: 1},
	{N: 1, Cin: 32, Cout: 32, H: 9, W: 64, K: 5, Stride: 1, Pad: 2},
	{N: 2, Cin: 32, Cout: 64, H: 7, W: 33, K: 3, Stride: 1, Pad: 0},
	{N: 1, Cin: 20, Cout: 32, H: 6, W: 34, K: 3, Stride: 1, Pad: 1},
	{N: 2, Cin: 32, Cout: 16, H: 70, W: 64, K: 3, Stride: 1, Pad: 1},
}

// toBF16 rounds v to bfloat16 as the BF16 products do.
func toBF16(v []float32) []float32 {
	r := make([]float32, len(v))
	for i, x := range v {
		r[i] = math.Float32frombits(math.Float32bits(gemm.PackPair(x, 0)) << 16)
	}
	return r
}

// TestShifted checks the shifted products (on AMX tiles here, or in Go
// where forced elsewhere) against float64 sums of the bf16-rounded
// factors, Forward with and without bias, BackwardData adding and
// setting, BackwardWeight; that they are the method chosen; that their bits do not depend
// on GOMAXPROCS; and that they allocate nothing once warm.
func TestShifted(t *testing.T) {
	defer gemm.SetPrecision(gemm.BF16)()
	defer func(old int) { shiftedMode = old }(shiftedMode)
	shiftedMode = 1
	for _, s := range shiftedShapes {
		x, w, bias, dy, dx0, dw0, db0 := operands(s)
		xr, wr, dyr := toBF16(x), toBF16(w), toBF16(dy)
		ho, wo := s.Out()
		if s.Cin%32 == 0 {
			if !chooses(opForward, s, w, bias) {
				t.Fatalf("%+v: Forward does not run shifted products", s)
			}
			for _, b := range [][]float32{bias, nil} {
				ry, _, _, _ := reference(s, xr, wr, b, dyr, dx0, dw0, db0)
				y := make([]float32, s.N*s.Cout*ho*wo)
				for i := range y {
					y[i] = float32(math.NaN())
				}
				Forward(s, x, w, b, y)
				check(t, "shifted Forward", s, y, ry, y)
			}
		}
		if s.Cin%32 == 0 && s.N >= 2 {
			if !chooses(opBackwardWeight, s, w, nil) {
				t.Fatalf("%+v: BackwardWeight does not run shifted products", s)
			}
			_, _, rdw, _ := reference(s, xr, wr, bias, dyr, dx0, dw0, db0)
			_, _, _, rdb := reference(s, x, w, bias, dy, dx0, dw0, db0) // db sums float32 dy
			for _, passBytes := range []int{gradPassBytes, 1 << 12} {   // one pass, several
				defer func(old int) { gradPassBytes = old }(gradPassBytes)
				gradPassBytes = passBytes
				dw := append([]float32(nil), dw0...)
				db := append([]float32(nil), db0...)
				BackwardWeight(s, x, dy, dw, db)
				check(t, "shifted BackwardWeight", s, dw, rdw, dw)
				check(t, "shifted BackwardWeight db", s, db, rdb, db)
			}
		}
		if s.Cout%32 == 0 {
			if !chooses(opBackwardData, s, w, nil) {
				t.Fatalf("%+v: BackwardData does not run shifted products", s)
			}
			_, rdx, _, _ := reference(s, xr, wr, bias, dyr, dx0, dw0, db0)
			dx := append([]float32(nil), dx0...)
			BackwardData(s, dy, w, dx)
			check(t, "shifted BackwardData", s, dx, rdx, dx)
			checkBackwardDataSet(t, s, dy, w)
		}
	}
	checkDeterministic(t, shiftedShapes)
	checkNoAllocs(t, shiftedShapes[:3])
	t.Logf("shifted products on AMX tiles: %v", gemm.ShiftedTiles())
}

// chooses reports whether op on shape s prepares shifted products.
func chooses(op opKind, s Shape, w, bias []float32) bool {
	j := getJob(op, s.check("chooses"))
	defer putJob(j)
	j.w, j.bias = w, bias
	j.prepare()
	return j.shift
}

// TestShiftedNotChosen checks the shapes and precisions that keep the
// im2col products: float32, strides above 1, sources of channels not in
// blocks of 32, a single image's weight gradient, and turned off.
func TestShiftedNotChosen(t *testing.T) {
	s := Shape{N: 1, Cin: 32, Cout: 32, H: 8, W: 8, K: 3, Stride: 1, Pad: 1}
	_, w, bias, _, _, _, _ := operands(s)
	if chooses(opForward, s, w, bias) {
		t.Error("float32 runs shifted products")
	}
	defer gemm.SetPrecision(gemm.BF16)()
	for _, c := range []Shape{
		{N: 1, Cin: 32, Cout: 32, H: 8, W: 8, K: 3, Stride: 2, Pad: 1},
		{N: 1, Cin: 48, Cout: 32, H: 8, W: 8, K: 3, Stride: 1, Pad: 1},
	} {
		_, w, bias, _, _, _, _ := operands(c)
		if chooses(opForward, c, w, bias) {
			t.Errorf("%+v runs shifted products", c)
		}
	}
	if chooses(opBackwardWeight, s, w, nil) {
		t.Error("a single image's weight gradient runs shifted products")
	}
	defer SetShifted(false)()
	if chooses(opForward, s, w, bias) {
		t.Error("SetShifted(false) does not turn them off")
	}
}

package conv

import (
	"math"
	"testing"

	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/rng"
)

// winogradErrorFactor is how much larger than the bound of a direct sum
// (ref.tol) Winograd's error may be: the transforms add and subtract up to
// 9 values before the products and 9 products after, so rounding grows by
// a small constant factor (the largest measured over the table is logged).
const winogradErrorFactor = 2

// withWinograd runs f with winogradMode set to mode.
func withWinograd(mode int, f func()) {
	defer func(old int) { winogradMode = old }(winogradMode)
	winogradMode = mode
	f()
}

// winogradShapes are the 3x3 stride-1 shapes of the test table, odd and
// even sizes, every padding Winograd takes, and shapes whose channel
// counts choose it by themselves.
func winogradShapes() []Shape {
	var ss []Shape
	for _, s := range shapes() {
		if s.K == 3 && s.Stride == 1 && s.Pad <= 2 {
			ss = append(ss, s)
		}
	}
	return append(ss,
		Shape{N: 2, Cin: 5, Cout: 3, H: 4, W: 4, K: 3, Stride: 1, Pad: 2},
		Shape{N: 1, Cin: 3, Cout: 2, H: 3, W: 3, K: 3, Stride: 1, Pad: 0}, // one output pixel
		Shape{N: 1, Cin: 2, Cout: 2, H: 1, W: 1, K: 3, Stride: 1, Pad: 1},
		Shape{N: 3, Cin: 32, Cout: 40, H: 11, W: 14, K: 3, Stride: 1, Pad: 1},
		Shape{N: 1, Cin: 64, Cout: 32, H: 9, W: 8, K: 3, Stride: 1, Pad: 1},
	)
}

func TestWinograd(t *testing.T) {
	worst := map[string]float64{}
	for _, s := range winogradShapes() {
		x, w, bias, dy, dx0, dw0, db0 := operands(s)
		ry, rdx, rdw, rdb := reference(s, x, w, bias, dy, dx0, dw0, db0)
		ho, wo := s.Out()
		y := make([]float32, s.N*s.Cout*ho*wo)
		for i := range y {
			y[i] = float32(math.NaN()) // Forward must overwrite
		}
		dx := append([]float32(nil), dx0...)
		dw := append([]float32(nil), dw0...)
		db := append([]float32(nil), db0...)
		withWinograd(1, func() {
			Forward(s, x, w, bias, y)
			BackwardData(s, dy, w, dx)
			BackwardWeight(s, x, dy, dw, db)
			checkBackwardDataSet(t, s, dy, w)
		})
		for _, c := range []struct {
			name string
			got  []float32
			ref  ref
		}{{"Forward", y, ry}, {"BackwardData", dx, rdx}, {"BackwardWeight", dw, rdw}, {"bias gradient", db, rdb}} {
			for i, v := range c.got {
				d := math.Abs(float64(v) - c.ref.v[i])
				tol := c.ref.tol(i)
				if !(d <= winogradErrorFactor*tol) {
					t.Fatalf("%s %+v: element %d = %g, want %g (error %.3g > %d x bound %.3g)", c.name, s, i, v, c.ref.v[i], d, winogradErrorFactor, tol)
				}
				if tol > 0 {
					worst[c.name] = max(worst[c.name], d/tol)
				}
			}
		}
	}
	t.Logf("kernel %s: largest Winograd error as a fraction of the direct bound: %v", gemm.Kernel(), worst)
}

// TestWinogradTiles checks that the tile routines in use (assembly where
// it runs) give the same bits as the Go ones, for channel counts the
// assembly takes and others.
func TestWinogradTiles(t *testing.T) {
	r := rng.New(5, "wino-tiles")
	for _, c := range []int{16, 48, 5} {
		const n, rs = 3, 1000
		ks := n*c + 7
		p := randSlice(r, 3*rs+(2*n+2)*c)
		bias := randSlice(r, c)
		m := randSlice(r, 15*ks+n*c)
		for _, tc := range []struct {
			name     string
			got, ref func(out []float32)
			size     int
		}{
			{"inputTiles", func(v []float32) { inputTiles(p, rs, c, n, v, ks) }, func(v []float32) { inputTilesGo(p, rs, c, n, v, ks) }, 16 * ks},
			{"outputTiles", func(q []float32) { outputTiles(m, ks, c, n, bias, q, rs) }, func(q []float32) { outputTilesGo(m, ks, c, n, bias, q, rs) }, rs + 2*n*c},
			{"outputGradTiles", func(v []float32) { outputGradTiles(p, rs, c, n, v, ks) }, func(v []float32) { outputGradTilesGo(p, rs, c, n, v, ks) }, 16 * ks},
		} {
			got, want := make([]float32, tc.size), make([]float32, tc.size)
			tc.got(got)
			tc.ref(want)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s, %d channels: value %d = %g, Go %g", tc.name, c, i, got[i], want[i])
				}
			}
		}
	}
	t.Logf("kernel %s: tile routines fast: %v", gemm.Kernel(), winoTilesFast)
}

// TestWinogradChosenByShape checks which convolutions take Winograd on
// their own.
func TestWinogradChosenByShape(t *testing.T) {
	c := winogradMinChannels
	for _, tc := range []struct {
		k, stride, pad, n, cin, cout int
		prec                         gemm.Precision
		want                         bool
		size                         int // output size; 0: 32
	}{
		{3, 1, 1, 2, c, c, gemm.FP32, true, 0},
		{3, 1, 0, 8, 2 * c, c, gemm.FP32, true, 0},
		{3, 1, 2, 2, c, 3 * c, gemm.FP32, true, 0},
		{3, 1, 1, 1, c, c, gemm.FP32, false, 0}, // one image
		{3, 1, 1, 2, c, c, gemm.BF16, false, 0},
		{3, 1, 1, 2, c - 16, 2 * c, gemm.FP32, false, 0},
		{3, 1, 1, 2, 2 * c, c + 8, gemm.FP32, false, 0}, // not a multiple of 16
		{3, 2, 1, 2, c, c, gemm.FP32, false, 0},
		{3, 1, 3, 2, c, c, gemm.FP32, false, 0},
		{1, 1, 0, 2, c, c, gemm.FP32, false, 0},
		{5, 1, 2, 2, c, c, gemm.FP32, false, 0},
		{3, 1, 1, 2, c, c, gemm.FP32, true, 128},
		{3, 1, 1, 2, c, c, gemm.FP32, false, 512}, // too large an image
	} {
		size := tc.size
		if size == 0 {
			size = 32
		}
		restore := gemm.SetPrecision(tc.prec)
		got := winograd(tc.k, tc.stride, tc.pad, tc.n, tc.cin, tc.cout, size, size)
		restore()
		want := tc.want && winoTilesFast
		if got != want {
			t.Errorf("winograd(k=%d, stride=%d, pad=%d, %d images, %d -> %d channels, %dx%d, %s) = %v, want %v", tc.k, tc.stride, tc.pad, tc.n, tc.cin, tc.cout, size, size, tc.prec, got, want)
		}
	}
	withWinograd(-1, func() {
		if winograd(3, 1, 1, 2, c, c, 32, 32) {
			t.Error("SetWinograd(false) does not turn it off")
		}
	})
}

func TestWinogradDeterministic(t *testing.T) {
	withWinograd(1, func() {
		checkDeterministic(t, []Shape{
			{N: 3, Cin: 32, Cout: 40, H: 13, W: 18, K: 3, Stride: 1, Pad: 1},
			{N: 1, Cin: 40, Cout: 32, H: 20, W: 17, K: 3, Stride: 1, Pad: 1},
			{N: 9, Cin: 32, Cout: 32, H: 6, W: 6, K: 3, Stride: 1, Pad: 0},   // more images than weight groups
			{N: 1, Cin: 64, Cout: 48, H: 19, W: 10, K: 3, Stride: 1, Pad: 1}, // one image, spread over the cores
		})
	})
}

func TestWinogradNoAllocs(t *testing.T) {
	withWinograd(1, func() {
		checkNoAllocs(t, []Shape{
			{N: 3, Cin: 32, Cout: 32, H: 12, W: 12, K: 3, Stride: 1, Pad: 1},
			{N: 1, Cin: 32, Cout: 48, H: 12, W: 12, K: 3, Stride: 1, Pad: 1},
		})
	})
}

// BenchmarkWinograd compares F(2x2, 3x3) with im2col on 3x3 convolutions
// of the UNet's and the SR network's sizes, forward and forward+backward,
// in each precision of the products.
func BenchmarkWinograd(b *testing.B) {
	precs := benchPrecisions()
	for _, w := range []struct {
		name  string
		shape Shape
	}{
		{"W1-64ch-64px", w1},
		{"W2-128ch-32px", w2},
		{"32ch-64px", Shape{N: 8, Cin: 32, Cout: 32, H: 64, W: 64, K: 3, Stride: 1, Pad: 1}},
		{"48ch-48px", Shape{N: 16, Cin: 48, Cout: 48, H: 48, W: 48, K: 3, Stride: 1, Pad: 1}},
		{"192ch-16px", Shape{N: 8, Cin: 192, Cout: 192, H: 16, W: 16, K: 3, Stride: 1, Pad: 1}},
	} {
		for _, prec := range precs {
			for _, pass := range []string{"fwd", "fwdbwd"} {
				for _, mode := range []struct {
					name string
					v    int
				}{{"im2col", -1}, {"winograd", 1}} {
					b.Run(w.name+"/"+prec.String()+"/"+pass+"/"+mode.name, func(b *testing.B) {
						defer gemm.SetPrecision(prec)()
						withWinograd(mode.v, func() { benchConv(b, w.shape, pass == "fwdbwd") })
					})
				}
			}
		}
	}
}

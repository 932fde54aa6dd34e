package conv

import (
	"testing"

	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/rng"
)

// Benchmark workloads: W1 and W2 from the performance targets, a stride-2
// downsampler and a 1x1 projection.
var (
	w1       = Shape{N: 8, Cin: 64, Cout: 64, H: 64, W: 64, K: 3, Stride: 1, Pad: 1}
	w2       = Shape{N: 4, Cin: 128, Cout: 128, H: 32, W: 32, K: 3, Stride: 1, Pad: 1}
	stride2  = Shape{N: 8, Cin: 64, Cout: 64, H: 64, W: 64, K: 3, Stride: 2, Pad: 1}
	pointwis = Shape{N: 8, Cin: 128, Cout: 64, H: 32, W: 32, K: 1, Stride: 1, Pad: 0}
)

// flops returns 2*N*Cout*Ho*Wo*Cin*K*K, the work of one forward pass.
func flops(s Shape) float64 {
	ho, wo := s.Out()
	return 2 * float64(s.N*s.Cout*ho*wo*s.Cin*s.K*s.K)
}

func benchConv(b *testing.B, s Shape, backward bool) {
	r := rng.New(11, "bench")
	ho, wo := s.Out()
	x := randSlice(r, s.N*s.Cin*s.H*s.W)
	w := randSlice(r, s.Cout*s.Cin*s.K*s.K)
	bias := randSlice(r, s.Cout)
	y := make([]float32, s.N*s.Cout*ho*wo)
	dy := randSlice(r, len(y))
	dx := make([]float32, len(x))
	dw := make([]float32, len(w))
	db := make([]float32, s.Cout)
	step := func() {
		Forward(s, x, w, bias, y)
		if backward {
			BackwardData(s, dy, w, dx)
			BackwardWeight(s, x, dy, dw, db)
		}
	}
	step()
	b.ResetTimer()
	for range b.N {
		step()
	}
	f := flops(s)
	if backward {
		f *= 3
	}
	b.ReportMetric(f*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// benchPrecisions returns the precisions of the products worth timing
// here: FP32 and, where it runs natively, BF16.
func benchPrecisions() []gemm.Precision {
	if gemm.BF16Native() {
		return []gemm.Precision{gemm.FP32, gemm.BF16}
	}
	return []gemm.Precision{gemm.FP32}
}

// BenchmarkConvPrecision runs W1 and W2 forward+backward in each precision
// of the products (gemm.Precision; bf16 only where it runs natively).
func BenchmarkConvPrecision(b *testing.B) {
	precs := benchPrecisions()
	for _, w := range []struct {
		name  string
		shape Shape
	}{{"W1", w1}, {"W2", w2}} {
		for _, prec := range precs {
			b.Run(w.name+"/"+prec.String(), func(b *testing.B) {
				defer gemm.SetPrecision(prec)()
				benchConv(b, w.shape, true)
			})
		}
	}
}

// BenchmarkConvIm2col runs W1 and W2 with Winograd turned off (package
// doc), for comparison with the default path of BenchmarkConvW*.
func BenchmarkConvIm2col(b *testing.B) {
	for _, w := range []struct {
		name  string
		shape Shape
	}{{"W1", w1}, {"W2", w2}} {
		for _, backward := range []bool{false, true} {
			name := w.name + "/forward"
			if backward {
				name += "+backward"
			}
			b.Run(name, func(b *testing.B) {
				defer SetWinograd(false)()
				benchConv(b, w.shape, backward)
			})
		}
	}
}

func BenchmarkConvW1Forward(b *testing.B)         { benchConv(b, w1, false) }
func BenchmarkConvW1ForwardBackward(b *testing.B) { benchConv(b, w1, true) }
func BenchmarkConvW2Forward(b *testing.B)         { benchConv(b, w2, false) }
func BenchmarkConvW2ForwardBackward(b *testing.B) { benchConv(b, w2, true) }
func BenchmarkConvStride2Forward(b *testing.B)    { benchConv(b, stride2, false) }
func BenchmarkConvStride2ForwardBackward(b *testing.B) {
	benchConv(b, stride2, true)
}
func BenchmarkConv1x1Forward(b *testing.B)         { benchConv(b, pointwis, false) }
func BenchmarkConv1x1ForwardBackward(b *testing.B) { benchConv(b, pointwis, true) }

// Each pass alone, to see where the time goes.
func BenchmarkConvW1BackwardData(b *testing.B)   { benchPass(b, w1, 1) }
func BenchmarkConvW1BackwardWeight(b *testing.B) { benchPass(b, w1, 2) }
func BenchmarkConvW2BackwardData(b *testing.B)   { benchPass(b, w2, 1) }
func BenchmarkConvW2BackwardWeight(b *testing.B) { benchPass(b, w2, 2) }

func benchPass(b *testing.B, s Shape, pass int) {
	r := rng.New(11, "bench")
	ho, wo := s.Out()
	x := randSlice(r, s.N*s.Cin*s.H*s.W)
	w := randSlice(r, s.Cout*s.Cin*s.K*s.K)
	dy := randSlice(r, s.N*s.Cout*ho*wo)
	dx := make([]float32, len(x))
	dw := make([]float32, len(w))
	db := make([]float32, s.Cout)
	step := func() {
		if pass == 1 {
			BackwardData(s, dy, w, dx)
		} else {
			BackwardWeight(s, x, dy, dw, db)
		}
	}
	step()
	b.ResetTimer()
	for range b.N {
		step()
	}
	b.ReportMetric(flops(s)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkConvShifted runs W1, W2 and a single 512x512 image of 64
// channels in BF16, forward and each backward pass (data, weight), with the shifted
// products (shifted.go) on and off, where they run on AMX tiles.
func BenchmarkConvShifted(b *testing.B) {
	defer gemm.SetPrecision(gemm.BF16)()
	if !gemm.ShiftedTiles() {
		b.Skip("no AMX tiles here: BF16 convolutions run as im2col products")
	}
	big := Shape{N: 1, Cin: 64, Cout: 64, H: 512, W: 512, K: 3, Stride: 1, Pad: 1}
	for _, w := range []struct {
		name  string
		shape Shape
	}{{"W1", w1}, {"W2", w2}, {"512", big}} {
		for _, on := range []bool{true, false} {
			method := "im2col"
			if on {
				method = "shifted"
			}
			b.Run(w.name+"/forward/"+method, func(b *testing.B) {
				defer SetShifted(on)()
				benchConv(b, w.shape, false)
			})
			b.Run(w.name+"/data/"+method, func(b *testing.B) {
				defer SetShifted(on)()
				benchPass(b, w.shape, 1)
			})
			b.Run(w.name+"/weight/"+method, func(b *testing.B) {
				defer SetShifted(on)()
				benchPass(b, w.shape, 2)
			})
		}
	}
}

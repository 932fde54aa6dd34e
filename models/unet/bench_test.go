package unet

import (
	"fmt"
	"sync"
	"testing"

	"github.com/degradiff/degradiff/engine/conv"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/rng"
)

var benchModels sync.Map // preset name -> *Model

func benchModel(b *testing.B, name string) *Model {
	if m, ok := benchModels.Load(name); ok {
		return m.(*Model)
	}
	c, err := Preset(name)
	if err != nil {
		b.Fatal(err)
	}
	m := MustNew(c, rng.New(1, "bench", name))
	benchModels.Store(name, m)
	return m
}

// BenchmarkForward times one inference forward pass of batch 1, reusing the
// graph's pool as a sampler does.
func BenchmarkForward(b *testing.B) {
	for _, bc := range []struct {
		preset string
		size   int
	}{
		{"tiny", 64}, {"tiny", 128}, {"small", 64}, {"small", 128}, {"small", 256}, {"cpu", 64}, {"cpu", 128}, {"cpu", 256}, {"reference", 64}, {"reference", 128},
	} {
		b.Run(fmt.Sprintf("%s/%dx%d", bc.preset, bc.size, bc.size), func(b *testing.B) {
			m := benchModel(b, bc.preset)
			x := ag.Const(randomTensor(1, 1, 3, bc.size, bc.size))
			g := ag.NewGraph(false)
			b.ResetTimer()
			for range b.N {
				m.Forward(g, x, []float32{500})
				g.Reset()
			}
		})
	}
}

// BenchmarkForwardPrecision times the inference forward pass of the cpu
// preset (the built-in model's size) at 128x128 and 512x512 in each
// precision of the products (gemm.Precision).
func BenchmarkForwardPrecision(b *testing.B) {
	for _, size := range []int{128, 512} {
		for _, prec := range precisions() {
			for _, wino := range []bool{true, false} {
				name := fmt.Sprintf("cpu/%dx%d/%s", size, size, prec)
				if !wino {
					name += "/im2col" // Winograd off, for comparison
				}
				b.Run(name, func(b *testing.B) {
					defer gemm.SetPrecision(prec)()
					defer conv.SetWinograd(wino)()
					m := benchModel(b, "cpu")
					x := ag.Const(randomTensor(1, 1, 3, size, size))
					g := ag.NewGraph(false)
					m.Forward(g, x, []float32{500})
					g.Reset()
					b.ResetTimer()
					for range b.N {
						m.Forward(g, x, []float32{500})
						g.Reset()
					}
				})
			}
		}
	}
}

// precisions returns the precisions worth timing here: FP32 and, where it
// runs natively, BF16.
func precisions() []gemm.Precision {
	if gemm.BF16Native() {
		return []gemm.Precision{gemm.FP32, gemm.BF16}
	}
	return []gemm.Precision{gemm.FP32}
}

// BenchmarkTrainStep times forward + MSE + backward of a batch of 4 on
// the tiny, small and cpu presets.
func BenchmarkTrainStep(b *testing.B) {
	for _, preset := range []string{"tiny", "small", "cpu"} {
		b.Run(preset+"/4x64x64", func(b *testing.B) {
			m := benchModel(b, preset)
			x := ag.Const(randomTensor(1, 4, 3, 64, 64))
			target := ag.Const(randomTensor(2, 4, 3, 64, 64))
			g := ag.NewGraph(true)
			steps := []float32{10, 200, 500, 900}
			b.ResetTimer()
			for range b.N {
				ag.ZeroGrad(m.Params())
				g.Backward(g.MSE(m.Forward(g, x, steps), target))
				g.Reset()
			}
		})
	}
}

// BenchmarkInferenceMemory reports the peak bytes held by the graph pool
// (free + live after a forward pass, since the pool never shrinks) for the
// cpu preset (8.6M parameters) at 256x256 and 512x512.
func BenchmarkInferenceMemory(b *testing.B) {
	for _, size := range []int{256, 512} {
		b.Run(fmt.Sprintf("cpu/%dx%d", size, size), func(b *testing.B) {
			m := benchModel(b, "cpu")
			x := ag.Const(randomTensor(1, 1, 3, size, size))
			g := ag.NewGraph(false)
			b.ResetTimer()
			for range b.N {
				m.Forward(g, x, []float32{500})
				g.Reset()
			}
			b.StopTimer()
			free, live := g.PooledBytes()
			b.ReportMetric(float64(free+live)/(1<<20), "pool-MiB")
		})
	}
}

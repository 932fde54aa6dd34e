package noise

import (
	"fmt"
	"testing"
	"time"

	"github.com/degradiff/degradiff/rng"
)

var benchSizes = []int{128, 512}

// reportCPU adds the process's CPU time per operation since cpu0, which
// stays meaningful on a loaded machine.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
	}
}

func BenchmarkAddGaussian(b *testing.B) {
	for _, n := range benchSizes {
		img := randImage(3, n, n, 1)
		for _, gray := range []bool{false, true} {
			b.Run(fmt.Sprintf("%dx%dx3/gray=%v", n, n, gray), func(b *testing.B) {
				s := rng.New(1, "bench")
				p := GaussianParams{Sigma: 10, Gray: gray, Clip: true, Rounds: true}
				b.SetBytes(int64(4 * len(img.Pix)))
				cpu0 := cpuTime()
				for b.Loop() {
					AddGaussian(img, p, s)
				}
				reportCPU(b, cpu0)
			})
		}
	}
}

func BenchmarkAddPoisson(b *testing.B) {
	for _, n := range benchSizes {
		img := randImage(3, n, n, 1)
		for _, gray := range []bool{false, true} {
			b.Run(fmt.Sprintf("%dx%dx3/gray=%v", n, n, gray), func(b *testing.B) {
				s := rng.New(1, "bench")
				p := PoissonParams{Scale: 1, Gray: gray, Clip: true, Rounds: true}
				b.SetBytes(int64(4 * len(img.Pix)))
				cpu0 := cpuTime()
				for b.Loop() {
					AddPoisson(img, p, s)
				}
				reportCPU(b, cpu0)
			})
		}
	}
}

func BenchmarkAddKAIRPoisson(b *testing.B) {
	img := randImage(3, 512, 512, 1)
	for _, vals := range []float64{100, 10000} {
		for _, gray := range []bool{false, true} {
			b.Run(fmt.Sprintf("512x512x3/vals=%g/gray=%v", vals, gray), func(b *testing.B) {
				s := rng.New(1, "bench")
				b.SetBytes(int64(4 * len(img.Pix)))
				cpu0 := cpuTime()
				for b.Loop() {
					AddKAIRPoisson(img, KAIRPoissonParams{Vals: vals, Gray: gray}, s)
				}
				reportCPU(b, cpu0)
			})
		}
	}
}

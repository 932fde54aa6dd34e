package rng

import (
	"fmt"
	"testing"
	"time"
)

// reportCPU adds the process's CPU time per operation since cpu0, which
// stays meaningful on a loaded machine.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func BenchmarkFillNormal(b *testing.B) {
	d := make([]float32, 512*512*3)
	s := New(1, "bench")
	b.SetBytes(int64(4 * len(d)))
	cpu0 := cpuTime()
	for b.Loop() {
		s.FillNormal(d, 1)
	}
	reportCPU(b, cpu0)
}

func BenchmarkFillUint64(b *testing.B) {
	d := make([]uint64, 1<<16)
	s := New(1, "bench")
	b.SetBytes(int64(8 * len(d)))
	cpu0 := cpuTime()
	for b.Loop() {
		s.FillUint64(d)
	}
	reportCPU(b, cpu0)
}

func BenchmarkPoisson(b *testing.B) {
	for _, lam := range []float64{3, 100} {
		b.Run(fmt.Sprint("lambda=", lam), func(b *testing.B) {
			s := New(1, "bench")
			cpu0 := cpuTime()
			for b.Loop() {
				s.Poisson(lam)
			}
			reportCPU(b, cpu0)
		})
	}
}

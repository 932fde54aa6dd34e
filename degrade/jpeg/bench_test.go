package jpeg

import (
	"fmt"
	"testing"
	"time"
)

var benchSizes = []int{128, 512}

func BenchmarkDiffJPEG(b *testing.B) {
	for _, n := range benchSizes {
		img := randImage(n, n, 1)
		b.Run(fmt.Sprintf("%dx%d", n, n), func(b *testing.B) {
			b.SetBytes(int64(4 * len(img.Pix)))
			cpu0 := cpuTime()
			for b.Loop() {
				DiffJPEG(img, 60)
			}
			reportCPU(b, cpu0)
		})
	}
}

func BenchmarkReal(b *testing.B) {
	for _, n := range benchSizes {
		img := randImage(n, n, 1)
		b.Run(fmt.Sprintf("%dx%d", n, n), func(b *testing.B) {
			b.SetBytes(int64(4 * len(img.Pix)))
			cpu0 := cpuTime()
			for b.Loop() {
				if _, err := Real(img, 60); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu0)
		})
	}
}

// reportCPU adds the process's CPU time per operation since cpu0, which
// stays meaningful on a loaded machine.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
	}
}

package gemm

import (
	"fmt"
	"testing"
)

// BenchmarkMicro times each micro-kernel alone on L1-resident panels: the
// ceiling for the whole product on one core.
func BenchmarkMicro(b *testing.B) {
	for _, p := range paths() {
		for _, t := range p.tiles {
			b.Run(fmt.Sprintf("%s_%dx%d", p.name, t.mr, p.nr), func(b *testing.B) {
				const k = 256
				a := make([]float32, k*t.mr)
				bb := make([]float32, k*p.nr)
				c := make([]float32, t.mr*p.nr)
				for range b.N {
					t.micro(k, a, bb, c, p.nr, 1, 1)
				}
				b.ReportMetric(2*float64(k*t.mr*p.nr)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

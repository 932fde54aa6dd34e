package gemm

import (
	"fmt"
	"testing"
)

// BenchmarkMicro times each micro-kernel alone on L1-resident panels: the
// ceiling for the whole product on one core. (A bf16 kernel's k counts
// pairs: twice the multiply-adds of a float32 kernel's.)
func BenchmarkMicro(b *testing.B) {
	ps := paths()
	ps = append(ps, nativeBF16Paths()...)
	for _, p := range ps {
		for _, t := range p.tiles {
			b.Run(fmt.Sprintf("%s_%dx%d", p.name, t.mr, p.nr), func(b *testing.B) {
				const k = 256
				a := make([]float32, k*t.mr) // zeros: valid in every layout
				bb := make([]float32, k*p.nr)
				c := make([]float32, t.mr*p.nr)
				for range b.N {
					t.micro(k, a, bb, c, p.nr, 1, 1)
				}
				flops := 2 * float64(k*t.mr*p.nr)
				if p.pairs {
					flops *= 2 // k pairs of products
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

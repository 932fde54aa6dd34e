package degrade

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/samples"
)

// BenchmarkPipeline512 measures whole-pipeline throughput on 512x512 inputs
// the way the degrade command runs: one image per worker, Workers() workers.
// It reports images per second over both cores, and the process's CPU time
// (user plus system) per image, which stays meaningful when other programs
// load the machine: an idle machine with c cores makes about
// c / (cpu-ms/img / 1000) images per second.
func BenchmarkPipeline512(b *testing.B) {
	hr, err := samples.Render("landscape", 512, 512, 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"official", "realesrgan", "bsrgan", "face", "bicubic"} {
		b.Run(name, func(b *testing.B) {
			c, _ := LoadPreset(name)
			p, _ := New(c)
			workers := parallel.Workers()
			var next atomic.Int64
			b.ResetTimer()
			cpu0 := cpuTime()
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						if _, _, _, err := Degrade(p, hr, 1, fmt.Sprint("img", i), 0); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "img/s")
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(cpu.Seconds()*1000/float64(b.N), "cpu-ms/img")
			}
		})
	}
}

//go:build unix

package ag_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/ag/agtest"
)

// cpuTime returns the user plus system CPU time of the process so far:
// on a loaded machine it is a steadier measure than wall-clock time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGroupNormSiLUCPU times GroupNormSiLU (32 groups) forward and
// forward+backward, reporting CPU milliseconds per operation, for the
// training shape [8, 64, 64, 64] and batch-1 inference at 128x128.
func BenchmarkGroupNormSiLUCPU(b *testing.B) {
	for _, shape := range [][]int{{8, 64, 64, 64}, {1, 64, 128, 128}} {
		x := agtest.Random(1, shape...)
		gamma, beta := agtest.Random(2, shape[1]), agtest.Random(3, shape[1])
		name := fmt.Sprintf("%dx%dx%dx%d", shape[0], shape[1], shape[2], shape[3])
		b.Run(name+"/forward", func(b *testing.B) {
			g := ag.NewGraph(false)
			c0 := cpuTime()
			for b.Loop() {
				g.GroupNormSiLU(ag.Const(x), ag.Const(gamma), ag.Const(beta), 32, 1e-5)
				g.Reset()
			}
			b.ReportMetric(float64(cpuTime()-c0)/1e6/float64(b.N), "cpu-ms/op")
		})
		b.Run(name+"/forward+backward", func(b *testing.B) {
			g := ag.NewGraph(true)
			xv, gv, bv := ag.Param("x", x), ag.Param("gamma", gamma), ag.Param("beta", beta)
			c0 := cpuTime()
			for b.Loop() {
				g.Backward(g.GroupNormSiLU(xv, gv, bv, 32, 1e-5))
				g.Reset()
			}
			b.ReportMetric(float64(cpuTime()-c0)/1e6/float64(b.N), "cpu-ms/op")
		})
	}
}

//go:build !noasm

package gemm

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

func bestOf(n int, f func()) time.Duration {
	best := time.Duration(1 << 62)
	for range n {
		t0 := time.Now()
		f()
		best = min(best, time.Since(t0))
	}
	return best
}

func TestTuneMicro(t *testing.T) {
	if os.Getenv("TUNE") == "" {
		t.Skip()
	}
	ks := []struct {
		name   string
		mr, nr int
		f      microKernel
	}{
		{"512_12x32", 12, 32, kernavx512_12x32},
		{"512_14x32", 14, 32, kernavx512_14x32},
		{"512_8x32", 8, 32, kernavx512_8x32},
		{"512_4x32", 4, 32, kernavx512_4x32},
		{"512_9x48", 9, 48, kernavx512_9x48},
		{"512_6x64", 6, 64, kernavx512_6x64},
		{"2_6x16", 6, 16, kernavx2_6x16},
	}
	for _, kk := range ks {
		const k = 256
		a := make([]float32, k*kk.mr)
		b := make([]float32, k*kk.nr)
		c := make([]float32, kk.mr*kk.nr)
		const reps = 2000
		d := bestOf(30, func() {
			for range reps {
				kk.f(k, a, b, c, kk.nr, 1, 1)
			}
		})
		t.Logf("%-10s %6.1f GFLOP/s", kk.name, 2*float64(k*kk.mr*kk.nr)*reps/d.Seconds()/1e9)
	}
}

func TestTuneBlock(t *testing.T) {
	if os.Getenv("TUNE") == "" {
		t.Skip()
	}
	ks := []struct {
		name   string
		mr, nr int
		f      microKernel
	}{
		{"12x32", 12, 32, kernavx512_12x32},
		{"14x32", 14, 32, kernavx512_14x32},
		{"9x48", 9, 48, kernavx512_9x48},
		{"6x64", 6, 64, kernavx512_6x64},
	}
	shapes := [][3]int{{1024, 1024, 1024}, {64, 2048, 576}, {128, 512, 1152}}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, kk := range ks {
		for _, kc := range []int{192, 256, 384, 512} {
			for _, mcr := range []int{8, 16, 24} {
				for _, nc := range []int{1024, 4096} {
					p := &path{name: "t", nr: kk.nr, tiles: []tileKernel{{kk.mr, 1, kk.f}}, mc: mcr * kk.mr, kc: kc, nc: nc / kk.nr * kk.nr}
					restore := setPath(p)
					line := ""
					for _, s := range shapes {
						m, n, k := s[0], s[1], s[2]
						a, bm, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
						d := bestOf(15, func() { Sgemm(false, false, m, n, k, 1, a, k, bm, n, 0, c, n) })
						line += fmt.Sprintf(" %6.1f", 2*float64(m*n*k)/d.Seconds()/1e9)
					}
					restore()
					t.Logf("%-6s kc=%3d mc=%3d nc=%4d: %s", kk.name, kc, p.mc, p.nc, line)
				}
			}
		}
	}
}

func TestTuneBest(t *testing.T) {
	if os.Getenv("TUNE") == "" {
		t.Skip()
	}
	shapes := []struct {
		ta, tb  bool
		m, n, k int
	}{
		{false, false, 1024, 1024, 1024},
		{false, false, 64, 4096, 576}, {true, false, 576, 4096, 64}, {false, true, 64, 576, 4096},
		{false, false, 128, 1024, 1152}, {true, false, 1152, 1024, 128}, {false, true, 128, 1152, 1024},
	}
	var ncs []int
	fmt.Sscan(os.Getenv("NC"), &ncs)
	for _, nc := range []int{256, 512, 1024, 4096} {
		for _, kc := range []int{256, 384} {
			for _, mc := range []int{96, 192} {
				p := *avx512Path
				p.nc, p.kc, p.mc = nc, kc, mc
				restore := setPath(&p)
				line := ""
				for _, s := range shapes {
					m, n, k := s.m, s.n, s.k
					a, bm, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
					lda, ldb := k, n
					if s.ta {
						lda = m
					}
					if s.tb {
						ldb = k
					}
					d := bestOf(15, func() { Sgemm(s.ta, s.tb, m, n, k, 1, a, lda, bm, ldb, 0, c, n) })
					line += fmt.Sprintf(" %6.1f", 2*float64(m*n*k)/d.Seconds()/1e9)
				}
				restore()
				t.Logf("nc=%4d kc=%d mc=%d %s", nc, kc, mc, line)
			}
		}
	}
}

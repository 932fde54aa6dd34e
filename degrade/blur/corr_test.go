package blur

import (
	"fmt"
	"math"
	"testing"

	"github.com/degradiff/degradiff/internal/kernel"
	"github.com/degradiff/degradiff/rng"
)

// forEachPath runs f as a subtest on every corrRow path this build and CPU
// have, with that path selected.
func forEachPath(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, p := range kernel.Available() {
		t.Run(p.String(), func(t *testing.T) {
			old := corrPath
			corrPath = p
			defer func() { corrPath = old }()
			f(t)
		})
	}
}

// corrTol is the largest difference allowed between corrRow paths, relative
// to Σ|w·x| of the output: the paths add the same products in the same
// order, but the assembly fuses each multiply-add (one rounding instead of
// two), so each of up to 41·41 steps may differ by an ulp of the running
// sum. Measured differences are far smaller (see the test log).
const corrTol = 1e-6

// TestCorrRowPaths compares every path of corrRow with the Go one on
// random rows: widths around the block sizes (64, 16, 8 and masked tails),
// kernel boxes from 1x1 to 41x41, and a guard after dst that must stay.
func TestCorrRowPaths(t *testing.T) {
	s := rng.New(1, "corr paths")
	worstOf := map[string]float64{}
	defer func() {
		for name, w := range worstOf {
			t.Logf("%s: largest relative difference from Go %.3g", name, w)
		}
	}()
	boxes := [][2]int{{1, 1}, {1, 3}, {3, 1}, {1, 21}, {21, 1}, {7, 5}, {21, 21}, {41, 41}}
	widths := []int{1, 5, 8, 15, 16, 17, 63, 64, 65, 100, 128, 200, 513}
	for _, b := range boxes {
		kh, kw := b[0], b[1]
		box := make([]float32, kh*kw)
		for i := range box {
			box[i] = float32(s.Float64() - 0.3)
		}
		for _, wd := range widths {
			stride := wd + kw - 1 + s.Intn(3)
			src := make([]float32, (kh-1)*stride+wd+kw-1)
			for i := range src {
				src[i] = float32(s.Float64())
			}
			want := make([]float32, wd)
			corrRowGo(want, src, stride, box, kh, kw)
			// Σ|w·x| per output, for the tolerance.
			mag := make([]float64, wd)
			for x := range mag {
				for i := 0; i < kh; i++ {
					for j := 0; j < kw; j++ {
						mag[x] += math.Abs(float64(box[i*kw+j]) * float64(src[i*stride+x+j]))
					}
				}
			}
			forEachPath(t, func(t *testing.T) {
				got := make([]float32, wd+1)
				got[wd] = 42
				corrRow(got[:wd], src, stride, box, kh, kw)
				if got[wd] != 42 {
					t.Fatalf("%dx%d box, width %d: wrote past dst", kh, kw, wd)
				}
				worst := 0.0
				for x := range want {
					worst = max(worst, math.Abs(float64(got[x])-float64(want[x]))/mag[x])
				}
				worstOf[corrPath.String()] = max(worstOf[corrPath.String()], worst)
				if worst > corrTol {
					t.Errorf("%dx%d box, width %d: relative difference %.3g > %g", kh, kw, wd, worst, corrTol)
				}
			})
		}
	}
}

// TestCorrRowPanics checks that a source too short for the box is refused
// before any path reads it.
func TestCorrRowPanics(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("no panic for a short source")
			}
		}()
		corrRow(make([]float32, 16), make([]float32, 16+2), 18, make([]float32, 9), 3, 3)
	})
}

func BenchmarkCorrRow(b *testing.B) {
	for _, n := range []int{7, 21, 41} {
		src := make([]float32, n*(512+n))
		box := make([]float32, n*n)
		for i := range box {
			box[i] = 1 / float32(n*n)
		}
		dst := make([]float32, 512)
		for _, p := range kernel.Available() {
			b.Run(fmt.Sprintf("%dx%d/%s", n, n, p), func(b *testing.B) {
				old := corrPath
				corrPath = p
				defer func() { corrPath = old }()
				cpu0 := cpuTime()
				for b.Loop() {
					corrRow(dst, src, 512+n, box, n, n)
				}
				if cpu := cpuTime() - cpu0; cpu > 0 {
					b.ReportMetric(float64(512*n*n)*float64(b.N)/cpu.Seconds()/1e9, "GMAC/cpu-s")
				}
			})
		}
	}
}

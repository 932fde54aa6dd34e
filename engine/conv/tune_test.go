package conv

import (
	"os"
	"testing"
	"time"

	"github.com/degradiff/degradiff/internal/rng"
)

func TestTune(t *testing.T) {
	if os.Getenv("TUNE") == "" {
		t.Skip()
	}
	for _, s := range []Shape{w1, w2, stride2, pointwis} {
		r := rng.New(11, "bench")
		ho, wo := s.Out()
		x := randSlice(r, s.N*s.Cin*s.H*s.W)
		w := randSlice(r, s.Cout*s.Cin*s.K*s.K)
		bias := randSlice(r, s.Cout)
		y := make([]float32, s.N*s.Cout*ho*wo)
		dy := randSlice(r, len(y))
		dx := make([]float32, len(x))
		dw := make([]float32, len(w))
		db := make([]float32, s.Cout)
		line := ""
		for _, f := range []func(){
			func() { Forward(s, x, w, bias, y) },
			func() { BackwardData(s, dy, w, dx) },
			func() { BackwardWeight(s, x, dy, dw, db) },
		} {
			best := time.Duration(1 << 62)
			for range 8 {
				t0 := time.Now()
				f()
				best = min(best, time.Since(t0))
			}
			line += " " + time.Duration(best).Round(10*time.Microsecond).String()
			line += " (" + string(rune('0'+int(flops(s)/best.Seconds()/1e9)/100)) + ")"
			_ = line
			t.Logf("%+v: %.1f GFLOP/s", s, flops(s)/best.Seconds()/1e9)
		}
	}
}

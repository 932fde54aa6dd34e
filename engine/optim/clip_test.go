package optim

import (
	"math"
	"runtime"
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
)

func TestClipGradNorm(t *testing.T) {
	tests := []struct {
		name    string
		maxNorm float64
		scale   float64 // expected factor on the gradients
	}{
		{"clipped", 6.5, 6.5 / (13 + 1e-6)},
		{"at the limit", 13, 13 / (13 + 1e-6)}, // PyTorch clips by the 1e-6 margin too
		{"below", 20, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := param("a", 0, 0)
			a.Grad.Data[0], a.Grad.Data[1] = 3, 4
			b := param("b", 0)
			b.Grad.Data[0] = 12
			frozen := param("f", 0)
			frozen.Grad.Data[0] = 100
			frozen.SetRequiresGrad(false)
			none := param("n", 0)
			none.Grad = nil
			total := ClipGradNorm([]*ag.Var{a, b, frozen, none}, tt.maxNorm)
			if total != 13 {
				t.Errorf("total norm %v, want 13", total)
			}
			want := []float64{3 * tt.scale, 4 * tt.scale, 12 * tt.scale}
			got := []float32{a.Grad.Data[0], a.Grad.Data[1], b.Grad.Data[0]}
			for i := range want {
				if math.Abs(float64(got[i])-want[i]) > 1e-6 {
					t.Errorf("gradient %d = %v, want %v", i, got[i], want[i])
				}
			}
			if frozen.Grad.Data[0] != 100 {
				t.Errorf("frozen gradient changed to %v", frozen.Grad.Data[0])
			}
		})
	}
}

func TestGradNormFixedOrder(t *testing.T) {
	p := randParam("w", 5, 300_001)
	q := randParam("v", 6, 17)
	var norms []float64
	for _, procs := range []int{1, 2, 7} {
		prev := runtime.GOMAXPROCS(procs)
		norms = append(norms, GradNorm([]*ag.Var{p, q}))
		runtime.GOMAXPROCS(prev)
	}
	if norms[0] != norms[1] || norms[0] != norms[2] {
		t.Errorf("norm depends on the worker count: %v", norms)
	}
	// Compare with a plain float64 sum; the chunked order may differ in
	// the last bits only.
	s := 0.0
	for _, v := range [][]float32{p.Grad.Data, q.Grad.Data} {
		for _, g := range v {
			s += float64(g) * float64(g)
		}
	}
	if d := math.Abs(norms[0] - math.Sqrt(s)); d > 1e-12*math.Sqrt(s) {
		t.Errorf("norm %v, plain sum %v", norms[0], math.Sqrt(s))
	}
}

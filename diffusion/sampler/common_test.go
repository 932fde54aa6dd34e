package sampler

import (
	"math"
	"testing"

	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/rng"
)

func TestThreshold(t *testing.T) {
	x := tensor.New(2, 1, 1, 5)
	copy(x.Data, []float32{0.1, -0.5, 0.3, 0.2, 0.9, 0, 1, -2, 3, 4})
	thresholdInPlace(x, 0.5, 10)
	// Item 0: the median |x| is 0.3 < 1, so s = 1 and nothing changes.
	// Item 1: the median of 0,1,2,3,4 is 2: clamp to [-2, 2], divide by 2.
	want := []float32{0.1, -0.5, 0.3, 0.2, 0.9, 0, 0.5, -1, 1, 1}
	for i := range want {
		if x.Data[i] != want[i] {
			t.Fatalf("thresholded %v, want %v", x.Data, want)
		}
	}
	// torch.quantile interpolates linearly between order statistics, and
	// sample_max_value caps s.
	if q := quantileSorted([]float64{0, 1, 2, 3, 4}, 0.995); math.Abs(q-3.98) > 1e-12 {
		t.Errorf("quantile 0.995 of 0..4 = %g, want 3.98", q)
	}
	y := tensor.FromData([]float32{0, 1, 2, 3, 4}, 1, 1, 1, 5)
	thresholdInPlace(y, 0.995, 2.5)
	if y.Data[4] != 1 || y.Data[1] != 0.4 {
		t.Errorf("with sample_max_value 2.5: %v", y.Data)
	}
}

// TestThresholdingInSchedulers: with dynamic thresholding the x0 that DDPM
// predicts stays within [-1, 1] whatever the model says.
func TestThresholdingInSchedulers(t *testing.T) {
	cfg, _ := schedule.Defaults(schedule.DDPMClass)
	cfg.Thresholding, cfg.SampleMaxValue = true, 3
	d, err := NewDDPM(cfg)
	if err != nil {
		t.Fatal(err)
	}
	x := fill(tensor.New(1, 3, 8, 8), 1, 5)
	eps := fill(tensor.New(1, 3, 8, 8), 2, 5)
	_, x0, err := d.StepX0(eps, x, 900, rng.New(1))
	if err != nil {
		t.Fatal(err)
	}
	hi := 0.0
	for _, v := range x0.Data {
		hi = max(hi, math.Abs(float64(v)))
	}
	if hi > 1 || hi < 0.9 {
		t.Errorf("thresholded x0 spans ±%g, want ±1 reached", hi)
	}
	for _, name := range []string{"unipc", "dpmpp"} {
		c, _ := schedule.Defaults(classes[name])
		c.Thresholding = true
		s, err := New(name, c)
		if err != nil {
			t.Fatal(err)
		}
		s.SetTimesteps(10)
		y, err := s.Step(eps, x, s.Timesteps()[0], nil)
		if err != nil || !finite(y) {
			t.Errorf("%s with thresholding: %v", name, err)
		}
	}
}

func TestSolve(t *testing.T) {
	a := [][]float64{{0, 2, 1}, {1, 1, 1}, {2, 1, 0}} // needs pivoting
	x, err := solve(a, []float64{7, 6, 4})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{1, 2, 3} {
		if math.Abs(x[i]-want) > 1e-12 {
			t.Fatalf("solution %v, want [1 2 3]", x)
		}
	}
	if _, err := solve([][]float64{{1, 2}, {2, 4}}, []float64{1, 2}); err == nil {
		t.Error("singular system: no error")
	}
}

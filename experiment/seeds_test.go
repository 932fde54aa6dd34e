package experiment

import (
	"math"
	"testing"

	"github.com/degradiff/degradiff/measure/c2st"
)

func TestWelchCI(t *testing.T) {
	a, b := []float64{1, 2, 3}, []float64{2, 4, 6}
	d, ci := WelchCI(a, b)
	// Means 2 and 4, variances 1 and 4: standard error sqrt(1/3 + 4/3),
	// Welch–Satterthwaite degrees of freedom (5/3)² / ((1/3)²/2 + (4/3)²/2) = 50/17.
	h := c2st.StudentQuantile(0.975, 50.0/17) * math.Sqrt(5.0/3)
	if d != -2 || math.Abs(ci[0]-(-2-h)) > 1e-12 || math.Abs(ci[1]-(-2+h)) > 1e-12 {
		t.Errorf("WelchCI = %v %v, want -2 ± %v", d, ci, h)
	}
	if m, s := MeanStd([]float64{1, 2, 3, 4}); m != 2.5 || math.Abs(s-math.Sqrt(5.0/3)) > 1e-12 {
		t.Errorf("MeanStd = %v, %v", m, s)
	}
	if m, s := MeanStd([]float64{7}); m != 7 || s != 0 {
		t.Errorf("MeanStd of one value = %v, %v", m, s)
	}
}

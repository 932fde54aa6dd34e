package optim

import (
	"math"
	"strings"
	"testing"
)

func TestSchedules(t *testing.T) {
	tests := []struct {
		name          string
		warmup, total int
		steps         []int
		want          []float64
	}{
		// Warm-up 10 over 110 steps: 0..1 on [0,10], then the decay.
		{"cosine", 10, 110, []int{0, 5, 10, 35, 60, 110, 200},
			[]float64{0, 0.5, 1, 0.5 * (1 + math.Sqrt2/2), 0.5, 0, 0.5 * (1 + math.Cos(1.9*math.Pi))}},
		{"linear", 10, 110, []int{0, 5, 10, 60, 110, 200}, []float64{0, 0.5, 1, 0.5, 0, 0}},
		{"constant_with_warmup", 4, 0, []int{0, 2, 4, 1000}, []float64{0, 0.5, 1, 1}},
		{"constant", 4, 0, []int{0, 2, 1000}, []float64{1, 1, 1}},
		{"cosine", 0, 100, []int{0, 50, 100}, []float64{1, 0.5, 0}},
		{"linear", 0, 1, []int{0, 1}, []float64{1, 0}},
	}
	for _, tt := range tests {
		s, err := ParseSchedule(tt.name, tt.warmup, tt.total)
		if err != nil {
			t.Fatal(err)
		}
		for i, step := range tt.steps {
			if got := s(step); math.Abs(got-tt.want[i]) > 1e-12 {
				t.Errorf("%s(warmup %d, total %d) at step %d = %.15g, want %.15g", tt.name, tt.warmup, tt.total, step, got, tt.want[i])
			}
		}
	}
}

func TestParseScheduleErrors(t *testing.T) {
	tests := []struct {
		name          string
		warmup, total int
		want          string
	}{
		{"cosine", 10, 0, "needs the total"},
		{"linear", -1, 10, "negative warm-up"},
		{"polynomial", 0, 10, "unknown learning-rate schedule"},
	}
	for _, tt := range tests {
		if _, err := ParseSchedule(tt.name, tt.warmup, tt.total); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSchedule(%q, %d, %d): error %v, want %q", tt.name, tt.warmup, tt.total, err, tt.want)
		}
	}
}

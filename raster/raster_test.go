package raster

import (
	"math"
	"testing"
)

func TestTo8AndRound(t *testing.T) {
	for _, c := range []struct {
		v    float32
		want uint8
	}{
		{-1, 0}, {0, 0}, {float32(math.NaN()), 0}, {1, 255}, {2, 255},
		{0.5, 128}, // 127.5 rounds half to even
		{0.5 / 255, 0}, {1.5 / 255, 2}, {float32(2.5 / 255), 2}, {100.0 / 255, 100},
	} {
		if got := To8(c.v); got != c.want {
			t.Errorf("To8(%v) = %d, want %d", c.v, got, c.want)
		}
	}
	m := &Image{C: 1, H: 1, W: 4, Pix: []float32{-1, 0.001, 1.5 / 255, 2}}
	m.Round()
	want := []float32{0, 0, 2.0 / 255, 1}
	for i := range want {
		if m.Pix[i] != want[i] {
			t.Fatalf("Round: %v, want %v", m.Pix, want)
		}
	}
}

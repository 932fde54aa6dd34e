package rng

import (
	"math"

	"github.com/degradiff/degradiff/internal/parallel"
)

// FillNormal fills dst with independent standard normal numbers scaled by
// std. Element i uses the stream's blocks at a fixed offset from the current
// position, so the result is the same however many goroutines fill it. The
// stream advances past all the blocks used.
func (s *Stream) FillNormal(dst []float32, std float64) {
	base := s.ctr
	key := s.key
	// One 128-bit block gives two uniforms, that is one normal number.
	parallel.For(len(dst), 4096, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			b := philox(base+uint64(i), key)
			u1 := 1 - float64(b[0]>>11)*(1.0/(1<<53))
			u2 := float64(b[1]>>11) * (1.0 / (1 << 53))
			dst[i] = float32(std * math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2))
		}
	})
	s.ctr = base + uint64(len(dst))
	s.pos = 2
}

// Poisson returns a Poisson-distributed integer with mean lambda >= 0.
// Small means use inversion by sequential search; large ones use Hormann's
// PTRS transformed rejection ("The transformed rejection method for
// generating Poisson random variables", 1993), exact in distribution.
func (s *Stream) Poisson(lambda float64) int {
	switch {
	case lambda <= 0 || math.IsNaN(lambda):
		return 0
	case lambda < 10:
		// Inversion: walk the CDF from 0.
		u := s.Float64()
		p := math.Exp(-lambda)
		k := 0
		cdf := p
		for u > cdf {
			k++
			p *= lambda / float64(k)
			cdf += p
			if p == 0 || k > 1000 {
				break
			}
		}
		return k
	}
	slam := math.Sqrt(lambda)
	loglam := math.Log(lambda)
	b := 0.931 + 2.53*slam
	a := -0.059 + 0.02483*b
	invalpha := 1.1239 + 1.1328/(b-3.4)
	vr := 0.9277 - 3.6224/(b-2)
	for {
		u := s.Float64() - 0.5
		v := s.Float64()
		us := 0.5 - math.Abs(u)
		k := math.Floor((2*a/us+b)*u + lambda + 0.43)
		if us >= 0.07 && v <= vr {
			return int(k)
		}
		if k < 0 || (us < 0.013 && v > us) {
			continue
		}
		lg, _ := math.Lgamma(k + 1)
		if math.Log(v)+math.Log(invalpha)-math.Log(a/(us*us)+b) <= -lambda+k*loglam-lg {
			return int(k)
		}
	}
}

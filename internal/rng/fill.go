package rng

import (
	"math"

	"github.com/degradiff/degradiff/internal/parallel"
)

// FillNormal fills dst with independent standard normal numbers scaled by
// std. Element i comes from the stream's block at a fixed offset i/2 from
// the current position (Box-Muller: one block gives the cosine and sine
// normals of elements 2j and 2j+1), so the result is the same however many
// goroutines fill it. The stream advances past all the blocks used.
func (s *Stream) FillNormal(dst []float32, std float64) {
	base := s.ctr
	key := s.key
	n := len(dst)
	parallel.For(n, 4096, func(lo, hi int) {
		for j := lo >> 1; 2*j < hi; j++ {
			b := philox(base+uint64(j), key)
			u1 := 1 - float64(b[0]>>11)*(1.0/(1<<53))
			u2 := float64(b[1]>>11) * (1.0 / (1 << 53))
			r := std * math.Sqrt(-2*math.Log(u1))
			sn, cs := math.Sincos(2 * math.Pi * u2)
			if i := 2 * j; i >= lo {
				dst[i] = float32(r * cs)
			}
			if i := 2*j + 1; i < hi {
				dst[i] = float32(r * sn)
			}
		}
	})
	s.ctr = base + uint64((n+1)/2)
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

package rng

import (
	"math"

	"github.com/degradiff/degradiff/internal/parallel"
)

// normalChunk is the number of elements FillNormal draws as one unit. It is
// fixed so that the numbers depend only on the stream and len(dst), never
// on the number of goroutines.
const normalChunk = 4096

// FillNormal fills dst with independent standard normal numbers scaled by
// std, drawn with the ziggurat method (exact; see ziggurat.go) in float64
// and rounded to float32.
//
// Element i starts from word i of the stream's next (len(dst)+1)/2 blocks,
// and the stream advances past exactly those blocks, whatever the values.
// The few elements that need more words (about 1 in 100) take them from an
// overflow stream of their chunk of normalChunk elements, keyed by the
// stream's key and the chunk's first block, so every element is the same
// however many goroutines fill dst.
func (s *Stream) FillNormal(dst []float32, std float64) {
	n := len(dst)
	parallel.Loop((n+normalChunk-1)/normalChunk, 1, normalLoop{dst: dst, std: std, base: s.ctr, key: s.key})
	s.ctr += uint64((n + 1) / 2)
	s.pos = 2
}

// normalLoop fills chunks [clo, chi) of FillNormal's dst from the blocks
// after base of the stream keyed key.
type normalLoop struct {
	dst       []float32
	std       float64
	base, key uint64
}

func (l *normalLoop) Run(clo, chi int) {
	n := len(l.dst)
	words := make([]uint64, normalChunk)
	for c := clo; c < chi; c++ {
		lo, hi := c*normalChunk, min((c+1)*normalChunk, n)
		first := l.base + uint64(lo/2)
		w := words[:hi-lo]
		fillBlocks(w, first, l.key)
		d := l.dst[lo:hi]
		d = d[:len(w)]
		var over Stream // the chunk's overflow stream, keyed on first use
		keyed := false
		for i, x := range w {
			z, ok := zigFast(x)
			if !ok {
				if !keyed {
					over, keyed = Stream{key: overflowKey(l.key, first), pos: 2}, true
				}
				z = zigSlow(x, &over)
			}
			d[i] = float32(z * l.std)
		}
	}
}

// overflowKey returns the key of the overflow stream of the chunk whose
// first block is first: a Philox block at a counter with the top bit set,
// which no stream reaches (2^63 blocks), so the key is a pseudo-random
// function of (key, first) that never repeats a draw of the stream itself.
func overflowKey(key, first uint64) uint64 {
	return philox(first|1<<63, key)[0]
}

// fillBlocksGo is fillBlocks in pure Go.
func fillBlocksGo(dst []uint64, ctr, key uint64) {
	j := 0
	for ; j+4 <= len(dst); j += 4 {
		a, b := philox2(ctr, key)
		d := dst[j : j+4 : j+4]
		d[0], d[1], d[2], d[3] = a[0], a[1], b[0], b[1]
		ctr += 2
	}
	for ; j+2 <= len(dst); j += 2 {
		b := philox(ctr, key)
		dst[j], dst[j+1] = b[0], b[1]
		ctr++
	}
	if j < len(dst) {
		dst[j] = philox(ctr, key)[0]
	}
}

// FillUint64 sets dst to the stream's next len(dst) words, as that many
// calls to Uint64 would return, computing whole blocks in bulk.
func (s *Stream) FillUint64(dst []uint64) {
	i := 0
	for ; i < len(dst) && s.pos < 2; i++ {
		dst[i] = s.buf[s.pos]
		s.pos++
	}
	whole := (len(dst) - i) &^ 1
	fillBlocks(dst[i:i+whole], s.ctr, s.key)
	s.ctr += uint64(whole / 2)
	for i += whole; i < len(dst); i++ {
		dst[i] = s.Uint64()
	}
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

// philox2 computes blocks ctr and ctr+1 under key with the rounds of both
// interleaved: one block's rounds form a chain of dependent multiplies, so
// two chains keep the multiplier busier (about 15% faster than philox twice).
func philox2(ctr, key uint64) (a, b [2]uint64) {
	c0, c1, c2, c3 := uint32(ctr), uint32(ctr>>32), uint32(0), uint32(0)
	d0, d1, d2, d3 := uint32(ctr+1), uint32((ctr+1)>>32), uint32(0), uint32(0)
	k0, k1 := uint32(key), uint32(key>>32)
	for r := 0; r < 10; r++ {
		p0 := uint64(philoxM0) * uint64(c0)
		p1 := uint64(philoxM1) * uint64(c2)
		q0 := uint64(philoxM0) * uint64(d0)
		q1 := uint64(philoxM1) * uint64(d2)
		c0, c1, c2, c3 = uint32(p1>>32)^c1^k0, uint32(p1), uint32(p0>>32)^c3^k1, uint32(p0)
		d0, d1, d2, d3 = uint32(q1>>32)^d1^k0, uint32(q1), uint32(q0>>32)^d3^k1, uint32(q0)
		k0 += philoxW0
		k1 += philoxW1
	}
	a = [2]uint64{uint64(c0) | uint64(c1)<<32, uint64(c2) | uint64(c3)<<32}
	b = [2]uint64{uint64(d0) | uint64(d1)<<32, uint64(d2) | uint64(d3)<<32}
	return a, b
}

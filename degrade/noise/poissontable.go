package noise

import (
	"math"
	"math/bits"
	"strconv"

	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/internal/rng"
)

// Both references round the image to 8 bits before the Poisson draw, so the
// rates of one image take at most 256 values, one per level. Counts are then
// drawn by inversion of per-level CDF tables with one uniform per value,
// instead of a rejection sampler with logarithms per value.

// poissonTableMax is the largest rate drawn from a table. BasicSR's rates
// stay below 256 and KAIR's below 10^4; larger rates (reachable only with
// hand-made parameters) use rng.Stream.Poisson, whose tables would be large.
const poissonTableMax = 1 << 14

// poissonTail is the probability below which a table drops counts from
// either end, relative to the total: far below the 2^-53 resolution of the
// uniform that inverts the CDF, so the dropped counts could not be drawn
// with a 53-bit uniform anyway.
const poissonTail = 0x1p-64

// poissonTable draws Poisson(lambda) counts by inversion: the count for a
// uniform U/2^53 (U a 53-bit integer) is k0+j for the smallest j with
// U < thr[j], where thr[j] = ceil(2^53·P(K <= k0+j)). The probabilities are
// computed in float64 from the mode outwards, so they are accurate to a few
// ulps even where exp(-lambda) underflows; the counts whose total
// probability is below poissonTail are left out and the rest renormalised,
// which changes no probability by more than about 1e-18. With integer
// thresholds and a power-of-two guide table, the inversion itself is exact.
type poissonTable struct {
	k0  int
	thr []uint64
	// guide[g] is the smallest j with thr[j] > g·2^shift: the search for U
	// starts at guide[U>>shift] and steps forward, 1 to 2 steps on average.
	guide []int32
	shift uint
}

// newPoissonTable returns the table of Poisson(lambda), 0 <= lambda <=
// poissonTableMax.
func newPoissonTable(lambda float64) *poissonTable {
	if !(lambda > 0) {
		return &poissonTable{thr: []uint64{1 << 53}, guide: []int32{0}, shift: 53}
	}
	// Unnormalised probabilities relative to the mode m: w(m) = 1,
	// w(k+1) = w(k)·lambda/(k+1), w(k-1) = w(k)·k/lambda.
	m := int(lambda)
	// The mode's probability is about 1/sqrt(2πλ) (or e^-λ for small λ),
	// so w < poissonTail/(1+sqrt(2πλ)) bounds each dropped probability by
	// poissonTail; the tails beyond fall geometrically.
	cut := poissonTail / (1 + math.Sqrt(2*math.Pi*lambda))
	var down []float64 // w(m-1), w(m-2), ...
	for k, w := m, 1.0; k > 0; k-- {
		w *= float64(k) / lambda
		if w < cut {
			break
		}
		down = append(down, w)
	}
	w := make([]float64, 0, 2*len(down)+2)
	for i := len(down) - 1; i >= 0; i-- {
		w = append(w, down[i])
	}
	w = append(w, 1)
	for k, v := m, 1.0; ; k++ {
		v *= lambda / float64(k+1)
		if v < cut {
			break
		}
		w = append(w, v)
	}
	sum := 0.0
	for _, v := range w {
		sum += v
	}
	t := &poissonTable{k0: m - len(down), thr: make([]uint64, len(w))}
	acc := 0.0
	for j, v := range w {
		acc += v
		t.thr[j] = uint64(math.Ceil(acc / sum * (1 << 53)))
	}
	t.thr[len(w)-1] = 1 << 53 // the sum itself: every U < 2^53 stops here
	b := bits.Len(uint(len(w) - 1))
	t.shift = uint(53 - b)
	t.guide = make([]int32, 1<<b)
	j := 0
	for g := range t.guide {
		for t.thr[j] <= uint64(g)<<t.shift {
			j++
		}
		t.guide[g] = int32(j)
	}
	return t
}

// draw returns the count for the 53-bit uniform integer u.
func (t *poissonTable) draw(u uint64) int {
	j := int(t.guide[u>>t.shift])
	thr := t.thr
	for thr[j] <= u {
		j++
	}
	return t.k0 + j
}

// poissonLevels holds the rate of every level of an image and the tables of
// the levels present.
type poissonLevels struct {
	lambda [256]float64
	table  [256]*poissonTable
}

// build makes the tables of the levels marked in present, in parallel.
func (p *poissonLevels) build(present *[256]bool) {
	var todo []int
	for k, ok := range present {
		if ok && p.lambda[k] <= poissonTableMax {
			todo = append(todo, k)
		}
	}
	parallel.For(len(todo), 8, func(lo, hi int) {
		for _, k := range todo[lo:hi] {
			p.table[k] = newPoissonTable(p.lambda[k])
		}
	})
}

// poissonChunk is the number of values that share one derived stream when
// drawing Poisson counts. It is fixed so that the counts depend only on the
// image size, not on the number of workers.
const poissonChunk = 4096

// drawPoisson sets dst[i] to a Poisson count with mean p.lambda[levels[i]].
// It consumes one value of s and draws chunk c of poissonChunk values from a
// stream derived from that value and c, one 64-bit word per value (its top
// 53 bits invert the level's table).
func drawPoisson(dst []float32, levels []uint8, p *poissonLevels, s *rng.Stream) {
	var present [256]bool
	for _, l := range levels {
		present[l] = true
	}
	p.build(&present)
	base := s.Derive("poisson", strconv.FormatUint(s.Uint64(), 16))
	chunks := (len(levels) + poissonChunk - 1) / poissonChunk
	dst = dst[:len(levels)]
	parallel.For(chunks, 1, func(clo, chi int) {
		words := make([]uint64, poissonChunk)
		for c := clo; c < chi; c++ {
			cs := base.Derive(strconv.Itoa(c))
			lv := levels[c*poissonChunk : min((c+1)*poissonChunk, len(levels))]
			d := dst[c*poissonChunk:]
			d = d[:len(lv)]
			w := words[:len(lv)]
			cs.FillUint64(w)
			for i, l := range lv {
				if t := p.table[l]; t != nil {
					d[i] = float32(t.draw(w[i] >> 11))
				} else {
					// A rate beyond the tables: the exact rejection
					// sampler, from a stream of the value's own.
					d[i] = float32(rng.FromKey(w[i]).Poisson(p.lambda[l]))
				}
			}
		}
	})
}

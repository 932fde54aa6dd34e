package noise

import (
	"math"
	"math/bits"
	"strconv"
	"sync"

	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/rng"
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
	// w(k+1) = w(k)·lambda/(k+1), w(k-1) = w(k)·k/lambda. The total is at
	// most 1+sqrt(2πλ), so w < cut keeps each dropped probability below
	// poissonTail, and the tails beyond it fall geometrically.
	m := int(lambda)
	cut := poissonTail / (1 + math.Sqrt(2*math.Pi*lambda))
	lo, wlo := m, 1.0
	for k, w := m, 1.0; k > 0; k-- {
		w *= float64(k) / lambda
		if w < cut {
			break
		}
		lo, wlo = k-1, w
	}
	hi := m
	for k, w := m, 1.0; ; k++ {
		w *= lambda / float64(k+1)
		if w < cut {
			break
		}
		hi = k + 1
	}
	n := hi - lo + 1
	b := bits.Len(uint(n - 1))
	t := &poissonTable{k0: lo, thr: make([]uint64, n), guide: make([]int32, 1<<b), shift: uint(53 - b)}
	// Cumulative sums upwards from lo, kept as float64 bits until the total
	// is known.
	acc, w := 0.0, wlo
	for j := range t.thr {
		acc += w
		t.thr[j] = math.Float64bits(acc)
		w *= lambda / float64(lo+j+1)
	}
	scale := (1 << 53) / acc
	for j, v := range t.thr {
		t.thr[j] = uint64(math.Ceil(math.Float64frombits(v) * scale))
	}
	t.thr[n-1] = 1 << 53 // the total itself: every U < 2^53 stops here
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

// build looks up or makes the tables of the levels marked in present.
func (p *poissonLevels) build(present *[256]bool) {
	var todo []int
	for k, ok := range present {
		if !ok || p.lambda[k] > poissonTableMax {
			continue
		}
		if p.table[k] = tables.get(p.lambda[k]); p.table[k] == nil {
			todo = append(todo, k)
		}
	}
	parallel.For(len(todo), 64, func(lo, hi int) {
		for _, k := range todo[lo:hi] {
			p.table[k] = newPoissonTable(p.lambda[k])
		}
	})
	for _, k := range todo {
		tables.put(p.lambda[k], p.table[k])
	}
}

// poissonCache keeps tables by rate. BasicSR's rates repeat from image to
// image (vals is a power of two up to 256, so there are at most 9·256 of
// them); KAIR's vals is continuous, so its tables rarely repeat and the
// cache starts over when it holds poissonCacheMax thresholds.
type poissonCache struct {
	mu      sync.Mutex
	byRate  map[float64]*poissonTable
	entries int
}

// poissonCacheMax bounds the thresholds the cache holds, about 12 bytes
// each with the guide tables.
const poissonCacheMax = 1 << 20

var tables = poissonCache{byRate: map[float64]*poissonTable{}}

func (c *poissonCache) get(lambda float64) *poissonTable {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byRate[lambda]
}

func (c *poissonCache) put(lambda float64, t *poissonTable) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byRate[lambda]; ok {
		return
	}
	if c.entries+len(t.thr) > poissonCacheMax {
		clear(c.byRate)
		c.entries = 0
	}
	c.byRate[lambda] = t
	c.entries += len(t.thr)
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

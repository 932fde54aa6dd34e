// Package rng provides a counter-based random number generator keyed by a
// seed and item names.
//
// Every random draw in degradiff comes from a Stream whose key is derived
// from (seed, item, variant, purpose). The n-th draw of a stream depends only
// on its key and n, never on which goroutine or in which order items are
// processed, so results do not depend on worker count, shard split or order.
//
// The generator is Philox4x32-10 (Salmon et al., "Parallel random numbers:
// as easy as 1, 2, 3", SC 2011): a bijection of a 128-bit counter under a
// 64-bit key, which passes BigCrush and can jump to any position in O(1).
// Bulk fills (FillUint64, FillNormal) compute 8 or 16 blocks at a time with
// AVX2 or AVX-512 on amd64; DEGRADIFF_KERNEL=generic|avx2|avx512 selects the
// path as for the engine's kernels, and every path gives the same numbers.
package rng

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
)

// Stream is a sequence of random numbers determined by a 64-bit key.
// It is not safe for concurrent use; derive one stream per goroutine.
type Stream struct {
	key uint64
	ctr uint64 // index of the next 128-bit block
	buf [2]uint64
	pos int // next unused word in buf; 2 means empty
}

// New returns the stream keyed by seed and the given names, for example
// New(seed, "img_001.png", "variant 3", "degrade").
func New(seed uint64, parts ...string) *Stream {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	return &Stream{key: deriveKey(b[:], parts), pos: 2}
}

// Derive returns an independent stream keyed by s's key and parts. It does not
// consume draws from s, so adding a sub-stream never shifts s.
func (s *Stream) Derive(parts ...string) *Stream {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], s.key)
	return &Stream{key: deriveKey(b[:], parts), pos: 2}
}

// Key returns the stream's 64-bit key.
func (s *Stream) Key() uint64 { return s.key }

// Counter returns the position of the stream in 128-bit blocks, with the
// number of words already used from the current block.
func (s *Stream) Counter() (block uint64, used int) { return s.ctr, s.pos }

// State is the serialisable position of a stream, for checkpoints.
type State struct {
	Key   uint64 `json:"key"`
	Block uint64 `json:"block"`
	Used  int    `json:"used"`
}

// State returns the position of s so that Restore can continue it exactly.
func (s *Stream) State() State { return State{Key: s.key, Block: s.ctr, Used: s.pos} }

// Restore returns a stream that continues from st.
func Restore(st State) *Stream {
	s := &Stream{key: st.Key, ctr: st.Block, pos: 2}
	if st.Used < 2 && st.Block > 0 {
		// The block before ctr was loaded and partly used: reload it.
		s.ctr = st.Block - 1
		s.buf = philox(s.ctr, s.key)
		s.ctr++
		s.pos = st.Used
	}
	return s
}

// deriveKey returns the first 8 bytes of the SHA-256 of prefix followed by
// each part as its length (8 bytes) and its bytes. The message is built on
// the stack when it is short, as it nearly always is, so that deriving a
// stream allocates nothing.
func deriveKey(prefix []byte, parts []string) uint64 {
	var buf [256]byte
	msg := append(buf[:0], prefix...)
	for _, p := range parts {
		msg = binary.LittleEndian.AppendUint64(msg, uint64(len(p)))
		msg = append(msg, p...)
	}
	sum := sha256.Sum256(msg)
	return binary.LittleEndian.Uint64(sum[:8])
}

// Uint64 returns the next 64 random bits.
func (s *Stream) Uint64() uint64 {
	if s.pos == 2 {
		s.buf = philox(s.ctr, s.key)
		s.ctr++
		s.pos = 0
	}
	v := s.buf[s.pos]
	s.pos++
	return v
}

// Float64 returns a uniform number in [0, 1) with 53 random bits.
func (s *Stream) Float64() float64 {
	return float64(s.Uint64()>>11) * (1.0 / (1 << 53))
}

// Uniform returns a uniform number in [lo, hi).
func (s *Stream) Uniform(lo, hi float64) float64 {
	return lo + (hi-lo)*s.Float64()
}

// Intn returns a uniform integer in [0, n). It panics if n <= 0.
func (s *Stream) Intn(n int) int {
	if n <= 0 {
		panic("rng: Intn with n <= 0")
	}
	// Lemire's multiply-shift with rejection: exact and branch-light.
	un := uint64(n)
	for {
		hi, lo := mul64(s.Uint64(), un)
		if lo >= -un%un {
			return int(hi)
		}
	}
}

func mul64(a, b uint64) (hi, lo uint64) {
	const mask32 = 1<<32 - 1
	a0, a1 := a&mask32, a>>32
	b0, b1 := b&mask32, b>>32
	w0 := a0 * b0
	t := a1*b0 + w0>>32
	w1 := t&mask32 + a0*b1
	hi = a1*b1 + t>>32 + w1>>32
	lo = a * b
	return
}

// IntRange returns a uniform integer in [lo, hi], both included.
func (s *Stream) IntRange(lo, hi int) int {
	return lo + s.Intn(hi-lo+1)
}

// Choice returns index i with probability probs[i]/sum(probs).
func (s *Stream) Choice(probs []float64) int {
	total := 0.0
	for _, p := range probs {
		total += p
	}
	u := s.Float64() * total
	acc := 0.0
	for i, p := range probs {
		acc += p
		if u < acc {
			return i
		}
	}
	// Rounding can leave u == total; return the last non-zero entry.
	for i := len(probs) - 1; i >= 0; i-- {
		if probs[i] > 0 {
			return i
		}
	}
	return len(probs) - 1
}

// Norm returns a standard normal number (Box-Muller, two uniforms per draw,
// no cached spare so that the stream position is simple to reason about).
func (s *Stream) Norm() float64 {
	u1 := 1 - s.Float64() // (0, 1]
	u2 := s.Float64()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// Shuffle permutes n elements with Fisher-Yates, calling swap(i, j).
func (s *Stream) Shuffle(n int, swap func(i, j int)) {
	for i := n - 1; i > 0; i-- {
		swap(i, s.Intn(i+1))
	}
}

// Philox4x32-10 round constants.
const (
	philoxM0 = 0xD2511F53
	philoxM1 = 0xCD9E8D57
	philoxW0 = 0x9E3779B9
	philoxW1 = 0xBB67AE85
)

// philox encrypts the 128-bit counter (ctr, 0) under key and returns it as
// two 64-bit words.
func philox(ctr, key uint64) [2]uint64 {
	c0, c1, c2, c3 := uint32(ctr), uint32(ctr>>32), uint32(0), uint32(0)
	k0, k1 := uint32(key), uint32(key>>32)
	for r := 0; r < 10; r++ {
		p0 := uint64(philoxM0) * uint64(c0)
		p1 := uint64(philoxM1) * uint64(c2)
		c0, c1, c2, c3 = uint32(p1>>32)^c1^k0, uint32(p1), uint32(p0>>32)^c3^k1, uint32(p0)
		k0 += philoxW0
		k1 += philoxW1
	}
	return [2]uint64{uint64(c0) | uint64(c1)<<32, uint64(c2) | uint64(c3)<<32}
}

// FromKey returns the stream with the given key at its start, for replaying
// a stream recorded by its Key.
func FromKey(key uint64) *Stream { return &Stream{key: key, pos: 2} }

// Perm returns a random permutation of 0..n-1 (Fisher-Yates).
func (s *Stream) Perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	s.Shuffle(n, func(i, j int) { p[i], p[j] = p[j], p[i] })
	return p
}

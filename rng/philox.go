package rng

import "os"

// philoxRounds is the number of rounds of Philox4x32-10.
const philoxRounds = 10

// philoxKeys holds the round keys of one stream for the vector kernels:
// rows 2r and 2r+1 are the two 32-bit keys of round r, each repeated 8
// times so that a row is a whole AVX2 vector.
type philoxKeys [2 * philoxRounds][8]uint32

// init sets ks to the round keys of key.
func (ks *philoxKeys) init(key uint64) {
	k0, k1 := uint32(key), uint32(key>>32)
	for r := 0; r < philoxRounds; r++ {
		for i := range 8 {
			ks[2*r][i], ks[2*r+1][i] = k0, k1
		}
		k0 += philoxW0
		k1 += philoxW1
	}
}

// The implementations of fillBlocks.
const (
	philoxGeneric    = iota // pure Go
	philoxAVX2Path          // 8 blocks per step, amd64 with AVX2
	philoxAVX512Path        // 16 blocks per step, amd64 with AVX-512F
)

// philoxNames are the DEGRADIFF_KERNEL names of the paths.
var philoxNames = [...]string{"generic", "avx2", "avx512"}

// philoxWords is the number of words the vector paths produce per call
// unit: lengths are cut down to a multiple of it, the rest runs in Go.
var philoxWords = [...]int{1, 16, 32}

// philoxPath is the path fillBlocks uses. Like the engine's kernels it
// honours DEGRADIFF_KERNEL=generic|avx2|avx512; a path this CPU lacks falls
// back to the fastest one it has (the engine warns about that once, so rng
// stays silent).
var philoxPath = choosePhilox(os.Getenv("DEGRADIFF_KERNEL"))

// choosePhilox returns the path named want if this CPU supports it, else
// the fastest supported one.
func choosePhilox(want string) int {
	ps := philoxPaths() // fastest first, generic last
	for _, p := range ps {
		if philoxNames[p] == want {
			return p
		}
	}
	return ps[0]
}

// fillBlocks sets dst to the words of consecutive blocks from counter ctr
// under key: dst[2j] and dst[2j+1] are the two words of block ctr+j. An odd
// len(dst) uses the first word of the last block. Every path gives the same
// words.
func fillBlocks(dst []uint64, ctr, key uint64) {
	if p := philoxPath; p != philoxGeneric && len(dst) >= philoxWords[p] {
		n := len(dst) / philoxWords[p] * philoxWords[p]
		var ks philoxKeys
		ks.init(key)
		// Direct calls, not function values, keep ks on the stack.
		if p == philoxAVX512Path {
			philoxAVX512(dst[:n], ctr, &ks)
		} else {
			philoxAVX2(dst[:n], ctr, &ks)
		}
		dst = dst[n:]
		ctr += uint64(n / 2)
	}
	fillBlocksGo(dst, ctr, key)
}

package rng

import "github.com/degradiff/degradiff/internal/kernel"

// philoxRounds is the number of rounds of Philox4x32-10.
const philoxRounds = 10

// philoxKeys holds the round keys of one stream for the vector kernels:
// rows 2r and 2r+1 are the two 32-bit keys of round r, each repeated 8
// times so that a row is a whole AVX2 vector.
type philoxKeys [2 * philoxRounds][8]uint32

// key returns the key ks was set to.
func (ks *philoxKeys) key() uint64 { return uint64(ks[0][0]) | uint64(ks[1][0])<<32 }

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

// philoxWords is the number of words each kernel path produces per call
// unit: lengths are cut down to a multiple of it, the rest runs in Go.
var philoxWords = [...]int{kernel.Generic: 1, kernel.AVX2: 16, kernel.AVX512: 32}

// philoxPath is the path fillBlocks uses: the engine's (package kernel).
var philoxPath = kernel.Chosen()

// fillBlocks sets dst to the words of consecutive blocks from counter ctr
// under key: dst[2j] and dst[2j+1] are the two words of block ctr+j. An odd
// len(dst) uses the first word of the last block. Every path gives the same
// words.
func fillBlocks(dst []uint64, ctr, key uint64) {
	if p := philoxPath; p != kernel.Generic && len(dst) >= philoxWords[p] {
		n := len(dst) / philoxWords[p] * philoxWords[p]
		var ks philoxKeys
		ks.init(key)
		// Direct calls, not function values, keep ks on the stack.
		if p == kernel.AVX512 {
			philoxAVX512(dst[:n], ctr, &ks)
		} else {
			philoxAVX2(dst[:n], ctr, &ks)
		}
		dst = dst[n:]
		ctr += uint64(n / 2)
	}
	fillBlocksGo(dst, ctr, key)
}

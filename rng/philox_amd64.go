//go:build !noasm

package rng

// philoxAsm says whether philoxAVX512 and philoxAVX2 are assembly.
const philoxAsm = true

// philoxAVX512 sets dst[2j], dst[2j+1] to the words of block ctr+j;
// len(dst) is a multiple of 32.
//
//go:noescape
func philoxAVX512(dst []uint64, ctr uint64, keys *philoxKeys)

// philoxAVX2 is philoxAVX512 for AVX2; len(dst) is a multiple of 16.
//
//go:noescape
func philoxAVX2(dst []uint64, ctr uint64, keys *philoxKeys)

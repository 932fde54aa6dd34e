//go:build !noasm

package rng

import "golang.org/x/sys/cpu"

// philoxPaths returns the paths of fillBlocks this CPU supports, fastest
// first; the generic path is last.
func philoxPaths() []int {
	var ps []int
	// x/sys/cpu reports AVX-512 only when the OS saves the zmm registers.
	if cpu.X86.HasAVX512F {
		ps = append(ps, philoxAVX512Path)
	}
	if cpu.X86.HasAVX2 {
		ps = append(ps, philoxAVX2Path)
	}
	return append(ps, philoxGeneric)
}

// philoxAVX512 sets dst[2j], dst[2j+1] to the words of block ctr+j;
// len(dst) is a multiple of 32.
//
//go:noescape
func philoxAVX512(dst []uint64, ctr uint64, keys *philoxKeys)

// philoxAVX2 is philoxAVX512 for AVX2; len(dst) is a multiple of 16.
//
//go:noescape
func philoxAVX2(dst []uint64, ctr uint64, keys *philoxKeys)

//go:build !amd64 || noasm

package rng

// philoxAsm says whether philoxAVX512 and philoxAVX2 are assembly.
const philoxAsm = false

// Go versions of the assembly kernels (never chosen in this build, where
// package kernel offers only the generic path).

func philoxAVX512(dst []uint64, ctr uint64, keys *philoxKeys) { fillBlocksGo(dst, ctr, keys.key()) }

func philoxAVX2(dst []uint64, ctr uint64, keys *philoxKeys) { fillBlocksGo(dst, ctr, keys.key()) }

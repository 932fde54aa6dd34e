//go:build !amd64 || noasm

package rng

// philoxPaths returns only the generic path: this build has no assembly.
func philoxPaths() []int { return []int{philoxGeneric} }

func philoxAVX512(dst []uint64, ctr uint64, keys *philoxKeys) {
	panic("rng: no assembly in this build")
}

func philoxAVX2(dst []uint64, ctr uint64, keys *philoxKeys) {
	panic("rng: no assembly in this build")
}

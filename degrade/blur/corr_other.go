//go:build !amd64 || noasm

package blur

// corrPaths returns only the generic path: this build has no assembly.
func corrPaths() []int { return []int{corrGeneric} }

func corrRowAVX512(dst, src []float32, stride int, box []float32, kh, kw int) {
	panic("blur: no assembly in this build")
}

func corrRowAVX2(dst, src []float32, stride int, box []float32, kh, kw int) {
	panic("blur: no assembly in this build")
}

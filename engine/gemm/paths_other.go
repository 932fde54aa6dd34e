//go:build !amd64 || noasm

package gemm

// asmPaths returns no paths: this build has no assembly kernels.
func asmPaths() []*path { return nil }

// The packing routines of paths with asmPack: no path has it in this build.

func transposeOffs(dst []float32, ld int, src []float32, offs *[16]int, mask int, cols int) {
	panic("gemm: no assembly in this build")
}

func copyRows32(dst []float32, src []float32, lds, rows int) {
	panic("gemm: no assembly in this build")
}

func gatherRows32(dst []float32, ld int, src []float32, offs []int) {
	panic("gemm: no assembly in this build")
}

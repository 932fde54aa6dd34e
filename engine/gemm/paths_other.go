//go:build !amd64 || noasm

package gemm

// asmPaths returns no paths: this build has no assembly kernels.
func asmPaths() []*path { return nil }

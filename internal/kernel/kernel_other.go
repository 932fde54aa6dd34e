//go:build !amd64 || noasm

package kernel

// This build has no assembly kernels.
const (
	hasAVX512 = false
	hasAVX2   = false
	hasBF16   = false
	hasAMX    = false
)

func requestAMX() bool { return false }

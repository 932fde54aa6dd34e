//go:build !noasm

package kernel

import "golang.org/x/sys/cpu"

// x/sys/cpu reports AVX-512 only when the OS saves the zmm registers.
var (
	hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL
	hasAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	// The bf16 kernels also need AVX512BW for their word permutes.
	hasBF16 = hasAVX512 && cpu.X86.HasAVX512BF16 && cpu.X86.HasAVX512BW
	// The AMX kernels convert and pack with the bf16 ones.
	hasAMX = hasBF16 && cpu.X86.HasAMXTile && cpu.X86.HasAMXBF16
)

//go:build !noasm

package blur

import "golang.org/x/sys/cpu"

// corrPaths returns the corrRow paths this CPU supports, fastest first; the
// generic path is last.
func corrPaths() []int {
	var ps []int
	// x/sys/cpu reports AVX-512 only when the OS saves the zmm registers.
	if cpu.X86.HasAVX512F {
		ps = append(ps, corrAVX512)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ps = append(ps, corrAVX2)
	}
	return append(ps, corrGeneric)
}

// corrRowAVX512 is corrRow for any len(dst) >= 1, lengths checked.
//
//go:noescape
func corrRowAVX512(dst, src []float32, stride int, box []float32, kh, kw int)

// corrRowAVX2 is corrRow for len(dst) a multiple of 8, lengths checked.
//
//go:noescape
func corrRowAVX2(dst, src []float32, stride int, box []float32, kh, kw int)

package gemm

import (
	"fmt"
	"math"
	"strings"
	"sync/atomic"
)

// Precision is the arithmetic of the products: FP32 (the default) or BF16,
// where both factors are rounded to bfloat16 (8 significant bits) and the
// products of pairs of them are summed in float32, as AVX512_BF16's
// vdpbf16ps does. BF16 does twice the multiply-adds per instruction on CPUs
// with AVX512_BF16; elsewhere a Go kernel computes the same bits, slowly.
//
// Within each precision, results do not depend on the number of
// goroutines. The precision applies to every product of the process
// (Sgemm, MulOperands and so the convolutions and linear layers built on
// them), so it is set once, before any work starts.
type Precision int32

const (
	FP32 Precision = iota
	BF16
)

var precisionNames = [...]string{"fp32", "bf16"}

// String returns "fp32" or "bf16".
func (p Precision) String() string {
	if p < 0 || int(p) >= len(precisionNames) {
		return fmt.Sprintf("Precision(%d)", int(p))
	}
	return precisionNames[p]
}

// ParsePrecision parses "fp32" or "bf16".
func ParsePrecision(s string) (Precision, error) {
	for i, n := range precisionNames {
		if s == n {
			return Precision(i), nil
		}
	}
	return FP32, fmt.Errorf("unknown precision %q (valid: %s)", s, strings.Join(precisionNames[:], ", "))
}

var precision atomic.Int32

// SetPrecision makes p the precision of every later product and returns a
// function that restores the previous one.
func SetPrecision(p Precision) (restore func()) {
	if p != FP32 && p != BF16 {
		panic(fmt.Sprintf("gemm.SetPrecision: %v", p))
	}
	old := precision.Swap(int32(p))
	return func() { precision.Store(old) }
}

// CurrentPrecision returns the precision of the products.
func CurrentPrecision() Precision { return Precision(precision.Load()) }

// BF16Native reports whether BF16 products run in assembly here, on AMX
// tiles or AVX512_BF16 (else they run in Go, several times slower than
// FP32).
func BF16Native() bool { return active.Load().bf16 != genericBF16Path }

// BF16Kernel names the kernels of the BF16 products here: "amx" (AMX-BF16
// tiles), "avx512bf16" (vdpbf16ps) or "generic-bf16" (Go).
func BF16Kernel() string { return active.Load().bf16.name }

// forPrecision returns the path that computes p's products in precision
// prec.
func (p *path) forPrecision(prec Precision) *path {
	if prec == BF16 {
		return p.bf16
	}
	return p
}

// kernelDepth returns the k a tile kernel of p is called with for a block
// of depth kc: the number of bf16 pairs for a pairs path.
func (p *path) kernelDepth(kc int) int {
	if p.pairs {
		return (kc + 1) / 2
	}
	return kc
}

// toBF16 rounds f to bfloat16 to nearest, ties to even, as vcvtne2ps2bf16
// does: NaNs stay NaNs (made quiet), subnormals become zeros of their sign.
func toBF16(f float32) uint16 {
	b := math.Float32bits(f)
	switch {
	case b&0x7fffffff > 0x7f800000: // NaN
		return uint16(b>>16) | 0x40
	case b&0x7f800000 == 0: // zero or subnormal
		return uint16(b>>16) & 0x8000
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// fromBF16 widens a bfloat16 to float32 (exactly).
func fromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// pairPanelGo packs a panel of width w and depth kc, p[q*w+x] = v(x, q)
// (float32), into bf16 pairs in place: the float32 slot q*w+x of the result
// holds bits v(x, 2q) | v(x, 2q+1)<<16 (v(x, kc) = 0 for odd kc), for
// q < (kc+1)/2. Each slot written has been read (q*w+x <= 2q*w+x), so the
// conversion runs in place.
func pairPanelGo(p []float32, w, kc int) {
	for q := 0; 2*q < kc; q++ {
		lo, hi := p[2*q*w:][:w], []float32(nil)
		if 2*q+1 < kc {
			hi = p[(2*q+1)*w:][:w]
		}
		dst := p[q*w:][:w]
		for x := range w {
			pair := uint32(toBF16(lo[x]))
			if hi != nil {
				pair |= uint32(toBF16(hi[x])) << 16
			}
			dst[x] = math.Float32frombits(pair)
		}
	}
}

// dotPairBF16 is one vdpbf16ps lane: acc + hi(a)*hi(b) + lo(a)*lo(b), the
// high pair first, each sum rounded to float32 with subnormal sums flushed
// to zero. The products of two bfloat16 are exact in float32.
func dotPairBF16(acc float32, a, b float32) float32 {
	ab, bb := math.Float32bits(a), math.Float32bits(b)
	acc = flushSubnormal(acc + fromBF16(uint16(ab>>16))*fromBF16(uint16(bb>>16)))
	return flushSubnormal(acc + fromBF16(uint16(ab))*fromBF16(uint16(bb)))
}

// flushSubnormal returns f, or a zero of its sign when f is subnormal.
func flushSubnormal(f float32) float32 {
	if b := math.Float32bits(f); b&0x7f800000 == 0 {
		return math.Float32frombits(b & 0x80000000)
	}
	return f
}

// kernBF16Generic is the pure-Go microKernel of the BF16 precision for a
// genMR x genNR tile of packed bf16 pairs (k pairs): the arithmetic of the
// AVX512-BF16 kernels, element by element.
func kernBF16Generic(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	a = a[:k*genMR]
	b = b[:k*genNR]
	var acc [genMR][genNR]float32
	for q := range k {
		ap, bp := a[q*genMR:][:genMR], b[q*genNR:][:genNR]
		for i := range genMR {
			for j := range genNR {
				acc[i][j] = dotPairBF16(acc[i][j], ap[i], bp[j])
			}
		}
	}
	for i := range genMR {
		row := c[i*ldc:][:genNR]
		for j := range genNR {
			t := alpha * acc[i][j]
			switch beta {
			case 0:
				row[j] = t
			case 1:
				row[j] += t
			default:
				// The assembly's fused multiply-add beta*c + t: exact for
				// beta 1, within an ulp otherwise (double rounding).
				row[j] = float32(math.FMA(float64(beta), float64(row[j]), float64(t)))
			}
		}
	}
}

// genericBF16Path computes BF16 products in Go, on any machine. Its depth
// blocks are the assembly path's (kc), since C is rounded between blocks:
// so both give the same bits.
var genericBF16Path = &path{
	name:  "generic-bf16",
	nr:    genNR,
	tiles: []tileKernel{{genMR, 1, kernBF16Generic}},
	kc:    384, mc: 64, nc: 512,
	axpy:  axpyGeneric,
	dot:   dotGeneric,
	pairs: true,
}

func init() {
	genericPath.bf16 = genericBF16Path
	genericBF16Path.bf16 = genericBF16Path
}

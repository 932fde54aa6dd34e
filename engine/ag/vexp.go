package ag

import "github.com/degradiff/degradiff/internal/kernel"

// Vectorised kernels for the normalisation and attention hot loops. On
// amd64 with the avx512 or avx2 kernel path they run as assembly
// (vexp_amd64.s) in float32 with a polynomial exp (relative error below
// 2.5e-7, 2 ulp, checked by TestVexpExp); elsewhere, and for the last
// elements short of a whole vector, the Go code computes in float64. Sums
// are kept in float64 either way, in a fixed order (16 lanes by index, then
// combined pairwise), so results do not depend on the number of workers.

// vexpPath is the path of the vectorised kernels: the engine's (package
// kernel; DEGRADIFF_KERNEL may force one).
var vexpPath = kernel.Chosen()

// vexpWidth returns the number of elements the active path's kernels take
// at a time, 0 for Go.
func vexpWidth() int {
	switch vexpPath {
	case kernel.AVX512:
		return 16
	case kernel.AVX2:
		return 8
	}
	return 0
}

// vexpK holds the constants of VEXP in vexp_amd64.s: log2(e), ln(2) in two
// parts (n·ln2Hi is exact for the n that occur), attnExpK's polynomial for
// (e^r-1)/r from the highest degree down, 1, and the argument clamps of the
// AVX-512 kernels (vexpK8 has the AVX2 ones).
var vexpK = [11]float32{
	1.44269504088896341,
	0.693145751953125,
	1.428606765330187045e-06,
	0x1.0F9F9Cp-7,
	0x1.573A1Ap-5,
	0x1.555A80p-3,
	0x1.FFFDC6p-2,
	0x1.FFFFF6p-1,
	1,
	-104, // e^-104 rounds to 0 in float32
	89,   // e^89 overflows to +Inf
}

// sumLanes returns the sum of 16 float64 lanes, combined pairwise.
func sumLanes(acc *[16]float64) float64 {
	var s [8]float64
	for l := range s {
		s[l] = acc[l] + acc[l+8]
	}
	a := (s[0] + s[4]) + (s[2] + s[6])
	b := (s[1] + s[5]) + (s[3] + s[7])
	return a + b
}

// vecSumSq returns the float64 sum of x and of its squares.
func vecSumSq(x []float32) (s, q float64) {
	n := 0
	if w := vexpWidth(); w > 0 {
		n = len(x) &^ (w - 1)
		if n > 0 {
			var acc [32]float64
			if w == 16 {
				sumSqAVX512(x[:n], &acc)
			} else {
				sumSqAVX2(x[:n], &acc)
			}
			s, q = sumLanes((*[16]float64)(acc[:16])), sumLanes((*[16]float64)(acc[16:]))
		}
	}
	for _, v := range x[n:] {
		f := float64(v)
		s += f
		q += f * f
	}
	return s, q
}

// normSiLURow writes SiLU(((x-k[0])-k[1])·k[2] + k[3]) to dst: k holds the
// mean as a float32 (high, low) pair, the scale and the shift.
func normSiLURow(dst, x []float32, k *[4]float32) {
	x = x[:len(dst)]
	n := 0
	if w := vexpWidth(); w > 0 {
		n = len(dst) &^ (w - 1)
		if n > 0 && w == 16 {
			siluAffineAVX512(dst[:n], x[:n], k)
		} else if n > 0 {
			siluAffineAVX2(dst[:n], x[:n], k)
		}
	}
	if n < len(dst) {
		mean, sc := float64(k[0])+float64(k[1]), float64(k[2])
		actSiLURow(dst[n:], x[n:], sc, float64(k[3])-mean*sc)
	}
}

// normSiLUGradRow writes dz = dy·SiLU'(z), z as in normSiLURow, and returns
// the float64 sums of dz and of dz·(x-mean).
func normSiLUGradRow(dz, dy, x []float32, k *[4]float32) (sdz, sdzd float64) {
	dy, x = dy[:len(dz)], x[:len(dz)]
	n := 0
	if w := vexpWidth(); w > 0 {
		n = len(dz) &^ (w - 1)
		if n > 0 {
			var acc [32]float64
			if w == 16 {
				siluGradAVX512(dz[:n], dy[:n], x[:n], k, &acc)
			} else {
				siluGradAVX2(dz[:n], dy[:n], x[:n], k, &acc)
			}
			sdz, sdzd = sumLanes((*[16]float64)(acc[:16])), sumLanes((*[16]float64)(acc[16:]))
		}
	}
	if n < len(dz) {
		mean, sc := float64(k[0])+float64(k[1]), float64(k[2])
		a, b := actSiLUGradRow(dz[n:], dy[n:], x[n:], sc, float64(k[3])-mean*sc, mean)
		sdz += a
		sdzd += b
	}
	return sdz, sdzd
}

// normDx adds k[2]·dz + k[3]·(x-mean) + k[4] to dst, with the mean as the
// float32 pair k[0], k[1].
func normDx(dst, dz, x []float32, k *[5]float32) {
	dz, x = dz[:len(dst)], x[:len(dst)]
	n := 0
	if w := vexpWidth(); w > 0 {
		n = len(dst) &^ (w - 1)
		if n > 0 && w == 16 {
			normDxAVX512(dst[:n], dz[:n], x[:n], k)
		} else if n > 0 {
			normDxAVX2(dst[:n], dz[:n], x[:n], k)
		}
	}
	if n < len(dst) {
		mean := float64(k[0]) + float64(k[1])
		normDxRow(dst[n:], dz[n:], x[n:], mean, float64(k[2]), float64(k[3]), float64(k[4]))
	}
}

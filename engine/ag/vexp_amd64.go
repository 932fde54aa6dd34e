//go:build !noasm

package ag

// vexpK8 holds vexpK for the AVX2 kernels, each value repeated 8 times,
// with clamps that keep 2^n a normal number: [-87.34, 88.37].
var vexpK8 = func() (k [11][8]float32) {
	for i, v := range vexpK {
		switch i {
		case 9:
			v = -87.33654 // e^v is about 2^-126
		case 10:
			v = 88.37 // e^v is about 2^127.5
		}
		for j := range k[i] {
			k[i][j] = v
		}
	}
	return k
}()

// vexpBias8 is the float32 exponent bias, for the AVX2 kernels.
var vexpBias8 = [8]int32{127, 127, 127, 127, 127, 127, 127, 127}

// The AVX-512 kernels handle whole 16-element vectors, the AVX2 kernels
// (named ...AVX2, same arguments) whole 8-element vectors.

// expRowAVX512 sets row[j] = e^(row[j]-mx)*mul and adds e^(row[j]-mx) to
// acc[j%16]; len(row) is a multiple of 16.
//
//go:noescape
func expRowAVX512(row []float32, mx, mul float32, acc *[16]float64)

// siluAffineAVX512 sets dst[i] = SiLU(z) with z = ((x[i]-k[0])-k[1])*k[2] +
// k[3]; len(dst) is a multiple of 16, x as long.
//
//go:noescape
func siluAffineAVX512(dst, x []float32, k *[4]float32)

// siluGradAVX512 sets dz[i] = dy[i]·SiLU'(z) with z as in siluAffineAVX512
// and adds dz[i] to acc[i%16] and dz[i]·d to acc[16+i%16], with
// d = (x[i]-k[0])-k[1]; len(dz) is a multiple of 16, dy and x as long.
//
//go:noescape
func siluGradAVX512(dz, dy, x []float32, k *[4]float32, acc *[32]float64)

// normDxAVX512 adds k[2]·dz[i] + k[3]·((x[i]-k[0])-k[1]) + k[4] to dst[i];
// len(dst) is a multiple of 16, dz and x as long.
//
//go:noescape
func normDxAVX512(dst, dz, x []float32, k *[5]float32)

// sumSqAVX512 adds x[i] to acc[i%16] and x[i]² to acc[16+i%16], in
// float64; len(x) is a multiple of 16.
//
//go:noescape
func sumSqAVX512(x []float32, acc *[32]float64)

// maxRowAVX512 returns the largest element of x; len(x) is a positive
// multiple of 16. A NaN may or may not propagate.
//
//go:noescape
func maxRowAVX512(x []float32) float32

// expRowAVX2 is expRowAVX512 over 8 lanes (acc[0:8]).
//
//go:noescape
func expRowAVX2(row []float32, mx, mul float32, acc *[16]float64)

// siluAffineAVX2 is siluAffineAVX512 for AVX2.
//
//go:noescape
func siluAffineAVX2(dst, x []float32, k *[4]float32)

// siluGradAVX2 is siluGradAVX512 over 8 lanes (acc[0:8] and acc[16:24]).
//
//go:noescape
func siluGradAVX2(dz, dy, x []float32, k *[4]float32, acc *[32]float64)

// normDxAVX2 is normDxAVX512 for AVX2.
//
//go:noescape
func normDxAVX2(dst, dz, x []float32, k *[5]float32)

// sumSqAVX2 is sumSqAVX512 over 8 lanes (acc[0:8] and acc[16:24]).
//
//go:noescape
func sumSqAVX2(x []float32, acc *[32]float64)

// maxRowAVX2 is maxRowAVX512 for AVX2: len(x) is a positive multiple of 8.
//
//go:noescape
func maxRowAVX2(x []float32) float32

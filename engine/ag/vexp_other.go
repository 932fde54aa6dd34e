//go:build !amd64 || noasm

package ag

// Go versions of the assembly kernels of vexp_amd64.go, with their
// contracts (never chosen in this build, where package kernel offers only
// the generic path; the sums go to the first lane of each accumulator).

func expRowAVX512(row []float32, mx, mul float32, acc *[16]float64) {
	acc[0] += attnExpRowGo(row, mx, mul)
}

func siluAffineAVX512(dst, x []float32, k *[4]float32) {
	mean, sc := float64(k[0])+float64(k[1]), float64(k[2])
	actSiLURow(dst, x, sc, float64(k[3])-mean*sc)
}

func siluGradAVX512(dz, dy, x []float32, k *[4]float32, acc *[32]float64) {
	mean, sc := float64(k[0])+float64(k[1]), float64(k[2])
	a, b := actSiLUGradRow(dz, dy, x, sc, float64(k[3])-mean*sc, mean)
	acc[0] += a
	acc[16] += b
}

func normDxAVX512(dst, dz, x []float32, k *[5]float32) {
	normDxRow(dst, dz, x, float64(k[0])+float64(k[1]), float64(k[2]), float64(k[3]), float64(k[4]))
}

func sumSqAVX512(x []float32, acc *[32]float64) {
	for _, v := range x {
		f := float64(v)
		acc[0] += f
		acc[16] += f * f
	}
}

func maxRowAVX512(x []float32) float32 {
	m := x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	return m
}

func expRowAVX2(row []float32, mx, mul float32, acc *[16]float64) { expRowAVX512(row, mx, mul, acc) }
func siluAffineAVX2(dst, x []float32, k *[4]float32)              { siluAffineAVX512(dst, x, k) }
func siluGradAVX2(dz, dy, x []float32, k *[4]float32, acc *[32]float64) {
	siluGradAVX512(dz, dy, x, k, acc)
}
func normDxAVX2(dst, dz, x []float32, k *[5]float32) { normDxAVX512(dst, dz, x, k) }
func sumSqAVX2(x []float32, acc *[32]float64)        { sumSqAVX512(x, acc) }
func maxRowAVX2(x []float32) float32                 { return maxRowAVX512(x) }

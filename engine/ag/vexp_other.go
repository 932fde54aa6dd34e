//go:build !amd64 || noasm

package ag

// vexpPath is Go: this build has no assembly kernels.
var vexpPath = vexpGo

// vexpSupported returns the paths this build can run: Go only.
func vexpSupported() []int { return []int{vexpGo} }

// The assembly kernels of vexp_amd64.go, never called in this build.

func expRowAVX512(row []float32, mx, mul float32, acc *[16]float64)       { panic("ag: no assembly") }
func siluAffineAVX512(dst, x []float32, k *[4]float32)                    { panic("ag: no assembly") }
func siluGradAVX512(dz, dy, x []float32, k *[4]float32, acc *[32]float64) { panic("ag: no assembly") }
func normDxAVX512(dst, dz, x []float32, k *[5]float32)                    { panic("ag: no assembly") }
func sumSqAVX512(x []float32, acc *[32]float64)                           { panic("ag: no assembly") }
func maxRowAVX512(x []float32) float32                                    { panic("ag: no assembly") }
func expRowAVX2(row []float32, mx, mul float32, acc *[16]float64)         { panic("ag: no assembly") }
func siluAffineAVX2(dst, x []float32, k *[4]float32)                      { panic("ag: no assembly") }
func siluGradAVX2(dz, dy, x []float32, k *[4]float32, acc *[32]float64)   { panic("ag: no assembly") }
func normDxAVX2(dst, dz, x []float32, k *[5]float32)                      { panic("ag: no assembly") }
func sumSqAVX2(x []float32, acc *[32]float64)                             { panic("ag: no assembly") }
func maxRowAVX2(x []float32) float32                                      { panic("ag: no assembly") }

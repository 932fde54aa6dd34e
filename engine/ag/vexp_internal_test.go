package ag

import (
	"fmt"
	"math"
	"testing"

	"github.com/degradiff/degradiff/internal/kernel"
	"github.com/degradiff/degradiff/rng"
)

// vexpPaths returns the kernel paths to test: Go first, then the assembly
// paths this machine has.
func vexpPaths() []string {
	all := kernel.Available()
	var names []string
	for i := len(all) - 1; i >= 0; i-- {
		names = append(names, all[i].String())
	}
	return names
}

// withVexpPath selects a path by name and returns a function that
// restores the previous one.
func withVexpPath(name string) (restore func()) {
	old := vexpPath
	vexpPath = kernel.Generic
	for _, p := range kernel.Available() {
		if p.String() == name {
			vexpPath = p
		}
	}
	return func() { vexpPath = old }
}

func vexpRandom(seed uint64, n int, scale, offset float64) []float32 {
	r := rng.New(seed, "vexp")
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(offset + scale*r.Norm())
	}
	return x
}

func relErr(got, want float64) float64 {
	return math.Abs(got-want) / math.Max(math.Abs(want), 1e-30)
}

// TestVexpKernels checks the normalisation kernels against float64
// references on both paths, at lengths with and without a tail.
func TestVexpKernels(t *testing.T) {
	for _, path := range vexpPaths() {
		for _, n := range []int{0, 1, 15, 16, 17, 33, 64, 1000, 4096} {
			t.Run(fmt.Sprintf("%s/%d", path, n), func(t *testing.T) {
				defer withVexpPath(path)()
				x := vexpRandom(1, n, 3, 100)
				dy := vexpRandom(2, n, 1, 0)
				mean := 100.25
				mh := float32(mean)
				k := [4]float32{mh, float32(mean - float64(mh)), 0.37, -0.8}
				sc, sh := float64(k[2]), float64(k[3])
				z := func(i int) float64 { return (float64(x[i])-mean)*sc + sh }

				// SiLU within 3e-7 relative (float32 arithmetic, 2-ulp exp)
				// or 1e-7 absolute near its zero.
				y := make([]float32, n)
				normSiLURow(y, x, &k)
				for i := range y {
					zi := z(i)
					want := zi / (1 + math.Exp(-zi))
					if d := math.Abs(float64(y[i]) - want); d > 3e-7*math.Abs(want)+1e-7 {
						t.Fatalf("SiLU(%g) = %g, want %g", zi, y[i], want)
					}
				}

				// SiLU' and the float64 sums.
				dz := make([]float32, n)
				sdz, sdzd := normSiLUGradRow(dz, dy, x, &k)
				var wdz, wdzd, adz, adzd float64
				for i := range dz {
					zi := z(i)
					s := 1 / (1 + math.Exp(-zi))
					want := float64(dy[i]) * s * (1 + zi*(1-s))
					if d := math.Abs(float64(dz[i]) - want); d > 5e-7*math.Abs(float64(dy[i]))*(1+math.Abs(zi)) {
						t.Fatalf("dz at z=%g: %g, want %g", zi, dz[i], want)
					}
					wdz += want
					wdzd += want * (float64(x[i]) - mean)
					adz += math.Abs(want)
					adzd += math.Abs(want * (float64(x[i]) - mean))
				}
				if math.Abs(sdz-wdz) > 5e-7*adz || math.Abs(sdzd-wdzd) > 5e-7*adzd {
					t.Errorf("sums %g, %g; want %g, %g", sdz, sdzd, wdz, wdzd)
				}

				// dx += a·dz + b·(x-mean) + c.
				kd := [5]float32{k[0], k[1], 0.7, -0.3, 0.05}
				dst := vexpRandom(3, n, 1, 0)
				orig := append([]float32(nil), dst...)
				normDx(dst, dz, x, &kd)
				for i := range dst {
					want := float64(orig[i]) + 0.7*float64(dz[i]) - 0.3*(float64(x[i])-mean) + 0.05
					if d := math.Abs(float64(dst[i]) - want); d > 1e-6*(1+math.Abs(want)) {
						t.Fatalf("dx[%d] = %g, want %g", i, dst[i], want)
					}
				}

				// Statistics: the variance of data far from 0.
				if n > 1 {
					m, rstd := normStats(x, 0)
					var wm, wv float64
					for _, v := range x {
						wm += float64(v)
					}
					wm /= float64(n)
					for _, v := range x {
						wv += (float64(v) - wm) * (float64(v) - wm)
					}
					wr := 1 / math.Sqrt(wv/float64(n))
					if relErr(m, wm) > 1e-14 || relErr(rstd, wr) > 1e-9 {
						t.Errorf("stats %g, %g; want %g, %g", m, rstd, wm, wr)
					}
				}
			})
		}
	}
}

// TestAttnExpRowPaths checks attnExpRow on each path, on rows with tails,
// against float64 to its 2-ulp accuracy.
func TestAttnExpRowPaths(t *testing.T) {
	for _, n := range []int{1, 16, 31, 256, 1000} {
		row := vexpRandom(4, n, 5, 0)
		paths := vexpPaths()
		got := make([][]float32, len(paths))
		sums := make([]float32, len(paths))
		for p, path := range paths {
			restore := withVexpPath(path)
			got[p] = append([]float32(nil), row...)
			sums[p] = attnExpRow(got[p], 3, 0.5)
			restore()
		}
		var want float64
		for i, x := range row {
			w := math.Exp(float64(x-3)) * 0.5
			want += w * 2
			for p := range got {
				if relErr(float64(got[p][i]), w) > 2.5e-7 && w > 1e-37 {
					t.Fatalf("n=%d path %d: exp(%g)/2 = %g, want %g", n, p, x-3, got[p][i], w)
				}
			}
		}
		for p := range sums {
			if relErr(float64(sums[p]), want) > 2.5e-7 {
				t.Errorf("n=%d path %d: sum %g, want %g", n, p, sums[p], want)
			}
		}
	}
}

// TestVexpExp checks the exp of the assembly paths over the float32 range
// and at its edges: underflow to (nearly) 0, overflow to +Inf on AVX-512
// (AVX2 clamps at about 2^127.5), and NaN.
func TestVexpExp(t *testing.T) {
	for _, path := range vexpPaths()[1:] {
		t.Run(path, func(t *testing.T) {
			defer withVexpPath(path)()
			in := []float32{0, -1, -87, -100, -104, -200, float32(math.Inf(-1)), 80, 88, 88.8, 200, float32(math.Inf(1)), float32(math.NaN()), 1, 2, 3}
			for i := range 1000 {
				in = append(in, -87+float32(i)*0.175)
			}
			in = in[:len(in)&^15]
			row := append([]float32(nil), in...)
			attnExpRow(row, 0, 1)
			for i, x := range in {
				want := math.Exp(float64(x))
				got := float64(row[i])
				switch {
				case math.IsNaN(want):
					if !math.IsNaN(got) {
						t.Errorf("exp(%g) = %g, want NaN", x, got)
					}
				case x > 88.3:
					if got < 2e38 || path == "avx512" && !math.IsInf(got, 1) {
						t.Errorf("exp(%g) = %g, want +Inf (avx512) or over 2e38", x, got)
					}
				case want < 0x1p-126:
					if math.Abs(got-want) > 2e-38 {
						t.Errorf("exp(%g) = %g, want %g", x, got, want)
					}
				default:
					if relErr(got, want) > 2.5e-7 {
						t.Errorf("exp(%g) = %g, want %g", x, got, want)
					}
				}
			}
		})
	}
}

// TestAttnSoftmaxRowMax checks the maximum attnSoftmaxRow finds on each
// path, with the largest element at every position of rows with and
// without tails.
func TestAttnSoftmaxRowMax(t *testing.T) {
	for _, path := range vexpPaths() {
		restore := withVexpPath(path)
		for _, n := range []int{1, 16, 17, 48, 80, 256} {
			for at := range n {
				row := vexpRandom(uint64(n), n, 1, 0)
				row[at] = 10
				mx, inv := attnSoftmaxRow(row)
				if mx != 10 || row[at] != 1 || inv <= 0 || inv > 1 {
					t.Fatalf("%s: n=%d, max at %d: got max %g, inv %g, e^0 = %g", path, n, at, mx, inv, row[at])
				}
			}
		}
		restore()
	}
}

package noise

import (
	"fmt"
	"testing"

	"github.com/degradiff/degradiff/internal/rng"
)

var benchSizes = []int{128, 512}

func BenchmarkAddGaussian(b *testing.B) {
	for _, n := range benchSizes {
		img := randImage(3, n, n, 1)
		for _, gray := range []bool{false, true} {
			b.Run(fmt.Sprintf("%dx%dx3/gray=%v", n, n, gray), func(b *testing.B) {
				s := rng.New(1, "bench")
				p := GaussianParams{Sigma: 10, Gray: gray, Clip: true, Rounds: true}
				b.SetBytes(int64(4 * len(img.Pix)))
				for b.Loop() {
					AddGaussian(img, p, s)
				}
			})
		}
	}
}

func BenchmarkAddPoisson(b *testing.B) {
	for _, n := range benchSizes {
		img := randImage(3, n, n, 1)
		for _, gray := range []bool{false, true} {
			b.Run(fmt.Sprintf("%dx%dx3/gray=%v", n, n, gray), func(b *testing.B) {
				s := rng.New(1, "bench")
				p := PoissonParams{Scale: 1, Gray: gray, Clip: true, Rounds: true}
				b.SetBytes(int64(4 * len(img.Pix)))
				for b.Loop() {
					AddPoisson(img, p, s)
				}
			})
		}
	}
}

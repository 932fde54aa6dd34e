package jpeg

import (
	"fmt"
	"testing"
)

var benchSizes = []int{128, 512}

func BenchmarkDiffJPEG(b *testing.B) {
	for _, n := range benchSizes {
		img := randImage(n, n, 1)
		b.Run(fmt.Sprintf("%dx%d", n, n), func(b *testing.B) {
			b.SetBytes(int64(4 * len(img.Pix)))
			for b.Loop() {
				DiffJPEG(img, 60)
			}
		})
	}
}

func BenchmarkReal(b *testing.B) {
	for _, n := range benchSizes {
		img := randImage(n, n, 1)
		b.Run(fmt.Sprintf("%dx%d", n, n), func(b *testing.B) {
			b.SetBytes(int64(4 * len(img.Pix)))
			for b.Loop() {
				if _, err := Real(img, 60); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

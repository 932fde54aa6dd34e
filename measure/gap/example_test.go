package gap_test

import (
	"fmt"

	"github.com/degradiff/degradiff/measure/gap"
	"github.com/degradiff/degradiff/rng"
)

// Compare a sample with a shifted one after z-scoring both together. The
// covariances are equal, so FD is the squared distance of the means in
// pooled standard deviations: (1/√1.25)² + (1/√4.25)² ≈ 1.04.
func Example() {
	s := rng.New(1, "example")
	draw := func(n int, shift float64) [][]float64 {
		out := make([][]float64, n)
		for i := range out {
			out[i] = []float64{s.Norm() + shift, 2*s.Norm() - shift}
		}
		return out
	}
	x, y := gap.Standardize(draw(500, 0), draw(500, 1))
	kid, std, err := gap.KID(x, y, gap.KIDOptions{Seed: 1})
	if err != nil {
		panic(err)
	}
	fd, _ := gap.FrechetDistance(x, y)
	fmt.Printf("KID %.2f ± %.2f, FD %.2f\n", kid, std, fd)
	// Output: KID 2.81 ± 0.31, FD 1.04
}

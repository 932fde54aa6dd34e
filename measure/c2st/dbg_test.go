package c2st

import (
	"fmt"
	"testing"

	"github.com/degradiff/degradiff/internal/rng"
)

func TestDbgTrivial(t *testing.T) {
	opt := Options{Seed: 1}.WithDefaults()
	s := rng.New(1, "x")
	var a, b []Group
	for i := 0; i < 10; i++ {
		var ga, gb Group
		for j := 0; j < 16; j++ {
			pa := make([]float32, 3*32*32)
			pb := make([]float32, 3*32*32)
			for k := range pa {
				pa[k] = float32(0.5 + 0.02*s.Norm())
				pb[k] = float32(0.5 + 0.2*s.Norm())
			}
			ga = append(ga, pa)
			gb = append(gb, pb)
		}
		a = append(a, ga)
		b = append(b, gb)
	}
	r, err := Run(a, b, opt)
	fmt.Println(r, err)
}

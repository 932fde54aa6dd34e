package c2st

import (
	"fmt"
	"testing"
	"time"

	"github.com/degradiff/degradiff/internal/rng"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/samples"
)

func makeSet(t testing.TB, n, size int, first uint64, sigma float64, opt Options) []Group {
	var out []Group
	for i := 0; i < n; i++ {
		seed := first + uint64(i)
		scene := samples.Names[int(seed)%len(samples.Names)]
		m, err := samples.Render(scene, size, size, seed)
		if err != nil {
			t.Fatal(err)
		}
		if sigma > 0 {
			r := rng.New(seed, "noise")
			for i := range m.Pix {
				m.Pix[i] += float32(sigma / 255 * r.Norm())
			}
			m.Round()
		}
		g, err := Cut(m, fmt.Sprint(seed), opt)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, g)
	}
	_ = raster.New
	return out
}

func TestExp(t *testing.T) {
	for _, cfg := range []struct{ ep, bs int; lr, sigma float64; scale float32; energy, he bool }{
		{10, 32, 2e-3, 10, 1, false, false}, {10, 32, 2e-3, 10, 4, false, true}, {30, 32, 2e-3, 10, 4, false, true}} {
		opt := Options{Epochs: cfg.ep, BatchSize: cfg.bs, LR: cfg.lr, Seed: 1}
		expScale, expEnergy, expHe = cfg.scale, cfg.energy, cfg.he
		fcIn = 2
		if cfg.energy { fcIn = 4 }
		a := makeSet(t, 20, 64, 0, 0, opt)
		b := makeSet(t, 20, 64, 0, cfg.sigma, opt)
		t0 := time.Now()
		r, err := Run(a, b, opt)
		fmt.Println(cfg, time.Since(t0), r.Accuracy, r.CILow, r.CIHigh, r.TrainLoss, r.SplitAccuracies, err)
	}
}

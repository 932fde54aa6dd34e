package c2st

import (
	"fmt"
	"testing"

	"github.com/degradiff/degradiff/internal/rng"
)

func TestDbgPaired(t *testing.T) {
	for _, cfg := range []struct{ scale float32; he bool; lr float64; w int }{{1, false, 2e-3, 8}, {4, true, 2e-3, 8}} {
		expScale, expHe = cfg.scale, cfg.he
		expLog, fcIn = true, 5
		opt := Options{Seed: 1, Epochs: 1, LR: cfg.lr, Width: cfg.w}.WithDefaults()
		a := makeSet(t, 30, 64, 0, 0, opt)
		b := makeSet(t, 30, 64, 0, 10, opt)
		var train, test dataset
		for i := range a {
			d := &train
			if i >= 20 {
				d = &test
			}
			d.add(a[i], 0)
			d.add(b[i], 1)
		}
		net := newNet(opt.Width, rng.New(1, "init"))
		r := rng.New(1, "train")
		for ep := 0; ep < 10; ep++ {
			loss, _ := net.train(&train, opt, r)
			if ep%2 == 1 {
				fmt.Println(cfg, ep, loss, net.balancedAccuracy(&train, opt), net.balancedAccuracy(&test, opt))
			}
		}
	}
}

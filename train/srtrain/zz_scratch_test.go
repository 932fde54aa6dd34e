package srtrain

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/models/srnet"
)

func TestScratch(t *testing.T) {
	pairs := makePairs(t)
	cfg := tinyConfig()
	cfg.Model.NumFeat, cfg.Model.NumBlock = 16, 2
	cfg.PatchSize, cfg.BatchSize = 12, 8
	cfg.Steps, cfg.CheckpointEvery, cfg.LogEvery, cfg.WarmupSteps = 300, 3000, 50, 20
	if v := os.Getenv("STEPS"); v != "" {
		cfg.Steps, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("LR"); v != "" {
		cfg.LR, _ = strconv.ParseFloat(v, 64)
	}
	if v := os.Getenv("BASE"); v != "" {
		cfg.Model.Base = v
	}
	cfg.UseEMA = os.Getenv("EMA") != ""
	tr := newTrainer(t, cfg, pairs, t.TempDir())
	eval := func(m *srnet.Model) (net, bicubic float64) {
		for i := 0; i < 10; i++ {
			tr.step = i
			tr.fillBatch()
			bicubic += l1(srnet.BicubicUp(tr.lrBatch, 4, nil), tr.hrBatch) / 10
			out := m.Forward(ag.NewGraph(false), ag.Const(tr.lrBatch)).Value
			net += l1(out, tr.hrBatch) / 10
		}
		tr.step = 0
		return
	}
	before, base := eval(tr.Model)
	tr.Run(context.Background())
	after, _ := eval(tr.Model)
	t.Logf("bicubic %.4f before %.4f after %.4f %v", base, before, after, logLosses(t, tr.Folder.Dir))
}

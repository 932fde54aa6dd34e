package bfrnet

import (
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/tensor"
)

// benchConfigs are the sizes compared when choosing DefaultConfig.
var benchConfigs = []struct {
	name                 string
	feat, levels, blocks int
	mult                 []int
}{
	{"f16b4", 16, 1, 4, nil}, {"f24b4", 24, 1, 4, nil}, {"f32b4", 32, 1, 4, nil}, {"f32b6", 32, 1, 6, nil}, {"f48b6", 48, 1, 6, nil},
	{"f16x8b4", 16, 1, 4, []int{1, 2, 4, 8}}, {"f24x8b2", 24, 1, 2, []int{1, 2, 4, 8}},
}

func benchConfig(feat, levelBlocks, blocks int, mult []int) Config {
	c := DefaultConfig()
	c.NumFeat, c.LevelBlocks, c.NumBlock = feat, levelBlocks, blocks
	if mult != nil {
		c.ChannelMult = mult
	}
	return c
}

// BenchmarkTrainStep times one training step (forward, L1 loss, backward)
// on a batch of 8 faces of 128x128, and reports samples/s.
func BenchmarkTrainStep(b *testing.B) {
	for _, bc := range benchConfigs {
		b.Run(bc.name, func(b *testing.B) {
			m := mustNew(b, benchConfig(bc.feat, bc.levels, bc.blocks, bc.mult), 1)
			x := tensor.FromData(randImage(3, 8*128, 128, 1).Pix, 8, 3, 128, 128)
			y := tensor.FromData(randImage(3, 8*128, 128, 2).Pix, 8, 3, 128, 128)
			g := ag.NewGraph(true)
			params := m.Params()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				g.Reset()
				ag.ZeroGrad(params)
				g.Backward(g.L1(m.Forward(g, ag.Const(x)), ag.Const(y)))
			}
			b.ReportMetric(float64(8*b.N)/b.Elapsed().Seconds(), "samples/s")
			b.ReportMetric(float64(m.NumParams()), "params")
		})
	}
}

// BenchmarkPredict512 times the restoration of one 512x512 face.
func BenchmarkPredict512(b *testing.B) {
	m := mustNew(b, DefaultConfig(), 1)
	lq := randImage(3, 512, 512, 3)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Predict(lq)
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/img")
}

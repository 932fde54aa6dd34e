package unet

import (
	"math"
	"runtime"
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/rng"
)

// testConfig is a fast model with every feature: attention in a down block,
// an up block and the middle, channel changes (shortcut convolutions), two
// layers per block.
func testConfig() Config {
	c := DefaultConfig()
	c.BlockOutChannels = []int{16, 32, 32}
	c.LayersPerBlock = 1
	c.DownBlockTypes = []string{DownBlock2D, AttnDownBlock2D, DownBlock2D}
	c.UpBlockTypes = []string{UpBlock2D, AttnUpBlock2D, UpBlock2D}
	c.NormNumGroups = 8
	c.AttentionHeadDim = intPtr(8)
	return c
}

func randomTensor(seed uint64, shape ...int) *tensor.Tensor {
	s := rng.New(seed, "test input")
	x := tensor.New(shape...)
	for i := range x.Data {
		x.Data[i] = float32(s.Norm())
	}
	return x
}

func TestNewDeterministic(t *testing.T) {
	a := MustNew(testConfig(), rng.New(1, "unet"))
	b := MustNew(testConfig(), rng.New(1, "unet"))
	c := MustNew(testConfig(), rng.New(2, "unet"))
	same, differ := true, false
	for i, p := range a.Params() {
		if tensor.MaxAbsDiff(p.Value, b.Params()[i].Value) != 0 {
			same = false
		}
		if tensor.MaxAbsDiff(p.Value, c.Params()[i].Value) != 0 {
			differ = true
		}
	}
	if !same || !differ {
		t.Errorf("same seed gives the same weights: %v; another seed differs: %v", same, differ)
	}
	// PyTorch's default init: conv weights uniform within ±1/sqrt(fan_in),
	// norms 1 and 0.
	w := a.Param("conv_in.weight").Value
	bound := 1 / math.Sqrt(3*3*3)
	maxAbs := 0.0
	for _, v := range w.Data {
		maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
	}
	if maxAbs > bound || maxAbs < 0.9*bound {
		t.Errorf("conv_in.weight max |w| = %g, want just under %g", maxAbs, bound)
	}
	if g := a.Param("conv_norm_out.weight").Value; g.Data[0] != 1 {
		t.Errorf("conv_norm_out.weight = %v, want ones", g)
	}
}

// TestTrainInferSame checks that training and inference graphs compute the
// same output, and that the output does not depend on GOMAXPROCS.
func TestTrainInferSame(t *testing.T) {
	m := MustNew(testConfig(), rng.New(3, "unet"))
	x := randomTensor(4, 2, 3, 16, 16)
	steps := []float32{10, 900}
	infer := m.Forward(ag.NewGraph(false), ag.Const(x), steps).Value
	train := m.Forward(ag.NewGraph(true), ag.Const(x), steps).Value
	if d := tensor.MaxAbsDiff(infer, train); d != 0 {
		t.Errorf("training and inference outputs differ by %g", d)
	}
	old := runtime.GOMAXPROCS(1)
	one := m.Forward(ag.NewGraph(false), ag.Const(x), steps).Value
	runtime.GOMAXPROCS(old)
	if d := tensor.MaxAbsDiff(infer, one); d != 0 {
		t.Errorf("GOMAXPROCS 1 and %d outputs differ by %g", old, d)
	}
}

// TestInferenceReleases checks that an inference Forward releases every
// intermediate: only the output stays live.
func TestInferenceReleases(t *testing.T) {
	m := MustNew(testConfig(), rng.New(3, "unet"))
	x := randomTensor(4, 1, 3, 32, 32)
	g := ag.NewGraph(false)
	y := m.Forward(g, ag.Const(x), []float32{5})
	_, live := g.PooledBytes()
	if want := int64(4 * y.Value.Numel()); live != want {
		t.Errorf("live bytes after Forward = %d, want %d (the output only)", live, want)
	}
	// A second call reuses the pool.
	free0, _ := g.PooledBytes()
	g.Reset()
	m.Forward(g, ag.Const(x), []float32{5})
	free1, live1 := g.PooledBytes()
	if free1+live1 != free0+live {
		t.Errorf("second Forward grew the pool from %d to %d bytes", free0+live, free1+live1)
	}
}

// TestGradients runs one backward pass and checks that every parameter gets
// a finite, non-zero gradient.
func TestGradients(t *testing.T) {
	m := MustNew(testConfig(), rng.New(5, "unet"))
	x := randomTensor(6, 2, 3, 16, 16)
	target := randomTensor(7, 2, 3, 16, 16)
	g := ag.NewGraph(true)
	loss := g.MSE(m.Forward(g, ag.Const(x), []float32{3, 700}), ag.Const(target))
	g.Backward(loss)
	for _, p := range m.Params() {
		if p.Grad == nil {
			t.Errorf("%s: no gradient", p.Name)
			continue
		}
		nonzero := false
		for _, v := range p.Grad.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Errorf("%s: gradient %v", p.Name, v)
				break
			}
			nonzero = nonzero || v != 0
		}
		if !nonzero {
			t.Errorf("%s: gradient is zero", p.Name)
		}
	}
}

// TestGradientCheck compares the analytic gradient of a few parameters with
// central differences of the loss, computed in inference mode.
func TestGradientCheck(t *testing.T) {
	c := testConfig()
	c.BlockOutChannels = []int{8, 16}
	c.DownBlockTypes = []string{DownBlock2D, AttnDownBlock2D}
	c.UpBlockTypes = []string{AttnUpBlock2D, UpBlock2D}
	m := MustNew(c, rng.New(8, "unet"))
	x := randomTensor(9, 1, 3, 8, 8)
	target := randomTensor(10, 1, 3, 8, 8)
	loss := func(record bool) (*ag.Graph, *ag.Var) {
		g := ag.NewGraph(record)
		return g, g.MSE(m.Forward(g, ag.Const(x), []float32{250}), ag.Const(target))
	}
	ag.ZeroGrad(m.Params())
	g, l := loss(true)
	g.Backward(l)
	for _, name := range []string{
		"conv_in.weight", "time_embedding.linear_1.weight", "down_blocks.1.attentions.0.to_q.weight",
		"mid_block.attentions.0.to_v.bias", "up_blocks.0.resnets.1.conv_shortcut.weight",
		"up_blocks.0.upsamplers.0.conv.weight", "conv_norm_out.bias", "down_blocks.0.downsamplers.0.conv.bias",
	} {
		p := m.Param(name)
		for _, i := range []int{0, len(p.Value.Data) / 2} {
			old := p.Value.Data[i]
			const h = 1e-2
			p.Value.Data[i] = old + h
			_, lp := loss(false)
			p.Value.Data[i] = old - h
			_, lm := loss(false)
			p.Value.Data[i] = old
			num := (float64(lp.Value.Data[0]) - float64(lm.Value.Data[0])) / (2 * h)
			ana := float64(p.Grad.Data[i])
			if math.Abs(num-ana) > 2e-2*math.Max(1e-2, math.Abs(num)) {
				t.Errorf("%s[%d]: analytic %g, numeric %g", name, i, ana, num)
			}
		}
	}
}

// TestForwardAnySize checks that odd sizes come back at their size and equal
// Forward on the manually reflect-padded input, cropped.
func TestForwardAnySize(t *testing.T) {
	m := MustNew(testConfig(), rng.New(11, "unet"))
	x := randomTensor(12, 1, 3, 37, 29)
	steps := []float32{123}
	y := m.Predict(x, steps)
	if !tensor.SameShape(y.Shape, []int{1, 3, 37, 29}) {
		t.Fatalf("Predict 37x29 gave %v", y.Shape)
	}
	// Multiple 4: 37 -> 40 (pad 1 top, 2 bottom), 29 -> 32 (1 left, 2 right).
	g := ag.NewGraph(false)
	xp := g.Pad2dReflect(ag.Const(x), 1, 2, 1, 2)
	full := m.Forward(g, xp, steps)
	want := g.Crop2d(full, 1, 1, 37, 29).Value
	if d := tensor.MaxAbsDiff(y, want); d != 0 {
		t.Errorf("Predict differs from manual padding by %g", d)
	}
	// Sizes that are already multiples go straight through.
	x16 := randomTensor(13, 1, 3, 16, 16)
	if d := tensor.MaxAbsDiff(m.Predict(x16, steps), m.Forward(ag.NewGraph(false), ag.Const(x16), steps).Value); d != 0 {
		t.Errorf("Predict on 16x16 differs from Forward by %g", d)
	}
}

// TestForwardTinyImages checks the edge-repeat fallback for images too small
// to reflect.
func TestForwardTinyImages(t *testing.T) {
	m := MustNew(testConfig(), rng.New(11, "unet"))
	steps := []float32{50}
	for _, hw := range [][2]int{{1, 1}, {1, 6}, {2, 3}, {3, 3}} {
		x := randomTensor(14, 1, 3, hw[0], hw[1])
		y := m.Predict(x, steps)
		if !tensor.SameShape(y.Shape, []int{1, 3, hw[0], hw[1]}) {
			t.Errorf("%v: output %v", hw, y.Shape)
		}
		for _, v := range y.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%v: non-finite output", hw)
			}
		}
	}
	// 1x1 replicated to 4x4 is a constant image: compare with it directly.
	x := randomTensor(15, 1, 3, 1, 1)
	c := tensor.New(1, 3, 4, 4)
	for ch := 0; ch < 3; ch++ {
		for i := 0; i < 16; i++ {
			c.Data[ch*16+i] = x.Data[ch]
		}
	}
	full := m.Forward(ag.NewGraph(false), ag.Const(c), steps).Value
	y := m.Predict(x, steps)
	for ch := 0; ch < 3; ch++ {
		// 1 -> 4: pad 1 before, 2 after, so the pixel sits at (1, 1).
		if got, want := y.Data[ch], full.Data[ch*16+1*4+1]; got != want {
			t.Errorf("1x1 channel %d: %g, want %g", ch, got, want)
		}
	}
}

func TestCenterInput(t *testing.T) {
	c := testConfig()
	plain := MustNew(c, rng.New(16, "unet"))
	c.CenterInputSample = true
	centred := MustNew(c, rng.New(16, "unet"))
	x := randomTensor(17, 1, 3, 8, 8)
	x2 := x.Clone()
	for i, v := range x2.Data {
		x2.Data[i] = 2*v - 1
	}
	steps := []float32{1}
	if d := tensor.MaxAbsDiff(centred.Predict(x, steps), plain.Predict(x2, steps)); d != 0 {
		t.Errorf("center_input_sample differs from 2x-1 by %g", d)
	}
}

func TestDropout(t *testing.T) {
	c := testConfig()
	c.Dropout = 0.3
	m := MustNew(c, rng.New(18, "unet"))
	x := randomTensor(19, 1, 3, 8, 8)
	steps := []float32{400}
	run := func(s *rng.Stream) *tensor.Tensor {
		m.Dropout = s
		return m.Forward(ag.NewGraph(true), ag.Const(x), steps).Value
	}
	off := run(nil)
	a := run(rng.New(1, "dropout"))
	b := run(rng.New(1, "dropout"))
	if tensor.MaxAbsDiff(a, b) != 0 {
		t.Error("dropout with the same stream is not reproducible")
	}
	if tensor.MaxAbsDiff(a, off) == 0 {
		t.Error("dropout changed nothing")
	}
	// The mask keeps about 1-p of the values, scaled by 1/(1-p).
	g := ag.NewGraph(true)
	m.Dropout = rng.New(2, "dropout")
	ones := ag.Const(tensor.Full(1, 1, 1, 100, 100))
	y := m.dropout(g, ones).Value
	kept := 0
	for _, v := range y.Data {
		switch {
		case v == 0:
		case math.Abs(float64(v)-1/0.7) < 1e-6:
			kept++
		default:
			t.Fatalf("mask value %g", v)
		}
	}
	if frac := float64(kept) / 1e4; math.Abs(frac-0.7) > 0.02 {
		t.Errorf("kept %.3f of the values, want 0.7", frac)
	}
}

func TestForwardPanics(t *testing.T) {
	m := MustNew(testConfig(), nil)
	for name, f := range map[string]func(){
		"channels":  func() { m.Forward(ag.NewGraph(false), ag.Const(tensor.New(1, 4, 8, 8)), []float32{0}) },
		"size":      func() { m.Forward(ag.NewGraph(false), ag.Const(tensor.New(1, 3, 10, 8)), []float32{0}) },
		"timesteps": func() { m.Forward(ag.NewGraph(false), ag.Const(tensor.New(3, 3, 8, 8)), []float32{0, 1}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// TestPredictConcurrent runs Predict from several goroutines at once.
func TestPredictConcurrent(t *testing.T) {
	m := MustNew(testConfig(), rng.New(26, "unet"))
	x := randomTensor(27, 1, 3, 12, 20)
	want := m.Predict(x, []float32{300})
	errs := make(chan float64, 4)
	for range 4 {
		go func() { errs <- tensor.MaxAbsDiff(m.Predict(x, []float32{300}), want) }()
	}
	for range 4 {
		if d := <-errs; d != 0 {
			t.Errorf("concurrent Predict differs by %g", d)
		}
	}
	m.FreeMemory()
}

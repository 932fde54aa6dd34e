package srnet

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/degrade/resize"
	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/ag/agtest"
	"github.com/degradiff/degradiff/engine/nn"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

func tiny(base string, scale, feat, blocks int) Config {
	c := DefaultConfig()
	c.Base, c.Scale, c.NumFeat, c.NumBlock = base, scale, feat, blocks
	return c
}

func mustNew(t testing.TB, c Config, seed uint64) *Model {
	t.Helper()
	m, err := New(c, rng.New(seed, "srnet test"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// randImage returns an image with values uniform in [0, 1).
func randImage(c, h, w int, seed uint64) *raster.Image {
	m := raster.New(c, h, w)
	r := rng.New(seed, "image")
	for i := range m.Pix {
		m.Pix[i] = float32(r.Float64())
	}
	return m
}

func TestParams(t *testing.T) {
	m := mustNew(t, tiny(BaseBicubic, 4, 8, 2), 1)
	var names []string
	for _, p := range m.Params() {
		names = append(names, p.Name)
	}
	want := "conv_first.weight conv_first.bias body.0.conv1.weight body.0.conv1.bias body.0.conv2.weight body.0.conv2.bias " +
		"body.1.conv1.weight body.1.conv1.bias body.1.conv2.weight body.1.conv2.bias " +
		"conv_after_body.weight conv_after_body.bias conv_up.weight conv_up.bias"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("names\n%s\nwant\n%s", got, want)
	}
	for _, c := range []Config{tiny(BaseBicubic, 4, 8, 2), DefaultConfig(), tiny(BaseNone, 2, 64, 16)} {
		f, b, o := c.NumFeat, c.NumBlock, 3*c.Scale*c.Scale
		want := (3*9*f + f) + 2*b*(f*f*9+f) + (f*f*9 + f) + (f*9*o + o)
		if got := mustNew(t, c, 1).NumParams(); got != want {
			t.Errorf("%d feat %d blocks x%d: %d parameters, want %d", f, b, c.Scale, got, want)
		}
	}
	// PyTorch's default initialisation: weights within ±1/sqrt(fan_in).
	w := m.ConvFirst.Weight.Value.Data
	bound := 1 / math.Sqrt(27)
	lo, hi := 1.0, -1.0
	for _, v := range w {
		lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
	}
	if lo < -bound || hi > bound || hi-lo < bound {
		t.Errorf("conv_first weights in [%.3f, %.3f], want spread over ±%.3f", lo, hi, bound)
	}
}

func TestConfigValidate(t *testing.T) {
	bad := map[string]func(*Config){
		"arch":        func(c *Config) { c.Arch = "edsr" },
		"scale":       func(c *Config) { c.Scale = 0 },
		"in_channels": func(c *Config) { c.InChannels = 0 },
		"num_feat":    func(c *Config) { c.NumFeat = 0 },
		"num_block":   func(c *Config) { c.NumBlock = -1 },
		"res_scale":   func(c *Config) { c.ResScale = 0 },
		"base":        func(c *Config) { c.Base = "bilinear" },
	}
	for key, f := range bad {
		c := DefaultConfig()
		f(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: error %v does not name the key", key, err)
		}
		if _, err := New(c, rng.New(0)); err == nil {
			t.Errorf("%s: New accepted an invalid config", key)
		}
	}
	if _, err := ParseConfig([]byte(`{"arch":"srnet","scale":4,"in_channels":3,"num_feat":8,"num_block":1,"res_scale":1,"base":"none","extra":1}`)); err == nil {
		t.Error("unknown key accepted")
	}
}

func TestForwardShapesAndBase(t *testing.T) {
	for _, base := range []string{BaseBicubic, BaseNearest, BaseNone} {
		for _, s := range []int{2, 4} {
			m := mustNew(t, tiny(base, s, 8, 1), 2)
			x := tensor.FromData(randImage(3, 2*5, 7, 3).Pix, 2, 3, 5, 7)
			g := ag.NewGraph(false)
			y := m.Forward(g, ag.Const(x)).Value
			if want := []int{2, 3, 5 * s, 7 * s}; !tensor.SameShape(y.Shape, want) {
				t.Fatalf("%s x%d: shape %v, want %v", base, s, y.Shape, want)
			}
			// With a zero output layer the network is its base.
			m.ConvUp.Weight.Value.Zero()
			m.ConvUp.Bias.Value.Zero()
			y = m.Forward(ag.NewGraph(false), ag.Const(x)).Value
			want := tensor.New(2, 3, 5*s, 7*s)
			for n := 0; n < 2; n++ {
				img := &raster.Image{C: 3, H: 5, W: 7, Pix: x.Data[n*105 : (n+1)*105]}
				var up *raster.Image
				switch base {
				case BaseBicubic:
					up = resize.Interpolate(img, 5*s, 7*s, resize.Bicubic)
				case BaseNearest:
					up = raster.New(3, 5*s, 7*s)
					for c := 0; c < 3; c++ {
						for yy := 0; yy < 5*s; yy++ {
							for xx := 0; xx < 7*s; xx++ {
								up.Set(c, yy, xx, img.At(c, yy/s, xx/s))
							}
						}
					}
				default:
					up = raster.New(3, 5*s, 7*s)
				}
				copy(want.Data[n*len(up.Pix):], up.Pix)
			}
			if d := tensor.MaxAbsDiff(y, want); d != 0 {
				t.Errorf("%s x%d: zero network differs from its base by %g", base, s, d)
			}
		}
	}
}

// bind makes m use the given variables as its parameters, in Params order.
func bind(m *Model, vars []*ag.Var) {
	k := 0
	conv := func(c *nn.Conv2d) {
		c.Weight, c.Bias = vars[k], vars[k+1]
		k += 2
	}
	conv(m.ConvFirst)
	for _, b := range m.Body {
		conv(b.Conv1)
		conv(b.Conv2)
	}
	conv(m.ConvAfterBody)
	conv(m.ConvUp)
}

func TestGradCheck(t *testing.T) {
	for _, base := range []string{BaseNearest, BaseBicubic} {
		t.Run(base, func(t *testing.T) {
			c := tiny(base, 2, 4, 1)
			c.ResScale = 0.5
			m := mustNew(t, c, 3)
			var inputs []*tensor.Tensor
			for _, p := range m.Params() {
				inputs = append(inputs, p.Value.Clone())
			}
			x := tensor.FromData(randImage(3, 5, 6, 4).Pix, 1, 3, 5, 6)
			inputs = append(inputs, x)
			opt := agtest.Options{Step: 1e-3, Tol: 2e-2}
			if base == BaseBicubic {
				// The bicubic base is a constant of x.
				opt.Const = []int{len(inputs) - 1}
			}
			agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var {
				bind(m, in[:len(in)-1])
				return m.Forward(g, in[len(in)-1])
			}, inputs, opt)
		})
	}
}

func TestGradientsReachEveryParam(t *testing.T) {
	m := mustNew(t, DefaultConfig(), 5)
	x := tensor.FromData(randImage(3, 2*12, 12, 6).Pix, 2, 3, 12, 12)
	target := tensor.FromData(randImage(3, 2*48, 48, 7).Pix, 2, 3, 48, 48)
	g := ag.NewGraph(true)
	loss := g.L1(m.Forward(g, ag.Const(x)), ag.Const(target))
	g.Backward(loss)
	for _, p := range m.Params() {
		if p.Grad == nil {
			t.Errorf("%s: no gradient", p.Name)
			continue
		}
		nz := 0
		for _, v := range p.Grad.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s: non-finite gradient", p.Name)
			}
			if v != 0 {
				nz++
			}
		}
		if nz < len(p.Grad.Data)/2 {
			t.Errorf("%s: only %d of %d gradient values are non-zero", p.Name, nz, len(p.Grad.Data))
		}
	}
}

func TestTiledEqualsWhole(t *testing.T) {
	for _, base := range []string{BaseBicubic, BaseNearest} {
		m := mustNew(t, tiny(base, 4, 8, 2), 7)
		lr := randImage(3, 45, 61, 8)
		whole := m.predict(lr, PredictOptions{Tile: -1})
		if whole.H != 180 || whole.W != 244 {
			t.Fatalf("output %dx%d", whole.W, whole.H)
		}
		for _, tile := range []int{16, 20, 64} {
			tiled := m.predict(lr, PredictOptions{Tile: tile})
			if d := maxDiff(whole, tiled); d > 1e-5 {
				t.Errorf("%s tile %d, overlap %d: differs from the whole image by %g", base, tile, m.Config.Radius(), d)
			}
		}
		// Too little context leaves seams: the comparison can fail.
		if d := maxDiff(whole, m.predict(lr, PredictOptions{Tile: 16, Overlap: 1})); d < 1e-3 {
			t.Errorf("%s: overlap 1 (radius %d) should differ, differs by %g", base, m.Config.Radius(), d)
		}
	}
	// Predict clamps.
	m := mustNew(t, tiny(BaseNone, 2, 8, 1), 9)
	m.ConvUp.Bias.Value.Data[0] = 5
	m.ConvUp.Bias.Value.Data[1] = -5
	out := m.Predict(randImage(3, 4, 4, 1), PredictOptions{})
	for _, v := range out.Pix {
		if v < 0 || v > 1 {
			t.Fatalf("Predict returned %v", v)
		}
	}
}

func maxDiff(a, b *raster.Image) float64 {
	d := 0.0
	for i := range a.Pix {
		d = math.Max(d, math.Abs(float64(a.Pix[i]-b.Pix[i])))
	}
	return d
}

func TestInferenceReleasesMemory(t *testing.T) {
	m := mustNew(t, tiny(BaseBicubic, 4, 16, 8), 1)
	x := tensor.FromData(randImage(3, 32, 32, 2).Pix, 1, 3, 32, 32)
	g := ag.NewGraph(false)
	y := m.Forward(g, ag.Const(x))
	_, live := g.PooledBytes()
	fm := int64(4 * 16 * 32 * 32)
	out := int64(4 * len(y.Value.Data))
	// The output and the base are live; everything else was released
	// (without Release, 2*8+3 feature maps would be).
	if live > 2*out {
		t.Errorf("%d bytes live after inference, want at most %d (output and base)", live, 2*out)
	}
	free, _ := g.PooledBytes()
	if free > 5*fm+out {
		t.Errorf("pool grew to %d bytes, want at most about 4 feature maps (%d each)", free, fm)
	}
}

func TestSaveLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "model")
	m := mustNew(t, tiny(BaseBicubic, 4, 8, 2), 11)
	ema := map[string]*tensor.Tensor{}
	for _, p := range m.Params() {
		e := p.Value.Clone()
		for i := range e.Data {
			e.Data[i] += 1
		}
		ema[p.Name] = e
	}
	if err := m.Save(dir, ema); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		w    Weights
		add  float32
		file string
	}{{AutoWeights, 1, EMAFile}, {EMAWeights, 1, EMAFile}, {RawWeights, 0, WeightsFile}} {
		got, file, err := Load(dir, tc.w)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(file) != tc.file {
			t.Errorf("weights %d read %s, want %s", tc.w, file, tc.file)
		}
		if got.Config != m.Config {
			t.Errorf("config %+v, want %+v", got.Config, m.Config)
		}
		src := m.Params()
		for i, p := range got.Params() {
			for j, v := range p.Value.Data {
				if v != src[i].Value.Data[j]+tc.add {
					t.Fatalf("weights %d: %s[%d] = %v, want %v", tc.w, p.Name, j, v, src[i].Value.Data[j]+tc.add)
				}
			}
		}
	}
	// Saving without EMA removes a stale average.
	if err := m.Save(dir, nil); err != nil {
		t.Fatal(err)
	}
	if _, file, _ := Load(dir, AutoWeights); filepath.Base(file) != WeightsFile {
		t.Errorf("auto after saving without EMA read %s", file)
	}
	if _, _, err := Load(dir, EMAWeights); err == nil || !strings.Contains(err.Error(), EMAFile) {
		t.Errorf("missing EMA weights: %v", err)
	}
	if _, _, err := Load(t.TempDir(), AutoWeights); err == nil || !strings.Contains(err.Error(), "not a model folder") {
		t.Errorf("empty folder: %v", err)
	}
	// A config that does not fit the weights names the mismatches.
	cfg := m.Config
	cfg.NumFeat = 16
	os.WriteFile(filepath.Join(dir, ConfigFile), []byte(fmt.Sprintf(`{"arch":"srnet","scale":4,"in_channels":3,"num_feat":%d,"num_block":2,"res_scale":1,"base":"bicubic"}`, cfg.NumFeat)), 0o644)
	if _, _, err := Load(dir, RawWeights); err == nil || !strings.Contains(err.Error(), "conv_first.weight") || !strings.Contains(err.Error(), WeightsFile) {
		t.Errorf("mismatched config: %v", err)
	}
	os.WriteFile(filepath.Join(dir, ConfigFile), []byte(`{"arch":"srnet","scale":0}`), 0o644)
	if _, _, err := Load(dir, RawWeights); err == nil || !strings.Contains(err.Error(), ConfigFile) {
		t.Errorf("bad config: %v", err)
	}
	if _, err := ParseWeights("best"); err == nil {
		t.Error("ParseWeights accepted best")
	}
}

// benchConfigs are the sizes compared when choosing DefaultConfig.
var benchConfigs = []struct {
	name         string
	feat, blocks int
}{
	{"f32b6", 32, 6}, {"f48b8", 48, 8}, {"f64b8", 64, 8}, {"f64b12", 64, 12}, {"f64b16", 64, 16},
}

// BenchmarkTrainStep times one training step (forward, L1 loss, backward)
// on a batch of 16 LR patches of 48x48, and reports samples/s.
func BenchmarkTrainStep(b *testing.B) {
	for _, bc := range benchConfigs {
		b.Run(bc.name, func(b *testing.B) {
			m := mustNew(b, tiny(BaseBicubic, 4, bc.feat, bc.blocks), 1)
			x := tensor.FromData(randImage(3, 16*48, 48, 1).Pix, 16, 3, 48, 48)
			y := tensor.FromData(randImage(3, 16*192, 192, 2).Pix, 16, 3, 192, 192)
			g := ag.NewGraph(true)
			params := m.Params()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				g.Reset()
				ag.ZeroGrad(params)
				g.Backward(g.L1(m.Forward(g, ag.Const(x)), ag.Const(y)))
			}
			b.ReportMetric(float64(16*b.N)/b.Elapsed().Seconds(), "samples/s")
			b.ReportMetric(float64(m.NumParams()), "params")
		})
	}
}

// BenchmarkPredict128 times the inference of one 128x128 LR image (the
// RealSR test size), whole.
func BenchmarkPredict128(b *testing.B) {
	for _, bc := range benchConfigs {
		b.Run(bc.name, func(b *testing.B) {
			m := mustNew(b, tiny(BaseBicubic, 4, bc.feat, bc.blocks), 1)
			lr := randImage(3, 128, 128, 3)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m.Predict(lr, PredictOptions{})
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/img")
		})
	}
}

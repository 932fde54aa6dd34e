package bfrnet

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/degrade/resize"
	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/models/modeldir"

	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

func mustNew(t testing.TB, c Config, seed uint64) *Model {
	t.Helper()
	m, err := New(c, rng.New(seed, "bfrnet test"))
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

// tiny is a small two-downsampling network for fast tests.
func tiny() Config {
	c := DefaultConfig()
	c.NumFeat, c.ChannelMult, c.LevelBlocks, c.NumBlock, c.FaceSize = 4, []int{1, 2, 2}, 1, 1, 16
	return c
}

func TestParams(t *testing.T) {
	c := tiny()
	c.ChannelMult = []int{1, 2}
	var names []string
	for _, p := range mustNew(t, c, 1).Params() {
		names = append(names, p.Name)
	}
	want := "conv_first.weight conv_first.bias " +
		"enc.0.0.conv1.weight enc.0.0.conv1.bias enc.0.0.conv2.weight enc.0.0.conv2.bias " +
		"down.0.weight down.0.bias " +
		"body.0.conv1.weight body.0.conv1.bias body.0.conv2.weight body.0.conv2.bias " +
		"up.0.weight up.0.bias " +
		"dec.0.0.conv1.weight dec.0.0.conv1.bias dec.0.0.conv2.weight dec.0.0.conv2.bias " +
		"conv_last.weight conv_last.bias"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("names\n%s\nwant\n%s", got, want)
	}
	conv := func(cin, cout int) int { return cin*cout*9 + cout }
	block := func(ch int) int { return 2 * conv(ch, ch) }
	count := func(c Config) int {
		ch := func(i int) int { return c.NumFeat * c.ChannelMult[i] }
		L := len(c.ChannelMult)
		n := conv(3, ch(0)) + conv(ch(0), 3) + c.NumBlock*block(ch(L-1))
		for i := 0; i < L-1; i++ {
			n += 2*c.LevelBlocks*block(ch(i)) + conv(ch(i), ch(i+1)) + conv(ch(i+1), ch(i))
		}
		return n
	}
	for _, c := range []Config{tiny(), c, DefaultConfig()} {
		if got, want := mustNew(t, c, 1).NumParams(), count(c); got != want {
			t.Errorf("%+v: %d parameters, want %d", c, got, want)
		}
	}
	// The figure DefaultConfig's documentation gives.
	if n := mustNew(t, DefaultConfig(), 1).NumParams(); n != 1551747 {
		t.Errorf("default network: %d parameters, documented 1,551,747", n)
	}
}

func TestConfigValidate(t *testing.T) {
	for key, f := range map[string]func(*Config){
		"arch":                         func(c *Config) { c.Arch = "srnet" },
		"in_channels 0":                func(c *Config) { c.InChannels = 0 },
		"in_channels 1":                func(c *Config) { c.InChannels = 1 },
		"num_feat 0":                   func(c *Config) { c.NumFeat = 0 },
		"num_feat -3":                  func(c *Config) { c.NumFeat = -3 },
		"channel_mult []":              func(c *Config) { c.ChannelMult = nil },
		"channel_mult[1] 0":            func(c *Config) { c.ChannelMult = []int{1, 0, 4} },
		"channel_mult[0] -1":           func(c *Config) { c.ChannelMult = []int{-1} },
		"level_blocks -1":              func(c *Config) { c.LevelBlocks = -1 },
		"num_block -1":                 func(c *Config) { c.NumBlock = -1 },
		"res_scale 0":                  func(c *Config) { c.ResScale = 0 },
		"res_scale -0.5":               func(c *Config) { c.ResScale = -0.5 },
		"res_scale NaN":                func(c *Config) { c.ResScale = math.NaN() },
		"res_scale +Inf":               func(c *Config) { c.ResScale = math.Inf(1) },
		"face_size 0":                  func(c *Config) { c.FaceSize = 0 },
		"face_size 130":                func(c *Config) { c.FaceSize = 130 }, // not a multiple of 4
		"face_size 8192":               func(c *Config) { c.FaceSize = 8192 },
		"channel_mult [1 1 1 1 1 1 1]": func(c *Config) { c.ChannelMult = []int{1, 1, 1, 1, 1, 1, 1} },
	} {
		c := DefaultConfig()
		f(&c)
		k := strings.Fields(key)[0]
		k = k[:strings.IndexAny(k+"[", "[")]
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s: error %v does not name %s", key, err, k)
		}
		if _, err := New(c, rng.New(0)); err == nil {
			t.Errorf("%s: New accepted an invalid config", key)
		}
	}
	if err := tiny().Validate(); err != nil {
		t.Errorf("tiny config: %v", err)
	}
	if _, err := ParseConfig([]byte(`{"arch":"bfrnet","in_channels":3,"num_feat":4,"channel_mult":[1],"level_blocks":0,"num_block":1,"res_scale":1,"face_size":8,"extra":1}`)); err == nil {
		t.Error("unknown key accepted")
	}
}

func TestForwardShape(t *testing.T) {
	m := mustNew(t, tiny(), 2)
	for _, hw := range [][2]int{{16, 16}, {8, 20}, {4, 4}} {
		h, w := hw[0], hw[1]
		x := tensor.FromData(randImage(3, 2*h, w, 3).Pix, 2, 3, h, w)
		y := m.Forward(ag.NewGraph(false), ag.Const(x)).Value
		if want := []int{2, 3, h, w}; !tensor.SameShape(y.Shape, want) {
			t.Errorf("%dx%d: shape %v, want %v", h, w, y.Shape, want)
		}
		// Recording (training) and inference graphs compute the same.
		yr := m.Forward(ag.NewGraph(true), ag.Const(x)).Value
		if d := tensor.MaxAbsDiff(y, yr); d != 0 {
			t.Errorf("%dx%d: inference and training forward differ by %g", h, w, d)
		}
	}
	// Predict pads sides that are not multiples of 4 and crops back.
	for _, hw := range [][2]int{{16, 16}, {13, 10}, {3, 2}, {1, 7}} {
		img := randImage(3, hw[0], hw[1], 4)
		out := m.Predict(img)
		if out.C != 3 || out.H != hw[0] || out.W != hw[1] {
			t.Fatalf("Predict %dx%d: %dx%dx%d", hw[0], hw[1], out.C, out.H, out.W)
		}
		for _, v := range out.Pix {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("Predict %dx%d: value %v outside [0, 1]", hw[0], hw[1], v)
			}
		}
	}
	// Without padding, Predict is Forward clamped.
	img := randImage(3, 16, 12, 5)
	y := m.Forward(ag.NewGraph(false), ag.Const(tensor.FromData(img.Pix, 1, 3, 16, 12))).Value
	out := m.Predict(img)
	for i, v := range y.Data {
		if want := min(max(v, 0), 1); out.Pix[i] != want {
			t.Fatalf("Predict[%d] = %v, Forward clamped %v", i, out.Pix[i], want)
		}
	}
}

func TestGlobalResidual(t *testing.T) {
	for _, c := range []Config{tiny(), DefaultConfig()} {
		m := mustNew(t, c, 3)
		m.ConvLast.Weight.Value.Zero()
		m.ConvLast.Bias.Value.Zero()
		x := tensor.FromData(randImage(3, 2*16, 16, 6).Pix, 2, 3, 16, 16)
		y := m.Forward(ag.NewGraph(false), ag.Const(x)).Value
		if d := tensor.MaxAbsDiff(y, x); d != 0 {
			t.Errorf("%d features: with a zero conv_last the output differs from the input by %g", c.NumFeat, d)
		}
		// Predict, padding included, then returns its input.
		img := randImage(3, 13, 11, 7)
		if out := m.Predict(img); !reflect.DeepEqual(out.Pix, img.Pix) {
			t.Errorf("%d features: Predict with a zero conv_last changed its input", c.NumFeat)
		}
	}
	// An untrained network with its output layer does change the input.
	m := mustNew(t, tiny(), 3)
	img := randImage(3, 16, 16, 7)
	if out := m.Predict(img); reflect.DeepEqual(out.Pix, img.Pix) {
		t.Error("a random network returned its input unchanged")
	}
}

func TestGradientsReachEveryParam(t *testing.T) {
	m := mustNew(t, tiny(), 5)
	x := tensor.FromData(randImage(3, 2*16, 16, 6).Pix, 2, 3, 16, 16)
	target := tensor.FromData(randImage(3, 2*16, 16, 7).Pix, 2, 3, 16, 16)
	g := ag.NewGraph(true)
	g.Backward(g.L1(m.Forward(g, ag.Const(x)), ag.Const(target)))
	for _, p := range m.Params() {
		nz := 0
		if p.Grad != nil {
			for _, v := range p.Grad.Data {
				if v != 0 {
					nz++
				}
			}
		}
		if nz == 0 {
			t.Errorf("%s: no gradient", p.Name)
		}
	}
}

func TestSaveLoad(t *testing.T) {
	m := mustNew(t, tiny(), 8)
	other := mustNew(t, tiny(), 9)
	ema := map[string]*tensor.Tensor{}
	for _, p := range other.Params() {
		ema[p.Name] = p.Value
	}
	dir := filepath.Join(t.TempDir(), "model")
	if err := m.Save(dir, ema); err != nil {
		t.Fatal(err)
	}
	img := randImage(3, 16, 16, 10)
	for _, tc := range []struct {
		w    modeldir.Weights
		want *Model
		file string
	}{
		{modeldir.RawWeights, m, modeldir.WeightsFile},
		{modeldir.EMAWeights, other, modeldir.EMAFile},
		{modeldir.AutoWeights, other, modeldir.EMAFile},
	} {
		got, path, err := Load(dir, tc.w)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(path) != tc.file || !reflect.DeepEqual(got.Config, tc.want.Config) {
			t.Errorf("weights %d: read %s, config %+v", tc.w, path, got.Config)
		}
		for i, p := range got.Params() {
			if !reflect.DeepEqual(p.Value.Data, tc.want.Params()[i].Value.Data) {
				t.Fatalf("weights %d: %s differs after the round trip", tc.w, p.Name)
			}
		}
		if !reflect.DeepEqual(got.Predict(img).Pix, tc.want.Predict(img).Pix) {
			t.Errorf("weights %d: the loaded model predicts differently", tc.w)
		}
	}
	// Without EMA weights, auto reads the trained ones.
	raw := filepath.Join(t.TempDir(), "raw")
	if err := m.Save(raw, nil); err != nil {
		t.Fatal(err)
	}
	if _, path, err := Load(raw, modeldir.AutoWeights); err != nil || filepath.Base(path) != modeldir.WeightsFile {
		t.Errorf("auto without EMA: %s, %v", path, err)
	}
	// Errors name the file.
	cfgPath := filepath.Join(dir, modeldir.ConfigFile)
	os.WriteFile(cfgPath, []byte(`{"arch":"bfrnet","in_channels":3,"num_feat":4,"channel_mult":[1,2,2],"level_blocks":1,"num_block":1,"res_scale":1,"face_size":18}`), 0o644)
	if _, _, err := Load(dir, modeldir.AutoWeights); err == nil || !strings.Contains(err.Error(), cfgPath) || !strings.Contains(err.Error(), "face_size") {
		t.Errorf("bad face_size in config.json: %v", err)
	}
	// A config of another size does not fit the weights.
	c := tiny()
	c.NumFeat = 8
	b, _ := json.Marshal(c)
	os.WriteFile(cfgPath, b, 0o644)
	if _, _, err := Load(dir, modeldir.RawWeights); err == nil || !strings.Contains(err.Error(), modeldir.WeightsFile) {
		t.Errorf("weights of another size: %v", err)
	}
}

func TestResizeFace(t *testing.T) {
	img := randImage(3, 32, 32, 11)
	if ResizeFace(img, 32) != img {
		t.Error("a face of the right size was copied")
	}
	for _, tc := range []struct {
		name      string
		h, w, out int
		inter     resize.Inter
		clamp     bool
	}{
		{"shrink by 2", 64, 64, 32, resize.InterArea, false},
		{"shrink by 1.5", 48, 48, 32, resize.InterArea, false},
		{"shrink one side", 32, 48, 32, resize.InterArea, false},
		{"enlarge", 20, 20, 32, resize.InterCubic, true},
		{"stretch a non-square image", 40, 24, 32, resize.InterCubic, true},
	} {
		in := randImage(3, tc.h, tc.w, 12)
		got := ResizeFace(in, tc.out)
		if got.C != 3 || got.H != tc.out || got.W != tc.out {
			t.Fatalf("%s: %dx%d, want %dx%d", tc.name, got.H, got.W, tc.out, tc.out)
		}
		want := resize.OpenCV(in, tc.out, tc.out, tc.inter)
		if tc.clamp {
			want = want.Clamp()
		}
		if !reflect.DeepEqual(got.Pix, want.Pix) {
			t.Errorf("%s: not OpenCV's %v resize", tc.name, tc.inter)
		}
		for _, v := range got.Pix {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("%s: value %v outside [0, 1]", tc.name, v)
			}
		}
	}
	// A flat face stays flat, whichever way it is resized.
	flat := raster.New(3, 24, 40)
	for i := range flat.Pix {
		flat.Pix[i] = 0.25
	}
	for _, size := range []int{16, 32, 64} {
		for _, v := range ResizeFace(flat, size).Pix {
			if math.Abs(float64(v)-0.25) > 1e-6 {
				t.Fatalf("flat image resized to %d: value %v", size, v)
			}
		}
	}
	// Resize back to an input size (apply --keep-size).
	if r := Resize(randImage(3, 32, 32, 13), 50, 70); r.H != 50 || r.W != 70 {
		t.Errorf("Resize to 50x70: %dx%d", r.H, r.W)
	}
}

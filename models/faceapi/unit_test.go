package faceapi

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func randMap(r *rand.Rand, h, w, c int) *fmap {
	x := newMap(h, w, c)
	for i := range x.D {
		x.D[i] = float32(r.NormFloat64())
	}
	return x
}

// naiveConv is the textbook cross-correlation with zero padding.
func naiveConv(x *fmap, w []float32, k, cout, stride int, p pad4) *fmap {
	ho := (x.H+p.top+p.bottom-k)/stride + 1
	wo := (x.W+p.left+p.right-k)/stride + 1
	y := newMap(ho, wo, cout)
	for oy := 0; oy < ho; oy++ {
		for ox := 0; ox < wo; ox++ {
			for co := 0; co < cout; co++ {
				var s float64
				for ky := 0; ky < k; ky++ {
					for kx := 0; kx < k; kx++ {
						iy, ix := oy*stride+ky-p.top, ox*stride+kx-p.left
						if iy < 0 || ix < 0 || iy >= x.H || ix >= x.W {
							continue
						}
						for ci := 0; ci < x.C; ci++ {
							s += float64(x.D[(iy*x.W+ix)*x.C+ci]) * float64(w[((ky*k+kx)*x.C+ci)*cout+co])
						}
					}
				}
				y.D[(oy*wo+ox)*cout+co] = float32(s)
			}
		}
	}
	return y
}

func TestSamePad(t *testing.T) {
	for _, c := range []struct{ in, k, s, out, before, after int }{
		{112, 3, 2, 56, 0, 1}, // the landmark net's first conv
		{56, 3, 1, 56, 1, 1},
		{111, 2, 2, 56, 0, 1}, // the detector's SAME max pooling
		{7, 2, 1, 7, 0, 1},
		{222, 2, 2, 111, 0, 0},
	} {
		o, b, a := samePad(c.in, c.k, c.s)
		if o != c.out || b != c.before || a != c.after {
			t.Errorf("samePad(%d, %d, %d) = %d, %d, %d; want %d, %d, %d", c.in, c.k, c.s, o, b, a, c.out, c.before, c.after)
		}
	}
}

func TestConvAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		h, w, cin, cout, k, stride int
		p                          pad4
	}{
		{9, 7, 3, 5, 3, 1, pad4{1, 1, 1, 1}},
		{12, 12, 4, 6, 3, 2, pad4{0, 1, 0, 1}},
		{15, 15, 3, 4, 7, 2, pad4{}},
		{5, 6, 8, 3, 1, 1, pad4{}},
	} {
		x := randMap(r, c.h, c.w, c.cin)
		w := make([]float32, c.k*c.k*c.cin*c.cout)
		for i := range w {
			w[i] = float32(r.NormFloat64())
		}
		got := conv2d(x, w, c.k, c.cout, c.stride, c.p, nil)
		want := naiveConv(x, w, c.k, c.cout, c.stride, c.p)
		if got.H != want.H || got.W != want.W {
			t.Fatalf("%+v: %dx%d, want %dx%d", c, got.H, got.W, want.H, want.W)
		}
		if d := maxDiff(t, "conv", got.D, want.D); d > 1e-4 {
			t.Errorf("%+v: max |diff| %g", c, d)
		}
		// Depthwise = the conv with a diagonal filter.
		dw := make([]float32, c.k*c.k*c.cin)
		full := make([]float32, c.k*c.k*c.cin*c.cin)
		for i := range dw {
			dw[i] = float32(r.NormFloat64())
			tap, ch := i/c.cin, i%c.cin
			full[(tap*c.cin+ch)*c.cin+ch] = dw[i]
		}
		gd := depthwise(x, dw, c.k, c.stride, c.p)
		wd := naiveConv(x, full, c.k, c.cin, c.stride, c.p)
		if d := maxDiff(t, "depthwise", gd.D, wd.D); d > 1e-4 {
			t.Errorf("%+v depthwise: max |diff| %g", c, d)
		}
	}
}

func TestPools(t *testing.T) {
	x := &fmap{H: 3, W: 3, C: 1, D: []float32{1, -2, 3, -4, 5, -6, 7, -8, -9}}
	// SAME 2x2 stride 2: the padded cells are ignored (the bottom-right
	// window holds only -9).
	got := maxPool(x, 2, 2, x.same(2, 2))
	if want := []float32{5, 3, 7, -9}; maxDiff(t, "maxpool", got.D, want) != 0 {
		t.Errorf("maxPool = %v, want %v", got.D, want)
	}
	got = avgPoolValid(x, 2, 1)
	if want := []float32{0, 0, 0, -4.5}; maxDiff(t, "avgpool", got.D, want) != 0 {
		t.Errorf("avgPool = %v, want %v", got.D, want)
	}
}

func TestLeaky(t *testing.T) {
	x := &fmap{H: 1, W: 1, C: 3, D: []float32{2, -2, 0}}
	x.leaky()
	if want := []float32{2, -0.2, 0}; maxDiff(t, "leaky", x.D, want) > 1e-7 {
		t.Errorf("leaky = %v, want %v", x.D, want)
	}
}

func TestPadToSquare(t *testing.T) {
	x := newMap(2, 5, 1) // 3 rows to add
	for i := range x.D {
		x.D[i] = 1
	}
	c := padToSquare(x, true) // 2 after (round(1.5)), 1 before
	rows := func(m *fmap) []float32 {
		var out []float32
		for r := 0; r < m.H; r++ {
			out = append(out, m.D[r*m.W])
		}
		return out
	}
	if got, want := rows(c), []float32{0, 1, 1, 0, 0}; maxDiff(t, "centred", got, want) != 0 {
		t.Errorf("centred rows %v, want %v", got, want)
	}
	if got, want := rows(padToSquare(x, false)), []float32{1, 1, 0, 0, 0}; maxDiff(t, "after", got, want) != 0 {
		t.Errorf("bottom rows %v, want %v", got, want)
	}
}

func TestResizeBilinear(t *testing.T) {
	// 2 -> 4 without half-pixel centres: source x = 0, 0.5, 1, 1.5 (clamped).
	x := &fmap{H: 1, W: 2, C: 1, D: []float32{0, 10}}
	got := resizeBilinear(x, 1, 4)
	if want := []float32{0, 5, 10, 10}; maxDiff(t, "resize", got.D, want) != 0 {
		t.Errorf("resize = %v, want %v", got.D, want)
	}
}

func TestPostProcess(t *testing.T) {
	// A 56x112 (w x h) image is padded with 28 columns each side; the centre
	// of the square maps to the centre of the image.
	got := postProcess([]float32{0.5, 0.5, 0.25, 0}, 56, 112)
	if want := []float32{0.5, 0.5, 0, 0}; maxDiff(t, "post", got, want) > 1e-6 {
		t.Errorf("postProcess = %v, want %v", got, want)
	}
}

func TestNMS(t *testing.T) {
	c := []Detection{
		{Score: 0.6, Relative: Rect{0, 0, 0.5, 0.5}},
		{Score: 0.9, Relative: Rect{0.05, 0, 0.5, 0.5}}, // overlaps 0
		{Score: 0.7, Relative: Rect{0.5, 0.5, 0.4, 0.4}},
		{Score: 0.7, Relative: Rect{0.52, 0.5, 0.4, 0.4}}, // ties 2 and wins (later)
	}
	var boxes []Rect
	for _, d := range c {
		boxes = append(boxes, d.Relative)
	}
	got := nms(boxes, c, 224, 0.4)
	if want := []int{1, 3}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("nms = %v, want %v", got, want)
	}
	if v := IoU(Rect{0, 0, 2, 2}, Rect{1, 0, 2, 2}); math.Abs(v-1.0/3) > 1e-15 {
		t.Errorf("IoU = %v, want 1/3", v)
	}
}

func TestDecodeWeights(t *testing.T) {
	manifest := `[{"paths":["m.bin"],"weights":[
		{"name":"a","shape":[2],"dtype":"float32","quantization":{"dtype":"uint8","scale":0.5,"min":-1}},
		{"name":"b","shape":[1,2],"dtype":"float32"},
		{"name":"c","shape":[1],"dtype":"float32","quantization":{"dtype":"uint16","scale":0.25,"min":0}}]}]`
	bin := []byte{0, 3}
	bin = binary.LittleEndian.AppendUint32(bin, math.Float32bits(1.5))
	bin = binary.LittleEndian.AppendUint32(bin, math.Float32bits(-2))
	bin = binary.LittleEndian.AppendUint16(bin, 10)
	w, err := DecodeWeights("test", []byte(manifest), bin)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, want ...float32) {
		if got := w.Tensors[name].Data; maxDiff(t, name, got, want) != 0 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("a", -1, 0.5)
	check("b", 1.5, -2)
	check("c", 2.5)
	if _, err := DecodeWeights("short.bin", []byte(manifest), bin[:5]); err == nil || !strings.Contains(err.Error(), "short.bin") {
		t.Errorf("short shard: error %v, want one naming the file", err)
	}
	if _, err := DecodeWeights("long.bin", []byte(manifest), append(bin, 0)); err == nil || !strings.Contains(err.Error(), "long.bin") {
		t.Errorf("long shard: error %v, want one naming the file", err)
	}

	// Files: a missing shard and a bad manifest are reported with their paths.
	dir := t.TempDir()
	mp := filepath.Join(dir, "x-weights_manifest.json")
	if err := os.WriteFile(mp, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadWeights(mp); err == nil || !strings.Contains(err.Error(), "m.bin") {
		t.Errorf("missing shard: error %v, want one naming m.bin", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "m.bin"), bin, 0o644); err != nil {
		t.Fatal(err)
	}
	if w, err := ReadWeights(mp); err != nil || len(w.Names) != 3 {
		t.Errorf("ReadWeights: %v, %v", w, err)
	}
	if _, err := NewDetector(w); err == nil || !strings.Contains(err.Error(), "test") {
		t.Errorf("NewDetector on other weights: error %v, want one naming the source", err)
	}
	if err := os.WriteFile(mp, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadWeights(mp); err == nil || !strings.Contains(err.Error(), mp) {
		t.Errorf("bad manifest: error %v, want one naming %s", err, mp)
	}
	if _, err := Load(""); err == nil {
		t.Error("Load(\"\"): no error")
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), DetectorManifest) {
		t.Errorf("Load of a folder without the detector: error %v, want one naming %s", err, DetectorManifest)
	}
}

func TestDetectOptions(t *testing.T) {
	o, err := DetectOptions{}.withDefaults()
	if err != nil || o.InputSize != 416 || o.ScoreThreshold != 0.5 {
		t.Errorf("defaults %+v, %v", o, err)
	}
	if _, err := (DetectOptions{InputSize: 100}).withDefaults(); err == nil {
		t.Error("input size 100 accepted")
	}
	if _, err := (DetectOptions{Sizes: []int{160, 0}}).withDefaults(); err == nil {
		t.Error("input size 0 accepted in Sizes")
	}
}

func TestDlibAlignment(t *testing.T) {
	var lm [NumLandmarks]Point
	for i := 36; i < 42; i++ {
		lm[i] = Point{40, 50}
	}
	for i := 42; i < 48; i++ {
		lm[i] = Point{80, 50}
	}
	for i := 48; i < 68; i++ {
		lm[i] = Point{60, 95}
	}
	// eye-to-mouth sqrt(20^2+45^2) = 49.24; /0.45 = 109.4 -> 109.
	r := DlibAlignment(lm, 200, 200)
	ref := Point{60, 65}
	want := Rect{math.Floor(ref.X - 0.5*109), math.Floor(ref.Y - 0.43*109), 109, 109}
	if r != want {
		t.Errorf("DlibAlignment = %+v, want %+v", r, want)
	}
}

func TestNME(t *testing.T) {
	var a, b [NumLandmarks]Point
	a[36], a[45] = Point{0, 0}, Point{10, 0}
	b = a
	for i := range b {
		b[i].Y += 1 // every point 1 below: 1/10 of the eye distance
	}
	if v := NME(b, a); math.Abs(v-0.1) > 1e-12 {
		t.Errorf("NME = %v, want 0.1", v)
	}
	if v := NME(a, [NumLandmarks]Point{}); !math.IsInf(v, 1) {
		t.Errorf("NME with coincident eye corners = %v, want +Inf", v)
	}
}

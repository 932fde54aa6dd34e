package faceapi

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/internal/fixture"
)

// The golden values in ../shared/fixtures/faceapi were computed by the
// JavaScript library (tfjs cpu backend); ../shared/models/face-api holds the
// weights. Both READMEs describe them. These tests skip without ../shared.

// Tolerances (the fixtures README: the tfjs cpu and wasm backends differ by
// up to 2.7e-5 on these values).
const (
	tolAct  = 1e-4 // descriptors, fc_out, activations, the detector grid
	tolBox  = 1e-4 // detection scores and relative boxes
	tolLm   = 1e-3 // landmark positions, as a fraction of the input size
	tolPipe = 1e-3 // pipeline descriptors (through bilinear resizing)
)

var (
	modelsOnce sync.Once
	models     *Models
	modelsErr  error
)

// testModels loads the three nets once.
func testModels(t *testing.T) *Models { return testModelsB(t) }

func testModelsB(t testing.TB) *Models {
	t.Helper()
	dir := fixture.Dir(t, "models", "face-api")
	modelsOnce.Do(func() { models, modelsErr = Load(dir) })
	if modelsErr != nil {
		t.Fatal(modelsErr)
	}
	return models
}

// golden is an open fixture file.
type golden struct {
	t *testing.T
	f *safetensors.File
}

func openGolden(t *testing.T, name string) *golden {
	t.Helper()
	f, err := safetensors.Open(filepath.Join(fixture.Dir(t, "fixtures", "faceapi"), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &golden{t, f}
}

func (g *golden) f32(name string) ([]float32, []int) {
	g.t.Helper()
	v, s, err := g.f.Float32(name)
	if err != nil {
		g.t.Fatal(err)
	}
	return v, s
}

func (g *golden) f64(name string) []float64 {
	g.t.Helper()
	v, _, err := g.f.Float64(name)
	if err != nil {
		g.t.Fatal(err)
	}
	return v
}

// image returns a stored [H, W, 3] U8 tensor as an Image.
func (g *golden) image(name string) *Image {
	g.t.Helper()
	b, in, err := g.f.Bytes(name)
	if err != nil {
		g.t.Fatal(err)
	}
	if len(in.Shape) != 3 || in.Shape[2] != 3 || in.DType != safetensors.U8 {
		g.t.Fatalf("%s: %s %v, want U8 [H,W,3]", name, in.DType, in.Shape)
	}
	return &Image{W: in.Shape[1], H: in.Shape[0], Pix: b}
}

// fixtureJSON is the part of fixtures.json the tests read.
type fixtureJSON struct {
	Images []struct {
		ID       string `json:"id"`
		ChipCrop struct {
			X0, Y0, Side int
		} `json:"chip_crop"`
	} `json:"images"`
	Detector map[string]struct {
		InputSize int `json:"input_size"`
		detectorResult
		LowThreshold *detectorResult `json:"low_threshold"`
	} `json:"detector"`
	Pipeline struct {
		Results map[string][]struct {
			Score     float64      `json:"detection_score"`
			Box       jsonRect     `json:"detection_box_input"`
			Landmarks [][2]float64 `json:"landmarks_input"`
			Align     jsonRect     `json:"dlib_align_rect_input"`
			Desc      []float64    `json:"descriptor"`
		} `json:"results"`
	} `json:"pipeline_informational"`
	Weights map[string]struct {
		Manifest string `json:"manifest"`
		Tensors  []struct {
			Name   string    `json:"name"`
			Offset int       `json:"bin_byte_offset"`
			Sum    float64   `json:"sum"`
			SumAbs float64   `json:"sum_abs"`
			Min    float64   `json:"min"`
			Max    float64   `json:"max"`
			First4 []float64 `json:"first4"`
		} `json:"tensors"`
	} `json:"weights"`
}

type jsonRect struct{ X, Y, Width, Height float64 }

type detectorResult struct {
	ScoreThreshold float64 `json:"score_threshold"`
	Candidates     []struct {
		Row, Col, Anchor int
		Score            float64
		RelBox           jsonRect `json:"rel_box"`
	} `json:"candidates"`
	Detections []struct {
		Score            float64
		CandidateIndex   int `json:"candidate_index"`
		Row, Col, Anchor int
		RelativeBox      jsonRect `json:"relative_box"`
		BoxInput         jsonRect `json:"box_input"`
	} `json:"detections"`
}

func readFixtureJSON(t *testing.T) *fixtureJSON {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixture.Dir(t, "fixtures", "faceapi"), "fixtures.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f fixtureJSON
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return &f
}

var imageIDs = []string{"hq_ffhq_00001", "hq_ffhq_00003", "hq_celebahq_f_039913", "hq_celebahq_m_016387", "lq_codeformer_0143", "lq_gfpgan_julia_roberts"}

// maxDiff returns the largest |a-b|, failing on a length mismatch.
func maxDiff(t *testing.T, what string, got, want []float32) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	m := 0.0
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if !(d <= m) {
			m = d
		}
	}
	return m
}

// checkClose fails if got and want differ by more than tol anywhere.
func checkClose(t *testing.T, what string, got, want []float32, tol float64) float64 {
	t.Helper()
	m := maxDiff(t, what, got, want)
	if !(m <= tol) {
		t.Errorf("%s: max |diff| %.3g > %.3g", what, m, tol)
	}
	return m
}

// cropMap returns rows/cols [y0, y0+n) x [x0, x0+n) of x.
func cropMap(x *fmap, y0, x0, n int) []float32 {
	out := make([]float32, 0, n*n*x.C)
	for y := y0; y < y0+n; y++ {
		out = append(out, x.D[(y*x.W+x0)*x.C:(y*x.W+x0+n)*x.C]...)
	}
	return out
}

func TestWeightsFixture(t *testing.T) {
	dir := fixture.Dir(t, "models", "face-api")
	fj := readFixtureJSON(t)
	g := openGolden(t, "weights.safetensors")
	nets := map[string]string{"recognition": RecognitionManifest, "landmarks": LandmarkManifest, "detector": DetectorManifest}
	loaded := map[string]*Weights{}
	for net, man := range nets {
		w, err := ReadWeights(filepath.Join(dir, man))
		if err != nil {
			t.Fatal(err)
		}
		loaded[net] = w
		want := fj.Weights[net].Tensors
		if len(w.Names) != len(want) {
			t.Fatalf("%s: %d tensors, fixtures list %d", net, len(w.Names), len(want))
		}
		for i, tw := range want {
			if w.Names[i] != tw.Name {
				t.Fatalf("%s: tensor %d is %q, want %q", net, i, w.Names[i], tw.Name)
			}
			d := w.Tensors[tw.Name].Data
			var s, sa float64
			mn, mx := math.Inf(1), math.Inf(-1)
			for _, v := range d {
				s += float64(v)
				sa += math.Abs(float64(v))
				mn = math.Min(mn, float64(v))
				mx = math.Max(mx, float64(v))
			}
			if math.Abs(s-tw.Sum) > 1e-9*math.Max(1, tw.SumAbs) || math.Abs(sa-tw.SumAbs) > 1e-9*math.Max(1, tw.SumAbs) || mn != tw.Min || mx != tw.Max {
				t.Errorf("%s %s: sum %v |sum| %v min %v max %v, want %v %v %v %v", net, tw.Name, s, sa, mn, mx, tw.Sum, tw.SumAbs, tw.Min, tw.Max)
			}
			for j, v := range tw.First4 {
				if float64(d[j]) != v {
					t.Errorf("%s %s[%d] = %v, want %v", net, tw.Name, j, d[j], v)
				}
			}
		}
	}
	for _, name := range g.f.Names() {
		var net, wn string
		for k := range nets {
			if len(name) > len(k)+1 && name[:len(k)+1] == k+"." {
				net, wn = k, name[len(k)+1:]
			}
		}
		want, shape := g.f32(name)
		got, ok := loaded[net].Tensors[wn]
		if !ok || !sameShape(got.Shape, shape) {
			t.Errorf("%s: not loaded with shape %v", name, shape)
			continue
		}
		for i := range want {
			if math.Float32bits(got.Data[i]) != math.Float32bits(want[i]) {
				t.Errorf("%s[%d] = %v, want %v (bit for bit)", name, i, got.Data[i], want[i])
				break
			}
		}
	}
}

func TestRecognitionFixture(t *testing.T) {
	m := testModels(t)
	g := openGolden(t, "recognition.safetensors")
	worst := 0.0
	for _, id := range imageIDs {
		img := g.image(id + ".input_u8")
		want, _ := g.f32(id + ".input_f32")
		x := normalize(toBatch(img.pixels(), RecognitionSize, true), faceMean)
		if d := maxDiff(t, id+" input_f32", x.D, want); d != 0 {
			t.Errorf("%s: input_f32 differs by %g, want bit-exact", id, d)
		}
		var acts map[string]*fmap
		n := *m.Recognition
		if id == "hq_ffhq_00001" {
			acts = map[string]*fmap{}
			n.trace = func(name string, x *fmap) { acts[name] = x }
		}
		desc := n.Descriptor(img)
		wd, _ := g.f32(id + ".descriptor")
		worst = math.Max(worst, checkClose(t, id+" descriptor", desc[:], wd, tolAct))
		for name, a := range acts {
			key := id + ".act." + name
			if _, ok := g.f.Info(key); !ok {
				continue
			}
			wa, shape := g.f32(key)
			if len(shape) == 4 && (shape[1] != a.H || shape[2] != a.W) || shape[len(shape)-1] != a.C {
				t.Errorf("%s: got %dx%dx%d, want %v", key, a.H, a.W, a.C, shape)
				continue
			}
			d := checkClose(t, key, a.D, wa, tolAct)
			t.Logf("%s: max |diff| %.2g", key, d)
		}
	}
	t.Logf("recognition descriptors: max |diff| %.3g over %d images", worst, len(imageIDs))
}

func TestLandmarkFixture(t *testing.T) {
	m := testModels(t)
	g := openGolden(t, "landmarks.safetensors")
	worstFC, worstPos := 0.0, 0.0
	for _, id := range append(imageIDs, "hq_ffhq_00001_nonsquare") {
		img := g.image(id + ".input_u8")
		want, _ := g.f32(id + ".input_f32")
		x := normalize(toBatch(img.pixels(), LandmarkSize, true), faceMean)
		if d := maxDiff(t, id+" input_f32", x.D, want); d != 0 {
			t.Errorf("%s: input_f32 differs by %g, want bit-exact", id, d)
		}
		n := *m.Landmarks
		acts := map[string]*fmap{}
		n.trace = func(name string, x *fmap) { acts[name] = x }
		fc := n.forward(x)
		wfc, _ := g.f32(id + ".fc_out")
		worstFC = math.Max(worstFC, checkClose(t, id+" fc_out", fc, wfc, tolAct))
		wpp, _ := g.f32(id + ".postprocessed")
		checkClose(t, id+" postprocessed", postProcess(fc, img.W, img.H), wpp, tolAct)

		pts := n.Landmarks(img)
		wpos := g.f64(id + ".positions")
		for i, p := range pts {
			d := math.Max(math.Abs(p.X-wpos[2*i]), math.Abs(p.Y-wpos[2*i+1]))
			worstPos = math.Max(worstPos, d/LandmarkSize)
			if d > tolLm*LandmarkSize {
				t.Errorf("%s: point %d at (%.4f, %.4f), want (%.4f, %.4f)", id, i, p.X, p.Y, wpos[2*i], wpos[2*i+1])
			}
		}
		if id != "hq_ffhq_00001" {
			continue
		}
		for _, c := range []struct {
			act, key string
			y0       int
		}{{"dense0_conv0", "dense0_conv0", 0}, {"dense0", "dense0", 0}} {
			for _, corner := range []string{"tl", "br"} {
				o := 0
				if corner == "br" {
					o = 40
				}
				key := fmt.Sprintf("%s.act.%s.crop_%s", id, c.key, corner)
				wa, _ := g.f32(key)
				checkClose(t, key, cropMap(acts[c.act], o, o, 16), wa, tolAct)
			}
		}
		for _, name := range []string{"dense1", "dense2", "dense3", "bottleneck"} {
			wa, _ := g.f32(id + ".act." + name)
			d := checkClose(t, id+".act."+name, acts[name].D, wa, tolAct)
			t.Logf("%s: max |diff| %.2g", name, d)
		}
	}
	t.Logf("landmarks: fc_out max |diff| %.3g, positions max |diff| %.3g of the input size", worstFC, worstPos)
}

func TestDetectorFixture(t *testing.T) {
	m := testModels(t)
	fj := readFixtureJSON(t)
	g := openGolden(t, "detector.safetensors")
	worstGrid, worstBox := 0.0, 0.0
	keys := []string{"hq_ffhq_00001.s416"}
	for _, id := range imageIDs {
		keys = append(keys, id+".s224")
	}
	for _, key := range keys {
		fx, ok := fj.Detector[key]
		if !ok {
			t.Fatalf("fixtures.json has no detector[%q]", key)
		}
		img := g.image(key + ".input_u8")
		x := normalize(toBatch(img.pixels(), fx.InputSize, false), detectorMean)
		if _, ok := g.f.Info(key + ".input_f32"); ok {
			want, _ := g.f32(key + ".input_f32")
			if d := maxDiff(t, key+" input_f32", x.D, want); d != 0 {
				t.Errorf("%s: input_f32 differs by %g, want bit-exact", key, d)
			}
		}
		d := *m.Detector
		acts := map[string]*fmap{}
		d.trace = func(name string, x *fmap) { acts[name] = x }
		grid := d.forward(x)
		wg, _ := g.f32(key + ".grid")
		worstGrid = math.Max(worstGrid, checkClose(t, key+" grid", grid.D, wg, tolAct))
		if key == "hq_ffhq_00001.s224" {
			for _, c := range []struct {
				act, corner string
				n           int
			}{{"conv0", "tl", 24}, {"conv0", "br", 24}, {"conv1", "tl", 24}, {"conv1", "br", 24}, {"conv3", "tl", 16}} {
				a := acts[c.act]
				o := 0
				if c.corner == "br" {
					o = a.H - c.n
				}
				k := fmt.Sprintf("%s.act.%s.crop_%s", key, c.act, c.corner)
				wa, _ := g.f32(k)
				checkClose(t, k, cropMap(a, o, o, c.n), wa, tolAct)
			}
			for _, name := range []string{"conv4", "conv5_pool"} {
				wa, _ := g.f32(key + ".act." + name)
				checkClose(t, key+".act."+name, acts[name].D, wa, tolAct)
			}
		}
		results := []*detectorResult{&fx.detectorResult}
		if fx.LowThreshold != nil {
			results = append(results, fx.LowThreshold)
		}
		for _, want := range results {
			got, err := m.Detector.Detect(img, DetectOptions{InputSize: fx.InputSize, ScoreThreshold: want.ScoreThreshold})
			if err != nil {
				t.Fatal(err)
			}
			cands := decode(grid, 1, 1, want.ScoreThreshold)
			if len(cands) != len(want.Candidates) {
				t.Errorf("%s @%v: %d candidates, want %d", key, want.ScoreThreshold, len(cands), len(want.Candidates))
			} else {
				for i, c := range want.Candidates {
					gc := cands[i]
					if gc.Row != c.Row || gc.Col != c.Col || gc.Anchor != c.Anchor {
						t.Errorf("%s: candidate %d at %d/%d/%d, want %d/%d/%d", key, i, gc.Row, gc.Col, gc.Anchor, c.Row, c.Col, c.Anchor)
					}
				}
			}
			if len(got) != len(want.Detections) {
				t.Errorf("%s @%v: %d detections, want %d", key, want.ScoreThreshold, len(got), len(want.Detections))
				continue
			}
			for i, wd := range want.Detections {
				gd := got[i]
				if gd.Row != wd.Row || gd.Col != wd.Col || gd.Anchor != wd.Anchor {
					t.Errorf("%s: detection %d at %d/%d/%d, want %d/%d/%d", key, i, gd.Row, gd.Col, gd.Anchor, wd.Row, wd.Col, wd.Anchor)
				}
				r := wd.RelativeBox
				e := math.Max(math.Abs(gd.Score-wd.Score), math.Max(
					math.Max(math.Abs(gd.Relative.X-r.X), math.Abs(gd.Relative.Y-r.Y)),
					math.Max(math.Abs(gd.Relative.W-r.Width), math.Abs(gd.Relative.H-r.Height))))
				worstBox = math.Max(worstBox, e)
				if e > tolBox {
					t.Errorf("%s: detection %d score %v box %+v, want %v %+v", key, i, gd.Score, gd.Relative, wd.Score, r)
				}
				b := wd.BoxInput
				if math.Abs(gd.Box.X-b.X) > tolBox*float64(img.W) || math.Abs(gd.Box.H-b.Height) > tolBox*float64(img.H) {
					t.Errorf("%s: detection %d box %+v, want %+v", key, i, gd.Box, b)
				}
			}
		}
	}
	t.Logf("detector: grid max |diff| %.3g, scores and relative boxes max |diff| %.3g", worstGrid, worstBox)
}

// TestPipelineFixture runs Models.Analyze on the detector inputs against
// face-api's detectAllFaces().withFaceLandmarks().withFaceDescriptors():
// a looser check, as both crops go through bilinear resizing.
func TestPipelineFixture(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	m := testModels(t)
	fj := readFixtureJSON(t)
	g := openGolden(t, "detector.safetensors")
	worstLm, worstDesc := 0.0, 0.0
	for key, want := range fj.Pipeline.Results {
		img := g.image(key + ".input_u8")
		faces, err := m.Analyze(img, DetectOptions{InputSize: fj.Detector[key].InputSize}, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(faces) != len(want) {
			t.Errorf("%s: %d faces, want %d", key, len(faces), len(want))
			continue
		}
		for i, w := range want {
			f := faces[i]
			if math.Abs(f.Detection.Score-w.Score) > tolBox {
				t.Errorf("%s: score %v, want %v", key, f.Detection.Score, w.Score)
			}
			for j, p := range w.Landmarks {
				d := math.Max(math.Abs(f.Landmarks[j].X-p[0]), math.Abs(f.Landmarks[j].Y-p[1]))
				worstLm = math.Max(worstLm, d)
				if d > tolLm*float64(img.W) {
					t.Errorf("%s: landmark %d (%.3f, %.3f), want (%.3f, %.3f)", key, j, f.Landmarks[j].X, f.Landmarks[j].Y, p[0], p[1])
				}
			}
			if a := w.Align; f.Chip != (Rect{a.X, a.Y, a.Width, a.Height}) {
				t.Errorf("%s: dlib chip %+v, want %+v", key, f.Chip, a)
			}
			var wd []float32
			for _, v := range w.Desc {
				wd = append(wd, float32(v))
			}
			worstDesc = math.Max(worstDesc, checkClose(t, key+" descriptor", f.Descriptor[:], wd, tolPipe))
		}
	}
	t.Logf("pipeline: landmarks max |diff| %.3g px, descriptors max |diff| %.3g", worstLm, worstDesc)
}

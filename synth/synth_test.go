package synth

import (
	"fmt"
	"math"
	"testing"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/diffusion/pipeline"
	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/samples"
)

var schedJSON = schedule.DefaultDDPMFile()

// oracle returns a denoiser that knows the clean image x0 (in [-1, 1]) and
// predicts the exact noise of any sample: img2img with it must return x0.
func oracle(t *testing.T, x0 *tensor.Tensor) pipeline.Denoiser {
	sc, err := schedule.ParseConfig(schedJSON)
	if err != nil {
		t.Fatal(err)
	}
	s, err := schedule.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	return func(x *tensor.Tensor, ts []float32) *tensor.Tensor {
		a := float64(s.AlphasCumprod[int(ts[0])])
		out := tensor.New(x.Shape...)
		for i := range out.Data {
			out.Data[i] = float32((float64(x.Data[i]) - math.Sqrt(a)*float64(x0.Data[i])) / math.Sqrt(1-a))
		}
		return out
	}
}

func toTensor(m *raster.Image) *tensor.Tensor {
	x := tensor.New(1, 3, m.H, m.W)
	for i, v := range m.Pix {
		x.Data[i] = 2*v - 1
	}
	return x
}

func TestOracleKeepsImageAndColourOrder(t *testing.T) {
	// A strongly red image: a swap of R and B anywhere in the diffusion
	// path would show at once.
	m := raster.New(3, 32, 32)
	for i := 0; i < 32*32; i++ {
		m.Pix[i] = 0.9                               // R
		m.Pix[32*32+i] = 0.3                         // G
		m.Pix[2*32*32+i] = 0.1 + 0.002*float32(i%32) // B, a ramp
	}
	for _, name := range []string{"unipc", "ddim", "dpmpp", "ddpm"} {
		s, err := New(Options{Model: oracle(t, toTensor(m)), SchedulerConfig: schedJSON, Options: pipeline.Options{Sampler: name, Steps: 50}, MaxStrength: 0.25})
		if err != nil {
			t.Fatal(err)
		}
		for _, strength := range []float64{0.02, 0.25, 0.6} {
			out, run, err := s.Refine(m, strength, rngFor("oracle"))
			if err != nil {
				t.Fatal(err)
			}
			if run.Steps != int(50*strength) || run.StartTimestep < 0 {
				t.Errorf("%s strength %g: %d steps from t=%d", name, strength, run.Steps, run.StartTimestep)
			}
			// The multistep solvers end at the last timestep's noise level
			// (diffusers repeats the final sigma), so a little noise of the
			// start remains; DDPM adds fresh noise at every step. Compare
			// the mean error and each channel's mean.
			var meanErr float64
			var chMean [3]float64
			for i := range out.Pix {
				meanErr += math.Abs(float64(out.Pix[i]-m.Pix[i])) / float64(len(out.Pix))
				chMean[i/(32*32)] += float64(out.Pix[i]-m.Pix[i]) / (32 * 32)
			}
			tol := 0.01
			if name == "ddpm" {
				tol = 0.05
			}
			if meanErr > tol {
				t.Errorf("%s strength %g: output differs from the clean image by %g on average", name, strength, meanErr)
			}
			for c, d := range chMean {
				if math.Abs(d) > tol/2 {
					t.Errorf("%s strength %g: channel %d mean moved by %g", name, strength, c, d)
				}
			}
			if out.At(0, 5, 5) < 0.8 || out.At(2, 5, 5) > 0.3 {
				t.Errorf("%s: colour order changed: R %v B %v", name, out.At(0, 5, 5), out.At(2, 5, 5))
			}
		}
	}
}

func TestPairDeterministicWithProvenance(t *testing.T) {
	cfg, _ := degrade.LoadPreset("official")
	p, _ := degrade.New(cfg)
	hq, _ := samples.Render("bricks", 128, 96, 1)
	// A denoiser that predicts zero noise moves the sample deterministically.
	zero := func(x *tensor.Tensor, ts []float32) *tensor.Tensor { return tensor.New(x.Shape...) }
	s, err := New(Options{Degradation: p, Model: zero, ModelID: pipeline.ID{Name: "zero", SHA256: "00"}, SchedulerConfig: schedJSON, MaxStrength: 0.25, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	hr, init, lq, rec, err := s.Pair(hq, "bricks", 1)
	if err != nil {
		t.Fatal(err)
	}
	if lq.H != hr.H/4 || lq.W != hr.W/4 || init.H != lq.H {
		t.Fatalf("sizes: hr %dx%d init %dx%d lq %dx%d", hr.W, hr.H, init.W, init.H, lq.W, lq.H)
	}
	if rec.Strength < 1.0/50 || rec.Strength > 0.25 || rec.RunSteps < 1 || rec.Model.Name != "zero" || rec.Sampler != "ddim" || rec.FinalSigmas != "" {
		t.Fatalf("record %+v", rec)
	}
	_, _, lq2, rec2, _ := s.Pair(hq, "bricks", 1)
	for i := range lq.Pix {
		if lq.Pix[i] != lq2.Pix[i] {
			t.Fatal("same item and variant gave different LQ images")
		}
	}
	if rec2.Strength != rec.Strength {
		t.Fatal("strength not deterministic")
	}
	_, _, _, rec3, _ := s.Pair(hq, "bricks", 2)
	if rec3.Strength == rec.Strength {
		t.Fatal("variants share a strength")
	}
}

// TestRefineKeyedIsVariantsStep: refining a variant's initial image with
// RefineKeyed under the synthesizer's seed gives Variant's LQ image and
// record; another seed draws another strength.
func TestRefineKeyedIsVariantsStep(t *testing.T) {
	cfg, _ := degrade.LoadPreset("official")
	p, _ := degrade.New(cfg)
	hq, _ := samples.Render("bricks", 128, 96, 1)
	// A denoiser whose prediction depends on its input, so that the noise
	// and strength show in the output.
	half := func(x *tensor.Tensor, ts []float32) *tensor.Tensor {
		out := tensor.New(x.Shape...)
		for i, v := range x.Data {
			out.Data[i] = 0.5 * v
		}
		return out
	}
	s, err := New(Options{Degradation: p, Model: half, ModelID: pipeline.ID{Name: "half", SHA256: "01"}, SchedulerConfig: schedJSON, MaxStrength: 0.25, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	_, init, lq, rec, err := s.Pair(hq, "bricks", 1)
	if err != nil {
		t.Fatal(err)
	}
	got, grec, err := s.RefineKeyed(init, 9, "bricks", 1, Record{Record: rec.Record})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(grec) != fmt.Sprint(rec) {
		t.Errorf("records differ:\n%+v\n%+v", grec, rec)
	}
	for i := range lq.Pix {
		if got.Pix[i] != lq.Pix[i] {
			t.Fatalf("pixel %d: %v, Variant made %v", i, got.Pix[i], lq.Pix[i])
		}
	}
	if _, other, _ := s.RefineKeyed(init, 10, "bricks", 1, Record{}); other.Strength == rec.Strength {
		t.Error("another seed drew the same strength")
	}
}

func TestCropsLikeBasicSR(t *testing.T) {
	// 1000 x 700 with crop 480, step 240, thresh 0: rows 0, 240, 480(+520
	// flush); columns 0, 220 (flush).
	boxes := Crops(1000, 700, 480, 240, 0)
	var ys, xs []int
	for _, b := range boxes {
		if b[1] == 0 {
			ys = append(ys, b[0])
		}
		if b[0] == 0 {
			xs = append(xs, b[1])
		}
	}
	if fmt.Sprint(ys) != "[0 240 480 520]" || fmt.Sprint(xs) != "[0 220]" || len(boxes) != 8 {
		t.Fatalf("rows %v cols %v (%d boxes)", ys, xs, len(boxes))
	}
	if Crops(400, 700, 480, 240, 0) != nil {
		t.Fatal("an image smaller than the crop gave crops")
	}
	// A remainder of at most thresh is dropped.
	if n := len(Crops(500, 480, 480, 240, 20)); n != 1 {
		t.Fatalf("remainder 20 <= thresh 20: %d boxes, want 1", n)
	}
}

func TestShard(t *testing.T) {
	// Issue 12 case 12: trailing text was accepted.
	for _, bad := range []string{"3/3", "0/2abc", "0 /2", "1", "-1/2", "1/0", "+1/2", "0/2/3"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	sh, err := ParseShard("1/3")
	if err != nil || !sh.Has(4) || sh.Has(3) {
		t.Fatalf("%v %v", sh, err)
	}
}

// MaxStrength 0 skips the diffusion step: the LQ image is the initial one.
func TestMaxStrengthZeroKeepsInitialLQ(t *testing.T) {
	cfg, _ := degrade.LoadPreset("official")
	p, _ := degrade.New(cfg)
	hq, _ := samples.Render("bricks", 64, 64, 1)
	calls := 0
	count := func(x *tensor.Tensor, ts []float32) *tensor.Tensor { calls++; return tensor.New(x.Shape...) }
	s, err := New(Options{Degradation: p, Model: count, SchedulerConfig: schedJSON, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	_, init, lq, rec, err := s.Pair(hq, "bricks", 0)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 0 || rec.Strength != 0 || rec.RunSteps != 0 || rec.StartTimestep != -1 {
		t.Fatalf("%d model calls, record %+v", calls, rec)
	}
	for i := range lq.Pix {
		if lq.Pix[i] != init.Pix[i] {
			t.Fatal("the LQ image differs from the initial one")
		}
	}
}

func TestDefaultOptions(t *testing.T) {
	o := DefaultOptions()
	if o.MaxStrength != 0.25 || o.Sampler != "ddim" || o.Steps != 50 || o.FinalSigmas != "zero" || o.Tile != 256 || o.Overlap != 32 {
		t.Fatalf("defaults %+v", o)
	}
}

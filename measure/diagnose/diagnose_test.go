package diagnose

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/degrade/blur"
	"github.com/degradiff/degradiff/measure"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// texture returns a 64x64 noisy gradient image keyed by name.
func texture(name string) *raster.Image {
	r := rng.New(7, "texture", name)
	m := raster.New(3, 64, 64)
	for c := 0; c < 3; c++ {
		for y := 0; y < 64; y++ {
			for x := 0; x < 64; x++ {
				v := 0.3 + 0.4*float64(x+y)/128 + 0.05*r.Norm() + 0.05*float64(c)
				m.Set(c, y, x, float32(math.Min(math.Max(v, 0), 1)))
			}
		}
	}
	return m
}

func set(prefix string, n int) []measure.Image {
	var out []measure.Image
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%s%02d", prefix, i)
		out = append(out, measure.Image{Name: name, Image: texture(name)})
	}
	return out
}

var fastGap = measure.Options{SkipC2ST: true}

func identity(m *raster.Image, s float64, name string) (*raster.Image, error) { return m.Clone(), nil }

// smear blurs more at higher strength: content is lost as strength grows.
func smear(m *raster.Image, s float64, name string) (*raster.Image, error) {
	sigma := 0.2 + 8*s
	return blur.Filter2D(m, blur.Gaussian(2*int(math.Ceil(3*sigma))+1, sigma, sigma, 0, true)), nil
}

func TestSelfConsistencyIdentityStaysAtReference(t *testing.T) {
	res, err := SelfConsistency(set("r", 12), identity, Options{Gap: fastGap})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.HalfA) != 6 || len(res.HalfB) != 6 {
		t.Fatalf("halves %d and %d, want 6 and 6", len(res.HalfA), len(res.HalfB))
	}
	if len(res.Points) != len(DefaultStrengths) {
		t.Fatalf("%d points, want %d", len(res.Points), len(DefaultStrengths))
	}
	for _, p := range res.Points {
		if p.Realism.FD != res.Reference.FD {
			t.Errorf("strength %g: FD %v, want the reference %v for an identity refiner", p.Strength, p.Realism.FD, res.Reference.FD)
		}
		if p.Fidelity.PSNR != maxPSNR || p.Fidelity.LowPSNRMin != maxPSNR || p.Fidelity.SSIM != 1 {
			t.Errorf("strength %g: fidelity %+v, want perfect", p.Strength, p.Fidelity)
		}
	}
}

func TestRealismFidelityOrdersStrengths(t *testing.T) {
	c, err := RealismFidelity("smear", set("i", 6), measure.Images(set("r", 8)), smear, Options{Gap: fastGap, Uniform: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(DefaultStrengths) + 2; len(c.Points) != n {
		t.Fatalf("%d points, want %d (strength 0, the strengths, uniform)", len(c.Points), n)
	}
	if c.Points[0].Strength != 0 || c.Points[0].Fidelity.LowPSNR != maxPSNR {
		t.Errorf("first point %+v, want the initial images at strength 0", c.Points[0])
	}
	last := c.Points[len(c.Points)-1]
	if !last.Uniform || last.Label() != "U[0,0.25]" {
		t.Errorf("last point %+v, want the uniform draw", last)
	}
	// A stronger smear loses more content, plainly and after the low-pass.
	for i := 2; i < len(c.Points)-1; i++ {
		a, b := c.Points[i-1].Fidelity, c.Points[i].Fidelity
		if !(b.PSNR < a.PSNR && b.LowPSNR < a.LowPSNR && b.LowPSNRMin <= b.LowPSNR) {
			t.Errorf("strength %g: fidelity %+v not below strength %g's %+v", c.Points[i].Strength, b, c.Points[i-1].Strength, a)
		}
	}
	// The low-pass ignores fine detail: it forgives the smear more.
	if p := c.Points[1].Fidelity; !(p.LowPSNR > p.PSNR) {
		t.Errorf("low-pass PSNR %v not above plain %v", p.LowPSNR, p.PSNR)
	}
}

func TestHalvesIndependentOfOrder(t *testing.T) {
	imgs := set("h", 9)
	a1, _ := halves(imgs, 3)
	rev := append([]measure.Image(nil), imgs...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	a2, b2 := halves(rev, 3)
	if len(a2) != 4 || len(b2) != 5 {
		t.Fatalf("halves of 9: %d and %d", len(a2), len(b2))
	}
	in := map[string]bool{}
	for _, m := range a1 {
		in[m.Name] = true
	}
	for _, m := range a2 {
		if !in[m.Name] {
			t.Errorf("%s is in half A only when the input is reversed", m.Name)
		}
	}
}

func TestOptionsRejected(t *testing.T) {
	for _, o := range []Options{
		{Strengths: []float64{0}}, {Strengths: []float64{1.5}}, {Strengths: []float64{math.NaN()}},
		{Uniform: -0.1}, {LowPassSigma: -1}, {LowPassSigma: math.Inf(1)},
	} {
		if _, err := SelfConsistency(set("r", 4), identity, o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
	if _, err := SelfConsistency(set("r", 3), identity, Options{Gap: fastGap}); err == nil {
		t.Error("3 real images accepted")
	}
}

func TestRefinerErrorNamesImage(t *testing.T) {
	bad := func(m *raster.Image, s float64, name string) (*raster.Image, error) { return nil, fmt.Errorf("boom") }
	_, err := RealismFidelity("m", set("i", 2), measure.Images(set("r", 4)), bad, Options{Gap: fastGap})
	if err == nil || !strings.Contains(err.Error(), "i00") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("error %v, want the image name and the cause", err)
	}
}

func TestMarkdownAndCharts(t *testing.T) {
	sc, err := SelfConsistency(set("r", 8), smear, Options{Gap: fastGap, Strengths: []float64{0.1, 0.2}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := RealismFidelity("smear", set("i", 4), measure.Images(set("r", 8)), smear, Options{Gap: fastGap, Strengths: []float64{0.1, 0.2}})
	if err != nil {
		t.Fatal(err)
	}
	models := []Model{{Name: "smear", SelfConsistency: sc, Curve: c}}
	var b bytes.Buffer
	if err := WriteMarkdown(&b, models); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"### Self-consistency: smear", "reference (real vs real)", "### Realism–fidelity: smear", "| 0.2 |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, b.String())
		}
	}
	charts := Charts(models)
	if _, ok := charts["realism-fidelity-fd.png"]; !ok {
		t.Errorf("charts %v lack the realism-fidelity chart", charts)
	}
	if _, ok := charts["realism-fidelity-c2st.png"]; ok {
		t.Error("a classifier chart without classifier results")
	}
	if s := charts["realism-fidelity-fd.png"].Series[0]; len(s.X) != 2 {
		t.Errorf("curve has %d points, want 2 (strength 0 left out)", len(s.X))
	}
}

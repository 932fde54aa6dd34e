package measure

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/degrade/noise"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/measure/c2st"
	"github.com/degradiff/degradiff/measure/features"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
	"github.com/degradiff/degradiff/samples"
)

// render returns n images of random scenes (seeds from first on), with
// Gaussian noise of sigma levels if sigma > 0.
func render(t testing.TB, n int, first uint64, size int, sigma float64) []Image {
	t.Helper()
	out := make([]Image, n)
	for i := range out {
		seed := first + uint64(i)
		scene := samples.Names[rng.New(seed, "scene").Intn(len(samples.Names))]
		m, err := samples.Render(scene, size, size, seed)
		if err != nil {
			t.Fatal(err)
		}
		if sigma > 0 {
			m = noise.AddGaussian(m, noise.GaussianParams{Sigma: sigma, Clip: true, Rounds: true}, rng.New(seed, "noise"))
		}
		out[i] = Image{Name: fmt.Sprintf("img%03d", seed), Image: m}
	}
	return out
}

// fast leaves the classifier test out and takes 4 crops per image.
var fast = Options{Features: features.Options{Patches: 4}, SkipC2ST: true, Seed: 3}

func effect(r Report, name string) float64 {
	for _, f := range r.Features {
		if f.Name == name {
			return f.Effect
		}
	}
	panic(name)
}

func TestGapOrdersDistances(t *testing.T) {
	clean := render(t, 16, 0, 96, 0)
	cleanToo := render(t, 16, 100, 96, 0)
	noisy5 := render(t, 16, 200, 96, 5)
	noisy15 := render(t, 16, 300, 96, 15)
	var prev Report
	for i, synth := range [][]Image{cleanToo, noisy5, noisy15} {
		r, err := Gap(Images(clean), Images(synth), fast)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("synth %d: KID %.4f ± %.4f, FD %.3f, noise_luma effect %.2f", i, r.KID.Mean, r.KID.Std, r.FD, effect(r, "noise_luma"))
		if r.Real.Images != 16 || r.Synth.Images != 16 || r.Real.Patches != 64 || r.C2ST != nil || len(r.Skipped) != 0 {
			t.Errorf("synth %d: bookkeeping %+v %+v skipped %v", i, r.Real, r.Synth, r.Skipped)
		}
		if i > 0 && !(r.KID.Mean > prev.KID.Mean && r.FD > prev.FD && effect(r, "noise_luma") > effect(prev, "noise_luma")) {
			t.Errorf("synth %d: KID %v FD %v not above the previous %v %v", i, r.KID.Mean, r.FD, prev.KID.Mean, prev.FD)
		}
		prev = r
	}
	if e := effect(prev, "noise_luma"); e < 0.5 {
		t.Errorf("noise 15: noise_luma effect %v, want well above 0", e)
	}
}

func TestGapWithC2ST(t *testing.T) {
	opt := Options{
		Features: features.Options{Patches: 2},
		C2ST:     c2st.Options{Patches: 8, Splits: 3, Steps: 60},
		Seed:     1,
	}
	var stages []string
	opt.Progress = func(stage string, done, total int) {
		if len(stages) == 0 || stages[len(stages)-1] != stage {
			stages = append(stages, stage)
		}
	}
	r, err := Gap(Images(render(t, 8, 0, 64, 0)), Images(render(t, 8, 100, 64, 20)), opt)
	if err != nil {
		t.Fatal(err)
	}
	if r.C2ST == nil || len(r.C2ST.SplitAccuracies) != 3 || r.C2ST.ImagesPerSet != 8 {
		t.Fatalf("C2ST result %+v", r.C2ST)
	}
	if strings.Join(stages, ",") != "images,c2st" {
		t.Errorf("progress stages %v", stages)
	}
	if r.Options.C2ST.Seed != 1 || r.Options.Features.Seed != 1 || r.Options.KID.Seed != 1 || r.Options.Features.PatchSize != 64 {
		t.Errorf("options in the report: %+v", r.Options)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"kid":{"mean"`, `"fd":`, `"c2st":{"accuracy"`, `"ci_low"`, `"features":[{"name":"noise_luma"`, `"options":`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
}

type failing struct{ images }

func (f failing) Load(i int) (*raster.Image, error) {
	if i == 1 {
		return nil, errors.New("broken file")
	}
	return f.images.Load(i)
}

func TestSkipped(t *testing.T) {
	real := render(t, 4, 0, 64, 0)
	real = append(real, Image{Name: "tiny", Image: raster.New(3, 40, 90)})
	synth := failing{images(render(t, 3, 10, 64, 5))}
	r, err := Gap(Images(real), synth, fast)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Skipped) != 2 || r.Skipped[0].Name != "tiny" || r.Skipped[0].Set != "real" ||
		r.Skipped[1].Name != "img011" || r.Skipped[1].Set != "synth" || !strings.Contains(r.Skipped[1].Reason, "broken") {
		t.Errorf("skipped %+v", r.Skipped)
	}
	if r.Real.Images != 4 || r.Synth.Images != 2 {
		t.Errorf("counts %+v %+v", r.Real, r.Synth)
	}
	if _, err := Gap(Images(real[:1]), synth, fast); !errors.Is(err, ErrTooFew) {
		t.Errorf("one real image: %v, want ErrTooFew", err)
	}
	bad := fast
	bad.Features.PatchSize = 48
	if _, err := Gap(Images(real), synth, bad); err == nil {
		t.Errorf("invalid patch size: no error")
	}
}

// Reading the same images from PNG files gives the same report: features
// work on 8-bit values, as saved.
func TestDir(t *testing.T) {
	real, synth := render(t, 5, 0, 64, 0), render(t, 5, 50, 64, 8)
	root := t.TempDir()
	for _, s := range []struct {
		dir  string
		imgs []Image
	}{{"real", real}, {"synth", synth}} {
		for _, im := range s.imgs {
			if err := imageio.Save(filepath.Join(root, s.dir, im.Name+".png"), im.Image, imageio.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	rs, err := Dir(filepath.Join(root, "real"))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := Dir(filepath.Join(root, "synth"))
	if err != nil {
		t.Fatal(err)
	}
	fromFiles, err := Gap(rs, ss, fast)
	if err != nil {
		t.Fatal(err)
	}
	inMemory, err := Gap(Images(real), Images(synth), fast)
	if err != nil {
		t.Fatal(err)
	}
	if fromFiles.KID != inMemory.KID || fromFiles.FD != inMemory.FD {
		t.Errorf("files: KID %+v FD %v; memory: KID %+v FD %v", fromFiles.KID, fromFiles.FD, inMemory.KID, inMemory.FD)
	}
	if _, err := Dir(filepath.Join(root, "missing")); err == nil {
		t.Errorf("missing folder: no error")
	}
}

func TestDeterministic(t *testing.T) {
	a, b := render(t, 6, 0, 64, 0), render(t, 6, 20, 64, 10)
	old := runtime.GOMAXPROCS(1)
	r1, _ := Gap(Images(a), Images(b), fast)
	runtime.GOMAXPROCS(max(old, 3))
	r2, _ := Gap(Images(a), Images(b), fast)
	runtime.GOMAXPROCS(old)
	j1, _ := json.Marshal(r1)
	j2, _ := json.Marshal(r2)
	if string(j1) != string(j2) {
		t.Errorf("reports differ between 1 and several workers")
	}
	other := fast
	other.Seed = 4
	if r3, _ := Gap(Images(a), Images(b), other); r3.KID == r1.KID {
		t.Errorf("another seed gave the same KID")
	}
}

func TestFeatureGaps(t *testing.T) {
	x := [][]float64{make([]float64, features.Dim), make([]float64, features.Dim)}
	y := [][]float64{make([]float64, features.Dim), make([]float64, features.Dim)}
	x[0][0], x[1][0] = 1, 3 // real mean 2
	y[0][0], y[1][0] = 5, 7 // synth mean 6; pooled sd √5
	g := featureGaps(x, y)
	if g[0].Name != "noise_luma" || g[0].RealMean != 2 || g[0].SynthMean != 6 || math.Abs(g[0].Effect-4/math.Sqrt(5)) > 1e-12 {
		t.Errorf("feature 0: %+v", g[0])
	}
	if g[1].Effect != 0 {
		t.Errorf("constant feature: effect %v", g[1].Effect)
	}
}

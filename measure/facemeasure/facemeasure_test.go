package facemeasure

import (
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/degradiff/degradiff/degrade/blur"
	"github.com/degradiff/degradiff/degrade/resize"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/fixture"
	"github.com/degradiff/degradiff/raster"
)

var (
	loadOnce sync.Once
	measurer *Measurer
	loadErr  error
)

// load returns the networks from ../shared/models/face-api, skipping the
// test without ../shared.
func load(t *testing.T) *Measurer {
	t.Helper()
	dir := fixture.Dir(t, "models", "face-api")
	loadOnce.Do(func() { measurer, loadErr = Load(dir) })
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return measurer
}

// face returns an HQ face of ../shared/data/hq/faces resized to size.
func face(t *testing.T, name string, size int) *raster.Image {
	t.Helper()
	m, _, err := imageio.Load(filepath.Join(fixture.Dir(t, "data", "hq", "faces"), name), imageio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return resize.OpenCV(m, size, size, resize.InterArea)
}

// shift returns img moved right and down by d pixels, its edge repeated.
func shift(img *raster.Image, d int) *raster.Image {
	out := raster.New(img.C, img.H, img.W)
	for c := 0; c < img.C; c++ {
		for y := 0; y < img.H; y++ {
			for x := 0; x < img.W; x++ {
				out.Pix[(c*img.H+y)*img.W+x] = img.Pix[(c*img.H+max(y-d, 0))*img.W+max(x-d, 0)]
			}
		}
	}
	return out
}

func TestMeasures(t *testing.T) {
	m := load(t)
	a := face(t, "GPEN_ffhq5/00000.png", 128)
	other := face(t, "GPEN_ffhq5/00001.png", 128)
	k := blur.Gaussian(9, 1.5, 1.5, 0, true)
	blurred := blur.Filter2D(a, k)
	fa := m.Face(a)
	for _, tc := range []struct {
		name           string
		img            *raster.Image
		idLo, idHi     float64
		distLo, distHi float64
	}{
		{"itself", a, 1 - 1e-9, 1 + 1e-9, 0, 0},
		{"itself at 256 pixels", face(t, "GPEN_ffhq5/00000.png", 256), 0.97, 1, 0, 0.01},
		{"blurred", blurred, 0.9, 1, 0, 0.015},
		{"shifted by 6 pixels", shift(a, 6), 0.8, 1, 6 * math.Sqrt2 / 128 * 0.6, 6 * math.Sqrt2 / 128 * 1.3},
		{"another person", other, -1, 0.88, 0.01, 1},
	} {
		s := Score(m.Face(tc.img), fa)
		t.Logf("%s: identity %.4f, landmark distance %.4f", tc.name, s.Identity, s.LandmarkDistance)
		if s.Identity < tc.idLo || s.Identity > tc.idHi {
			t.Errorf("%s: identity %.4f, want [%.3f, %.3f]", tc.name, s.Identity, tc.idLo, tc.idHi)
		}
		if s.LandmarkDistance < tc.distLo || s.LandmarkDistance > tc.distHi {
			t.Errorf("%s: landmark distance %.4f, want [%.4f, %.4f]", tc.name, s.LandmarkDistance, tc.distLo, tc.distHi)
		}
		if c := m.Compare(tc.img, a); c != s {
			t.Errorf("%s: Compare %+v, Score %+v", tc.name, c, s)
		}
	}
	// The landmarks are fractions of the image: the eye centres of an
	// aligned face lie near FFHQ's template (0.375, 0.47) and (0.625, 0.47).
	eye := func(from, to int) (x, y float64) {
		for i := from; i < to; i++ {
			x += fa.Landmarks[i].X / float64(to-from)
			y += fa.Landmarks[i].Y / float64(to-from)
		}
		return
	}
	lx, ly := eye(36, 42)
	rx, ry := eye(42, 48)
	if math.Abs(lx-0.375) > 0.03 || math.Abs(rx-0.625) > 0.03 || math.Abs(ly-0.47) > 0.04 || math.Abs(ry-0.47) > 0.04 {
		t.Errorf("eye centres (%.3f, %.3f) and (%.3f, %.3f), want near (0.375, 0.47) and (0.625, 0.47)", lx, ly, rx, ry)
	}
}

func TestMean(t *testing.T) {
	for _, tc := range []struct {
		in   []Scores
		want Scores
	}{
		{nil, Scores{}},
		{[]Scores{{0.9, 0.01}}, Scores{0.9, 0.01}},
		{[]Scores{{0.9, 0.01}, {0.7, 0.03}}, Scores{0.8, 0.02}},
	} {
		got := Mean(tc.in)
		if math.Abs(got.Identity-tc.want.Identity) > 1e-12 || math.Abs(got.LandmarkDistance-tc.want.LandmarkDistance) > 1e-12 {
			t.Errorf("Mean(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	for dir, want := range map[string]string{
		"":                                   "no weights folder",
		filepath.Join(t.TempDir(), "absent"): "face_landmark_68_model",
	} {
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%q): %v, want an error mentioning %q", dir, err, want)
		}
	}
}

package faceapi

import (
	"errors"
	"math"
	"testing"

	"github.com/degradiff/degradiff/raster"
)

func TestPrepareFixture(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	m := testModels(t)
	g := openGolden(t, "detector.safetensors")
	img := g.image("hq_ffhq_00003.s224.input_u8").ToRaster()

	out, rep, err := m.Prepare(img, PrepareOptions{Size: 256})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Aligned || out.W != 256 || rep.Misalignment > 0.1 || rep.Face != nil {
		t.Errorf("aligned crop: %dx%d, %+v", out.W, out.H, rep)
	}

	move := similarity(0.6, 25*math.Pi/180, 110, 30)
	moved, err := WarpAffine(img, move, 320, 320, FFHQBorder)
	if err != nil {
		t.Fatal(err)
	}
	out, rep, err = m.Prepare(moved, PrepareOptions{Size: 224, Method: AlignFFHQ})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Aligned || rep.Face == nil || rep.Faces != 1 || out.W != 224 || !(rep.Misalignment > 0.1) {
		t.Errorf("moved face: %dx%d, %+v", out.W, out.H, rep)
	}
	// The preparation undoes the move: compare with the aligned crop's own
	// alignment.
	direct, err := AlignTransform(m.Landmarks.AlignedLandmarks(FromRaster(img)), 224, AlignFFHQ)
	if err != nil {
		t.Fatal(err)
	}
	comp := compose(rep.Transform, move)
	var worst float64
	for _, p := range []Point{{0, 0}, {224, 0}, {0, 224}, {224, 224}} {
		a, b := comp.Apply(p), direct.Apply(p)
		worst = math.Max(worst, math.Hypot(a.X-b.X, a.Y-b.Y))
	}
	t.Logf("moved face prepared within %.2f px of the aligned crop's alignment", worst)
	if worst > 8 {
		t.Errorf("moved face prepared %.2f px off", worst)
	}

	// A slightly moved face that the detector misses (an impossible score
	// threshold) is placed by its chip's landmarks.
	near := similarity(0.9, 8*math.Pi/180, 30, -5)
	nearImg, err := WarpAffine(img, near, 224, 224, FFHQBorder)
	if err != nil {
		t.Fatal(err)
	}
	_, rep, err = m.Prepare(nearImg, PrepareOptions{Size: 224, Method: AlignFFHQ, Detect: DetectOptions{InputSize: 224, ScoreThreshold: 0.999999}})
	if err != nil {
		t.Fatal(err)
	}
	comp = compose(rep.Transform, near)
	worst = 0
	for _, p := range []Point{{0, 0}, {224, 0}, {0, 224}, {224, 224}} {
		a, b := comp.Apply(p), direct.Apply(p)
		worst = math.Max(worst, math.Hypot(a.X-b.X, a.Y-b.Y))
	}
	t.Logf("near-aligned face (misalignment %.3f) placed from its chip within %.2f px", rep.Misalignment, worst)
	if !rep.FromChip || rep.Misalignment <= 0.1 || worst > 8 {
		t.Errorf("near-aligned face: %+v, %.2f px off", rep, worst)
	}

	if _, _, err := m.Prepare(moved, PrepareOptions{MinFace: 1000}); !errors.Is(err, ErrSmallFace) {
		t.Errorf("MinFace 1000: error %v, want ErrSmallFace", err)
	}
	flat := raster.New(3, 100, 140)
	for i := range flat.Pix {
		flat.Pix[i] = 0.3
	}
	if _, rep, err := m.Prepare(flat, PrepareOptions{}); !errors.Is(err, ErrNoFace) || !math.IsInf(rep.Misalignment, 1) {
		t.Errorf("flat non-square image: %+v, %v; want ErrNoFace", rep, err)
	}
}

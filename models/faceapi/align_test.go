package faceapi

import (
	"errors"
	"math"
	"testing"

	"github.com/degradiff/degradiff/raster"
)

// similarity returns the map x -> s*R(theta)*x + t.
func similarity(s, theta, tx, ty float64) Affine {
	c, sn := s*math.Cos(theta), s*math.Sin(theta)
	return Affine{c, -sn, tx, sn, c, ty}
}

func TestEstimateSimilarity(t *testing.T) {
	want := similarity(1.7, 0.3, 12, -5)
	src := FFHQTemplate512[:]
	var dst []Point
	for _, p := range src {
		dst = append(dst, want.Apply(p))
	}
	got, err := EstimateSimilarity(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-9 {
			t.Fatalf("EstimateSimilarity = %v, want %v", got, want)
		}
	}
	if math.Abs(got.Scale()-1.7) > 1e-12 || math.Abs(got.Rotation()-0.3) > 1e-12 {
		t.Errorf("scale %v rotation %v, want 1.7 and 0.3", got.Scale(), got.Rotation())
	}
	inv, err := got.Invert()
	if err != nil {
		t.Fatal(err)
	}
	p := inv.Apply(got.Apply(Point{3, 4}))
	if math.Abs(p.X-3) > 1e-12 || math.Abs(p.Y-4) > 1e-12 {
		t.Errorf("inverse round trip gives %v", p)
	}
	if _, err := EstimateSimilarity([]Point{{1, 1}, {1, 1}}, []Point{{0, 0}, {1, 1}}); err == nil {
		t.Error("coincident points accepted")
	}
	if _, err := (Affine{}).Invert(); err == nil {
		t.Error("singular map inverted")
	}
}

func TestWarpAffine(t *testing.T) {
	img := raster.New(1, 4, 5)
	for i := range img.Pix {
		img.Pix[i] = float32(i)
	}
	border := []float32{-1}
	// Identity: the same image.
	out, err := WarpAffine(img, Affine{1, 0, 0, 0, 1, 0}, 5, 4, border)
	if err != nil {
		t.Fatal(err)
	}
	if maxDiff(t, "identity", out.Pix, img.Pix) != 0 {
		t.Errorf("identity warp changed the image: %v", out.Pix)
	}
	// Shift right by 1 and by half a pixel.
	out, _ = WarpAffine(img, Affine{1, 0, 1, 0, 1, 0}, 5, 4, border)
	if got, want := out.Pix[:5], []float32{-1, 0, 1, 2, 3}; maxDiff(t, "shift", got, want) != 0 {
		t.Errorf("shifted row %v, want %v", got, want)
	}
	out, _ = WarpAffine(img, Affine{1, 0, -0.5, 0, 1, 0}, 5, 4, border)
	if got, want := out.Pix[:5], []float32{0.5, 1.5, 2.5, 3.5, 1.5}; maxDiff(t, "half", got, want) > 1e-6 {
		t.Errorf("half-shifted row %v, want %v (the last blends with the border)", got, want)
	}
	if _, err := WarpAffine(img, Affine{1, 0, 0, 0, 1, 0}, 5, 4, []float32{0, 0, 0}); err == nil {
		t.Error("wrong number of border values accepted")
	}
}

func TestAlignSynthetic(t *testing.T) {
	// Landmarks placed exactly on the 256 template (the eye points at the
	// eye centres, the nose tip and mouth corners on theirs; face-api's
	// coordinates are OpenCV's plus half a pixel) align to a pure 2x
	// scaling at 512.
	var lm [NumLandmarks]Point
	tp := FFHQTemplate(256)
	for i := range tp {
		tp[i].X += 0.5
		tp[i].Y += 0.5
	}
	for i := 36; i < 42; i++ {
		lm[i] = tp[0]
	}
	for i := 42; i < 48; i++ {
		lm[i] = tp[1]
	}
	lm[30], lm[48], lm[54] = tp[2], tp[3], tp[4]
	if e := Misalignment(lm, 256, 256, AlignFacexlib); e > 1e-12 {
		t.Errorf("Misalignment on the template = %v", e)
	}
	img := raster.New(3, 256, 256)
	for i := range img.Pix {
		img.Pix[i] = float32(i%251) / 251
	}
	out, m, err := Align(img, lm, 512, AlignFacexlib)
	if err != nil {
		t.Fatal(err)
	}
	if out.W != 512 || out.H != 512 || math.Abs(m.Scale()-2) > 1e-9 || math.Abs(m.Rotation()) > 1e-9 || math.Abs(m[2]+0.5) > 1e-9 || math.Abs(m[5]+0.5) > 1e-9 {
		t.Errorf("aligned %dx%d with %v, want 512x512 with a 2x scaling", out.W, out.H, m)
	}
	if math.Abs(float64(out.At(1, 100, 100)-img.At(1, 50, 50))) > 1e-6 {
		t.Errorf("pixel (100, 100) = %v, want the source's (50, 50) %v", out.At(1, 100, 100), img.At(1, 50, 50))
	}

	// Shrinking by 4 box-filters first: a 2x2 checkerboard becomes flat.
	for i := range img.Pix {
		img.Pix[i] = float32((i/256 + i%256) % 2)
	}
	small, _, err := Align(img, lm, 64, AlignFacexlib)
	if err != nil {
		t.Fatal(err)
	}
	if v := small.At(0, 32, 32); math.Abs(float64(v)-0.5) > 1e-6 {
		t.Errorf("shrunk checkerboard centre = %v, want 0.5", v)
	}

	// AlignFFHQ: a face whose square is the whole image is aligned to itself.
	if _, err := ParseAlignMethod("dlib"); err == nil {
		t.Error("ParseAlignMethod accepted dlib")
	}
	if a, err := ParseAlignMethod(AlignFFHQ.String()); err != nil || a != AlignFFHQ {
		t.Errorf("ParseAlignMethod(%q) = %v, %v", AlignFFHQ, a, err)
	}
	var sq [NumLandmarks]Point
	// Eyes 50 apart at y = 95 and the mouth 50 below: the centre is at
	// (100, 95 + 0.1*50) and the half side max(2*50, 1.8*50) = 100, so the
	// square is [0, 200]^2.
	for i := 36; i < 42; i++ {
		sq[i] = Point{75, 95}
	}
	for i := 42; i < 48; i++ {
		sq[i] = Point{125, 95}
	}
	sq[48], sq[54] = Point{85, 145}, Point{115, 145}
	m, err = AlignTransform(sq, 200, AlignFFHQ)
	if err != nil {
		t.Fatal(err)
	}
	if e := Misalignment(sq, 200, 200, AlignFFHQ); e > 1e-12 {
		t.Errorf("AlignFFHQ of a centred face: %v (misalignment %v)", m, e)
	}
}

// TestAlignFixture aligns the fixtures' detector inputs (FFHQ-style aligned
// faces at 224x224) and the same faces rotated, shrunk and moved inside a
// larger canvas: the aligned faces are near their own alignment, and
// re-aligning the moved face undoes the move.
func TestAlignFixture(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	m := testModels(t)
	g := openGolden(t, "detector.safetensors")
	opt := DetectOptions{InputSize: 224}
	for _, id := range imageIDs[:3] {
		img := g.image(id + ".s224.input_u8").ToRaster()
		for _, method := range []AlignMethod{AlignFacexlib, AlignFFHQ} {
			faces, err := m.AlignFaces(img, AlignOptions{Size: 224, Method: method, Detect: opt})
			if err != nil {
				t.Fatal(err)
			}
			f := faces[0]
			e := Misalignment(f.Landmarks, 224, 224, method)
			t.Logf("%s %v: misalignment %.3f of the size, scale %.3f, rotation %.2f deg", id, method, e, f.Transform.Scale(), f.Transform.Rotation()*180/math.Pi)
			if e > 0.1 {
				t.Errorf("%s %v: an aligned face is %.3f misaligned", id, method, e)
			}

			// Move the face: rotate by 20 degrees, shrink to 0.7, into
			// 320x320. The detector finds it at input size 160.
			move := similarity(0.7, 20*math.Pi/180, 90, 40)
			moved, err := WarpAffine(img, move, 320, 320, FFHQBorder)
			if err != nil {
				t.Fatal(err)
			}
			mf, err := m.AlignFaces(moved, AlignOptions{Size: 224, Method: method, Detect: DetectOptions{InputSize: 160}})
			if err != nil {
				t.Fatal(err)
			}
			// mf[0].Transform o move should be close to f.Transform.
			comp := compose(mf[0].Transform, move)
			var worst float64
			for _, p := range []Point{{0, 0}, {224, 0}, {0, 224}, {224, 224}} {
				a, b := comp.Apply(p), f.Transform.Apply(p)
				worst = math.Max(worst, math.Hypot(a.X-b.X, a.Y-b.Y))
			}
			t.Logf("%s %v: moved face re-aligned within %.2f px of the direct alignment", id, method, worst)
			if worst > 5 {
				t.Errorf("%s %v: re-aligned moved face is %.2f px off", id, method, worst)
			}
		}
	}

	// No face: a flat gray image.
	flat := raster.New(3, 128, 128)
	for i := range flat.Pix {
		flat.Pix[i] = 0.5
	}
	if _, err := m.AlignFaces(flat, AlignOptions{Detect: opt}); !errors.Is(err, ErrNoFace) {
		t.Errorf("flat image: error %v, want ErrNoFace", err)
	}
}

// compose returns a o b (b first).
func compose(a, b Affine) Affine {
	return Affine{
		a[0]*b[0] + a[1]*b[3], a[0]*b[1] + a[1]*b[4], a[0]*b[2] + a[1]*b[5] + a[2],
		a[3]*b[0] + a[4]*b[3], a[3]*b[1] + a[4]*b[4], a[3]*b[2] + a[4]*b[5] + a[5],
	}
}

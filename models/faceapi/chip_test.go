package faceapi

import (
	"image/png"
	"math"
	"os"
	"testing"

	"github.com/degradiff/degradiff/internal/fixture"
)

func TestChipWindow(t *testing.T) {
	for _, c := range []struct{ w, h, x0, y0, side int }{
		{1024, 1024, 164, 287, 696},
		{512, 512, 82, 143, 348},
		{612, 512, 132, 143, 348}, // centred square
	} {
		x0, y0, side := ChipWindow(c.w, c.h)
		if x0 != c.x0 || y0 != c.y0 || side != c.side {
			t.Errorf("ChipWindow(%d, %d) = %d, %d, %d; want %d, %d, %d", c.w, c.h, x0, y0, side, c.x0, c.y0, c.side)
		}
	}
}

func TestResizeArea(t *testing.T) {
	img := NewImage(4, 4)
	for i := range img.Pix {
		img.Pix[i] = uint8(i / 3 % 4 * 10) // columns 0, 10, 20, 30
	}
	img.Pix[0] = 1 // block (0, 0): (1 + 10 + 0 + 10)/4 = 5.25 -> 5
	img.Pix[3] = 11
	out := ResizeArea(img, 0, 0, 4, 2)
	// Block (0, 0): (1 + 11 + 0 + 10)/4 = 5.5, rounded half up to 6; block
	// (0, 1): 25.
	if out.Pix[0] != 6 || out.Pix[3] != 25 {
		t.Errorf("ResizeArea row %v, want [6 25]", []uint8{out.Pix[0], out.Pix[3]})
	}
	// Enlarging repeats pixels.
	up := ResizeArea(img, 0, 0, 2, 4)
	if up.Pix[0] != 1 || up.Pix[3] != 1 || up.Pix[6] != 11 || up.Pix[9] != 11 {
		t.Errorf("ResizeArea enlarging: %v", up.Pix[:12])
	}
}

// TestAlignedChipFixture rebuilds the fixtures' net inputs from the PNG
// source images (Go's PNG decoder matches pngjs; the JPEG ones differ, see
// the fixtures README) and checks the chip landmarks in source pixels.
func TestAlignedChipFixture(t *testing.T) {
	m := testModels(t)
	rec := openGolden(t, "recognition.safetensors")
	lmk := openGolden(t, "landmarks.safetensors")
	det := openGolden(t, "detector.safetensors")
	data := fixture.Dir(t, "data")
	worst := 0.0
	for id, path := range map[string]string{
		"hq_ffhq_00001":           "hq/faces/GPEN_ffhq5/00001.png",
		"lq_gfpgan_julia_roberts": "real_lq/faces/GFPGAN_inputs/cropped_faces/Julia_Roberts_crop.png",
	} {
		f, err := os.Open(data + "/" + path)
		if err != nil {
			t.Skipf("source image: %v", err)
		}
		dec, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		img := FromImage(dec)
		same := func(what string, got *Image, want *Image) {
			if got.W != want.W || got.H != want.H || string(got.Pix) != string(want.Pix) {
				t.Errorf("%s %s: differs from the fixture", id, what)
			}
		}
		chip, _, _, _ := AlignedChip(img, RecognitionSize)
		same("recognition chip", chip, rec.image(id+".input_u8"))
		chip, _, _, _ = AlignedChip(img, LandmarkSize)
		same("landmark chip", chip, lmk.image(id+".input_u8"))
		same("detector input", ResizeArea(img, 0, 0, img.W, 224), det.image(id+".s224.input_u8"))

		pts := m.Landmarks.AlignedLandmarks(img)
		want := lmk.f64(id + ".positions_original")
		for i, p := range pts {
			worst = math.Max(worst, math.Max(math.Abs(p.X-want[2*i]), math.Abs(p.Y-want[2*i+1])))
		}
		wd, _ := rec.f32(id + ".descriptor")
		d := m.Recognition.AlignedDescriptor(img)
		checkClose(t, id+" aligned descriptor", d[:], wd, tolAct)
	}
	if worst > 0.1 {
		t.Errorf("aligned landmarks: max |diff| %.3g px in the source image, want <= 0.1", worst)
	}
	t.Logf("aligned landmarks: max |diff| %.3g px in the source image", worst)
}

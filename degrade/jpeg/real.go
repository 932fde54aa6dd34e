package jpeg

import (
	"bytes"
	"fmt"
	"image"
	stdjpeg "image/jpeg"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/raster"
)

// Real returns img after an actual JPEG encode/decode round trip at the
// given quality (1-100; image/jpeg clamps other values), in [0, 1]. The image is first clamped to [0, 1] and
// rounded half to even to 8 bits, like cv2.imencode's conversion of a float
// image. Go's encoder uses the IJG-scaled Annex K tables like libjpeg and,
// for colour, 4:2:0 chroma subsampling; decoding follows libjpeg-turbo (as
// cv2.imdecode). img must have 1 (grayscale JPEG) or 3 (RGB) planes.
func Real(img *raster.Image, quality int) (*raster.Image, error) {
	var src image.Image
	r := image.Rect(0, 0, img.W, img.H)
	n := img.H * img.W
	switch img.C {
	case 1:
		g := image.NewGray(r)
		for i, v := range img.Pix[:n] {
			g.Pix[i] = raster.To8(v)
		}
		src = g
	case 3:
		m := image.NewRGBA(r)
		for i := 0; i < n; i++ {
			m.Pix[4*i] = raster.To8(img.Pix[i])
			m.Pix[4*i+1] = raster.To8(img.Pix[n+i])
			m.Pix[4*i+2] = raster.To8(img.Pix[2*n+i])
			m.Pix[4*i+3] = 255
		}
		src = m
	default:
		panic(fmt.Sprintf("jpeg.Real: image has %d planes, want 1 or 3", img.C))
	}
	var buf bytes.Buffer
	if err := stdjpeg.Encode(&buf, src, &stdjpeg.Options{Quality: quality}); err != nil {
		return nil, fmt.Errorf("jpeg: encoding %dx%d image at quality %d: %w", img.W, img.H, quality, err)
	}
	// Decode as libjpeg does (its colour conversion and smooth "fancy"
	// chroma upsampling), through imageio, as cv2.imdecode would.
	dec, _, err := imageio.Decode(&buf, "JPEG round trip", imageio.Options{MaxPixels: -1})
	if err != nil {
		return nil, fmt.Errorf("jpeg: decoding the round trip of a %dx%d image: %w", img.W, img.H, err)
	}
	if img.C == 1 {
		out := raster.New(1, img.H, img.W)
		copy(out.Pix, dec.Plane(0))
		return out, nil
	}
	return dec, nil
}

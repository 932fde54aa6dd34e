package faceapi

import (
	"fmt"
	"math"
)

// ChipWindow returns the square window of an aligned (FFHQ-style) face
// image of w x h pixels that serves as its face chip: with s = min(w, h)
// and the centred s x s square, x0 = round(0.16 s), y0 = round(0.28 s),
// side = round(0.68 s). It approximates the dlib alignment rectangle that
// face-api computes from the landmarks of such faces (x 0.14-0.21,
// y 0.26-0.29, side 0.60-0.71 of the image), needs no landmarks, and is the
// window of the golden fixtures (164, 287, 696 for 1024 pixels).
func ChipWindow(w, h int) (x0, y0, side int) {
	s := min(w, h)
	r := func(f float64) int { return int(math.Floor(f*float64(s) + 0.5)) }
	return (w-s)/2 + r(0.16), (h-s)/2 + r(0.28), r(0.68)
}

// ResizeArea returns the size x size image whose pixels average the n x n
// window of img at (x0, y0) by integer boxes: output pixel (oy, ox) is the
// mean of source rows y0 + [floor(oy*n/size), floor((oy+1)*n/size)) and the
// same columns, rounded half up. It is the golden fixtures' resize: exact
// in integers, and free of the aliasing of face-api's bilinear resize when
// shrinking. The window must lie inside img.
func ResizeArea(img *Image, x0, y0, n, size int) *Image {
	if x0 < 0 || y0 < 0 || n <= 0 || x0+n > img.W || y0+n > img.H || size <= 0 {
		panic(fmt.Sprintf("faceapi.ResizeArea: window %d at (%d, %d) outside the %dx%d image, or size %d", n, x0, y0, img.W, img.H, size))
	}
	out := NewImage(size, size)
	for oy := 0; oy < size; oy++ {
		ya, yb := oy*n/size, (oy+1)*n/size
		if yb == ya {
			yb = ya + 1 // enlarging: one source row
		}
		for ox := 0; ox < size; ox++ {
			xa, xb := ox*n/size, (ox+1)*n/size
			if xb == xa {
				xb = xa + 1
			}
			cnt := (yb - ya) * (xb - xa)
			var sum [3]int
			for y := y0 + ya; y < y0+yb; y++ {
				row := img.Pix[(y*img.W+x0+xa)*3 : (y*img.W+x0+xb)*3]
				for i, v := range row {
					sum[i%3] += int(v)
				}
			}
			for c := range 3 {
				out.Pix[(oy*size+ox)*3+c] = uint8((2*sum[c] + cnt) / (2 * cnt))
			}
		}
	}
	return out
}

// AlignedChip returns the face chip (ChipWindow) of an aligned face image,
// area-resized to size x size, with the chip's window.
func AlignedChip(img *Image, size int) (chip *Image, x0, y0, side int) {
	x0, y0, side = ChipWindow(img.W, img.H)
	return ResizeArea(img, x0, y0, side, size), x0, y0, side
}

// AlignedDescriptor returns the descriptor of an aligned (FFHQ-style) face
// image from its fixed chip window (AlignedChip at 150), without detection
// or landmarks, so that it works as well on degraded faces as on clean
// ones. This is how the golden fixtures' descriptors were made; on such
// faces it is 0.12-0.24 (Euclidean) from the descriptor of face-api's full
// pipeline.
func (n *Recognizer) AlignedDescriptor(img *Image) Descriptor {
	chip, _, _, _ := AlignedChip(img, RecognitionSize)
	return n.Descriptor(chip)
}

// AlignedLandmarks returns the 68 landmarks of an aligned (FFHQ-style) face
// image, found in its fixed chip window (AlignedChip at 112) and given in
// img's pixels: x0 + x*side/112.
func (n *LandmarkNet) AlignedLandmarks(img *Image) [NumLandmarks]Point {
	chip, x0, y0, side := AlignedChip(img, LandmarkSize)
	pts := n.Landmarks(chip)
	k := float64(side) / LandmarkSize
	for i, p := range pts {
		pts[i] = Point{float64(x0) + p.X*k, float64(y0) + p.Y*k}
	}
	return pts
}

package faceapi

import (
	"errors"
	"fmt"
	"math"

	"github.com/degradiff/degradiff/raster"
)

// PrepareOptions configure Models.Prepare.
type PrepareOptions struct {
	// Size is the side of the prepared face; zero means 512.
	Size int
	// Method places faces that need aligning.
	Method AlignMethod
	// MaxMisalignment is the largest Misalignment (with AlignFFHQ) of a
	// square image taken as an aligned crop already; zero means 0.1.
	MaxMisalignment float64
	// Detect are the detector's options for images that are not aligned
	// crops; the zero value means input sizes {160, 416, 1024} (those up to
	// twice the image's larger side) with Antialias.
	Detect DetectOptions
	// MaxChipMisalignment is the largest Misalignment of a square image
	// in which no face is detected for which the landmarks of its fixed
	// chip (refined twice) still place the face; zero means 0.3.
	MaxChipMisalignment float64
	// MinFace is the smallest side, in pixels of the source image, of a
	// detection box worth aligning; zero means 32.
	MinFace float64
}

// Prepared reports what Models.Prepare did with an image.
type Prepared struct {
	// Aligned is true when the image was taken as an aligned crop and
	// only resized.
	Aligned bool
	// Misalignment is the image's Misalignment (AlignFFHQ) when it is
	// square, +Inf otherwise.
	Misalignment float64
	// Faces is the number of faces detected (0 for an aligned crop).
	Faces int
	// FromChip is true when no face was detected in a nearly aligned
	// square image and its chip's landmarks placed the face instead.
	FromChip bool
	// Face is the face cut out when the image was not an aligned crop: the
	// largest detection.
	Face *AlignedFace
	// Transform maps the image's coordinates (face-api's, see
	// AlignTransform) to the prepared face's.
	Transform Affine
}

// ErrSmallFace is returned (wrapped) by Models.Prepare when the largest
// face found is smaller than PrepareOptions.MinFace.
var ErrSmallFace = errors.New("faceapi: face too small")

// Prepare turns an image into one aligned size x size face, the unit of
// face restoration data: a square image whose landmarks (found in its
// fixed chip) show an aligned crop already is resized; any other image has
// its faces detected, and the largest is aligned (Models.AlignFaces); a
// nearly aligned square image in which the detector finds nothing is
// aligned from its chip's landmarks. It fails, with a reason, when no face
// is found (ErrNoFace) or the largest is smaller than MinFace
// (ErrSmallFace).
//
// On the project's 576 face images (243 HQ, 333 real LQ) with the default
// options and AlignFFHQ (about a minute on 2 cores): 421 are taken as
// aligned crops; 147 are detected and aligned (all LFW crops, the whole
// photos, a few loosely cropped faces); 5 near-aligned crops without a
// detection are aligned from their chip (a profile, a very blurred face);
// 3 fail with ErrNoFace (two old group photos and a crop with the face cut
// off).
func (m *Models) Prepare(img *raster.Image, opt PrepareOptions) (*raster.Image, Prepared, error) {
	if opt.Size == 0 {
		opt.Size = 512
	}
	if opt.MaxMisalignment == 0 {
		opt.MaxMisalignment = 0.1
	}
	if opt.MaxChipMisalignment == 0 {
		opt.MaxChipMisalignment = 0.3
	}
	if opt.MinFace == 0 {
		opt.MinFace = 32
	}
	if opt.Detect.InputSize == 0 && len(opt.Detect.Sizes) == 0 {
		// Input sizes beyond twice the image only find faces too small to
		// keep.
		for _, s := range []int{160, 416, 1024} {
			if s == 160 || s <= 2*max(img.W, img.H) {
				opt.Detect.Sizes = append(opt.Detect.Sizes, s)
			}
		}
		opt.Detect.Antialias = true
	}
	rep := Prepared{Misalignment: math.Inf(1)}
	var chipLm [NumLandmarks]Point
	if img.W == img.H {
		lm := m.Landmarks.AlignedLandmarks(FromRaster(img))
		chipLm = lm
		rep.Misalignment = Misalignment(lm, img.W, img.H, AlignFFHQ)
		if rep.Misalignment <= opt.MaxMisalignment {
			k := float64(opt.Size) / float64(img.W)
			rep.Aligned = true
			rep.Transform = Affine{k, 0, 0, 0, k, 0}
			out, err := Warp(img, rep.Transform, opt.Size)
			return out, rep, err
		}
	}
	faces, err := m.AlignFaces(img, AlignOptions{Size: opt.Size, Method: opt.Method, Detect: opt.Detect})
	if errors.Is(err, ErrNoFace) && rep.Misalignment <= opt.MaxChipMisalignment {
		lm := chipLm
		for range 2 {
			if lm, err = m.Landmarks.Refine(img, lm, opt.Method); err != nil {
				return nil, rep, err
			}
		}
		out, t, err := Align(img, lm, opt.Size, opt.Method)
		rep.FromChip = true
		rep.Transform = t
		return out, rep, err
	}
	if err != nil {
		return nil, rep, err
	}
	rep.Faces = len(faces)
	f := &faces[0]
	if side := math.Min(f.Detection.Box.W, f.Detection.Box.H); side < opt.MinFace {
		return nil, rep, fmt.Errorf("%w: the largest of %d faces is %.0f pixels, under %.0f", ErrSmallFace, len(faces), side, opt.MinFace)
	}
	rep.Face = f
	rep.Transform = f.Transform
	return f.Image, rep, nil
}

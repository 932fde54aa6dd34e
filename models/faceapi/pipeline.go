package faceapi

import (
	"fmt"
	"math"
)

// Models holds the three networks.
type Models struct {
	Detector    *Detector
	Landmarks   *LandmarkNet
	Recognition *Recognizer
}

// Load reads the three networks from a folder with the files of the npm
// package @vladmandic/face-api 1.7.15 (its model/ folder: the three
// *-weights_manifest.json files and their .bin shards).
func Load(dir string) (*Models, error) {
	if dir == "" {
		return nil, fmt.Errorf("faceapi: no weights folder given (the model/ folder of @vladmandic/face-api 1.7.15)")
	}
	d, err := LoadDetector(dir)
	if err != nil {
		return nil, err
	}
	l, err := LoadLandmarkNet(dir)
	if err != nil {
		return nil, err
	}
	r, err := LoadRecognizer(dir)
	if err != nil {
		return nil, err
	}
	return &Models{Detector: d, Landmarks: l, Recognition: r}, nil
}

// Face is one face found by Models.Analyze.
type Face struct {
	Detection Detection
	// Landmarks are the 68 points in the image's pixels.
	Landmarks [NumLandmarks]Point
	// Chip is the dlib alignment rectangle the descriptor was computed on
	// (before clipping to the image).
	Chip Rect
	// Descriptor is the 128-d recognition descriptor (zero if Analyze was
	// asked for landmarks only).
	Descriptor Descriptor
}

// LandmarksIn returns the 68 points of the face in box (pixels of img), as
// face-api's withFaceLandmarks: the box is clipped to the image and floored,
// cut out, and the points are shifted back by the box's unfloored origin.
// (Where the box reaches past the left or top edge, the shift is 0 on that
// axis, the crop's origin: face-api's would be off by the overhang.)
func (n *LandmarkNet) LandmarksIn(img *Image, box Rect) ([NumLandmarks]Point, error) {
	crop, err := img.cut(box)
	if err != nil {
		return [NumLandmarks]Point{}, err
	}
	pts := n.Landmarks(crop)
	shiftBy(pts[:], box)
	return pts, nil
}

// shiftBy adds box's origin (or 0 where it is negative) to pts.
func shiftBy(pts []Point, box Rect) {
	dx, dy := math.Max(box.X, 0), math.Max(box.Y, 0)
	for i := range pts {
		pts[i].X += dx
		pts[i].Y += dy
	}
}

// DescriptorIn returns the descriptor of the face chip rect of img (clipped
// to the image and floored, as face-api's extractFaces).
func (n *Recognizer) DescriptorIn(img *Image, rect Rect) (Descriptor, error) {
	crop, err := img.cut(rect)
	if err != nil {
		return Descriptor{}, err
	}
	return n.Descriptor(crop), nil
}

// Analyze detects the faces in img and computes, for each, the 68 landmarks
// and (with descriptors) the recognition descriptor of its dlib-aligned
// chip: face-api's detectAllFaces(...).withFaceLandmarks()
// .withFaceDescriptors(). Faces whose box or chip holds no pixel of img are
// left out.
func (m *Models) Analyze(img *Image, opt DetectOptions, descriptors bool) ([]Face, error) {
	dets, err := m.Detector.Detect(img, opt)
	if err != nil {
		return nil, err
	}
	faces := make([]Face, 0, len(dets))
	for _, d := range dets {
		f := Face{Detection: d}
		crop, err := img.cut(d.Box)
		if err != nil {
			continue // a box outside the image has no face to analyse
		}
		f.Landmarks = m.Landmarks.Landmarks(crop)
		shiftBy(f.Landmarks[:], d.Box)
		if descriptors {
			f.Chip = DlibAlignment(f.Landmarks, crop.W, crop.H)
			if f.Descriptor, err = m.Recognition.DescriptorIn(img, f.Chip); err != nil {
				continue // a chip with no pixel in the image
			}
		}
		faces = append(faces, f)
	}
	return faces, nil
}

// centre returns the mean of points.
func centre(pts []Point) Point {
	var s Point
	for _, p := range pts {
		s.X += p.X
		s.Y += p.Y
	}
	return Point{s.X / float64(len(pts)), s.Y / float64(len(pts))}
}

// EyesMouth returns the centres of the left eye (points 36-41, on the image's
// left), the right eye (42-47) and the mouth (48-67).
func EyesMouth(lm [NumLandmarks]Point) (left, right, mouth Point) {
	return centre(lm[36:42]), centre(lm[42:48]), centre(lm[48:68])
}

// DlibAlignment returns the square face chip that face-api feeds the
// recognition net (FaceLandmarks.align with useDlibAlignment): side =
// floor(mean eye-to-mouth distance / 0.45), placed so that the mean of the
// eye and mouth centres sits at (0.5, 0.43) of it. w and h are the size of
// the image the landmarks were found in (face-api uses the detection crop's
// size), which only caps the side.
func DlibAlignment(lm [NumLandmarks]Point, w, h int) Rect {
	le, re, mo := EyesMouth(lm)
	dist := func(p Point) float64 { dx, dy := mo.X-p.X, mo.Y-p.Y; return math.Sqrt(dx*dx + dy*dy) }
	size := math.Floor((dist(le) + dist(re)) / 2 / 0.45)
	ref := centre([]Point{le, re, mo})
	x := math.Floor(math.Max(0, ref.X-0.5*size))
	y := math.Floor(math.Max(0, ref.Y-0.43*size))
	return Rect{X: x, Y: y, W: math.Min(size, float64(w)+x), H: math.Min(size, float64(h)+y)}
}

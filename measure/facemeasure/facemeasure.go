// Package facemeasure measures face restoration on aligned face crops with
// the face-api networks of package faceapi, without reference images when
// there are none:
//
//   - Identity: the cosine similarity of the 128-d recognition descriptors
//     of two faces (1: the same descriptor). For scale: face-api's
//     threshold for the same person, Euclidean distance 0.6, is a cosine
//     of about 0.9 for its descriptors (norms 1.3-1.6); a 128-pixel FFHQ
//     face scores 0.99 against itself blurred (sigma 1.5), 0.97 shifted by
//     6 pixels, and 0.82 against another person (the package's tests).
//   - LandmarkDistance: the mean distance between the 68 landmarks of two
//     faces, in units of the face image's side. Faces are aligned crops,
//     so the side is a fixed multiple of the face's size (the eye centres
//     are a quarter of the side apart); times 512 it is a landmark
//     distance (LMD) in pixels of a 512x512 face, the unit of face
//     restoration papers.
//
// On real LQ faces without ground truth ("degradiff bfr test
// --lq"), the restored face is compared with its input: a restoration that
// keeps the identity and the geometry of the input scores a high identity
// and a small landmark distance. With a ground truth, the restored face is
// compared with it.
//
// Descriptors and landmarks come from each face's fixed chip window
// (faceapi.AlignedDescriptor, faceapi.AlignedLandmarks): no detection, so
// that degraded faces are measured in the same window as clean ones.
package facemeasure

import (
	"fmt"
	"math"

	"github.com/degradiff/degradiff/models/faceapi"
	"github.com/degradiff/degradiff/raster"
)

// Measurer holds the two networks the measures need. It is read-only and
// safe for concurrent use.
type Measurer struct {
	Landmarks   *faceapi.LandmarkNet
	Recognition *faceapi.Recognizer
}

// Load reads the landmark and recognition networks from the model/ folder
// of the npm package @vladmandic/face-api 1.7.15.
func Load(dir string) (*Measurer, error) {
	if dir == "" {
		return nil, fmt.Errorf("facemeasure: no weights folder given (the model/ folder of @vladmandic/face-api 1.7.15)")
	}
	lm, err := faceapi.LoadLandmarkNet(dir)
	if err != nil {
		return nil, err
	}
	rec, err := faceapi.LoadRecognizer(dir)
	if err != nil {
		return nil, err
	}
	return &Measurer{Landmarks: lm, Recognition: rec}, nil
}

// Face is what the measures compare of an aligned face image.
type Face struct {
	Descriptor faceapi.Descriptor
	// Landmarks are the 68 points as fractions of the image's width and
	// height.
	Landmarks [faceapi.NumLandmarks]faceapi.Point
}

// Face analyses an aligned face image (3 planes, or 1 for gray).
func (m *Measurer) Face(img *raster.Image) Face {
	fi := faceapi.FromRaster(img)
	f := Face{Descriptor: m.Recognition.AlignedDescriptor(fi)}
	lm := m.Landmarks.AlignedLandmarks(fi)
	for i, p := range lm {
		f.Landmarks[i] = faceapi.Point{X: p.X / float64(img.W), Y: p.Y / float64(img.H)}
	}
	return f
}

// Identity returns the cosine similarity of the recognition descriptors of
// a and b.
func Identity(a, b Face) float64 { return faceapi.Cosine(a.Descriptor, b.Descriptor) }

// LandmarkDistance returns the mean distance between the landmarks of a
// and b, in units of the image side.
func LandmarkDistance(a, b Face) float64 {
	var s float64
	for i := range a.Landmarks {
		s += math.Hypot(a.Landmarks[i].X-b.Landmarks[i].X, a.Landmarks[i].Y-b.Landmarks[i].Y)
	}
	return s / faceapi.NumLandmarks
}

// Scores are the measures of a face against a reference face.
type Scores struct {
	Identity         float64 `json:"identity"`
	LandmarkDistance float64 `json:"landmark_distance"`
}

// Score compares face with ref.
func Score(face, ref Face) Scores {
	return Scores{Identity: Identity(face, ref), LandmarkDistance: LandmarkDistance(face, ref)}
}

// Compare analyses both images and compares face with ref. The images may
// differ in size: landmarks are compared as fractions of each image.
func (m *Measurer) Compare(face, ref *raster.Image) Scores {
	return Score(m.Face(face), m.Face(ref))
}

// Mean returns the mean of each measure over ss (zero for none).
func Mean(ss []Scores) Scores {
	var m Scores
	for _, s := range ss {
		m.Identity += s.Identity / float64(len(ss))
		m.LandmarkDistance += s.LandmarkDistance / float64(len(ss))
	}
	return m
}

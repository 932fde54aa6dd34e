package faceapi_test

import (
	"fmt"
	"log"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/models/faceapi"
)

// A photo's faces are detected, aligned to the FFHQ template at 512x512,
// and compared by identity with an aligned reference face. The weights
// folder is the model/ folder of the npm package @vladmandic/face-api
// 1.7.15.
func Example() {
	m, err := faceapi.Load("face-api/model")
	if err != nil {
		log.Fatal(err)
	}
	photo, _, err := imageio.Load("photo.jpg", imageio.Options{})
	if err != nil {
		log.Fatal(err)
	}
	faces, err := m.AlignFaces(photo, faceapi.AlignOptions{
		Size:   512,
		Method: faceapi.AlignFFHQ,
		Detect: faceapi.DetectOptions{Sizes: []int{160, 416, 1024}, Antialias: true},
	})
	if err != nil {
		log.Fatal(err) // errors.Is(err, faceapi.ErrNoFace) when there is none
	}
	ref, _, err := imageio.Load("reference_aligned.png", imageio.Options{})
	if err != nil {
		log.Fatal(err)
	}
	want := m.Recognition.AlignedDescriptor(faceapi.FromRaster(ref))
	for i, f := range faces {
		d := m.Recognition.AlignedDescriptor(faceapi.FromRaster(f.Image))
		fmt.Printf("face %d: score %.2f, distance to the reference %.2f (same person below %.1f)\n",
			i, f.Detection.Score, faceapi.Distance(d, want), faceapi.MatchThreshold)
	}
}

// Deciding whether an image is already an aligned face crop: the landmarks
// of its fixed chip, and how far aligning it would move its corners.
func ExampleMisalignment() {
	m, err := faceapi.Load("face-api/model")
	if err != nil {
		log.Fatal(err)
	}
	img, _, err := imageio.Load("face.png", imageio.Options{})
	if err != nil {
		log.Fatal(err)
	}
	lm := m.Landmarks.AlignedLandmarks(faceapi.FromRaster(img))
	if faceapi.Misalignment(lm, img.W, img.H, faceapi.AlignFFHQ) < 0.1 {
		fmt.Println("an aligned face crop")
	}
}

package faceapi

import "testing"

// The benchmarks need the weights in ../shared/models/face-api.

func benchImage(size int) *Image {
	img := NewImage(size, size)
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7 % 251)
	}
	return img
}

func BenchmarkDetect416(b *testing.B) {
	m := testModelsB(b)
	img := benchImage(416)
	for b.Loop() {
		if _, err := m.Detector.Detect(img, DetectOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLandmarks(b *testing.B) {
	m := testModelsB(b)
	img := benchImage(LandmarkSize)
	for b.Loop() {
		m.Landmarks.Landmarks(img)
	}
}

func BenchmarkDescriptor(b *testing.B) {
	m := testModelsB(b)
	img := benchImage(RecognitionSize)
	for b.Loop() {
		m.Recognition.Descriptor(img)
	}
}

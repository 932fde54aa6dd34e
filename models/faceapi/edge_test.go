package faceapi

import (
	"sync"
	"testing"
)

// TestOddInputs runs the nets on tiny, thin and non-square images and on
// boxes partly or wholly outside the image: no panic, and errors where
// nothing is left to analyse.
func TestOddInputs(t *testing.T) {
	m := testModels(t)
	for _, sz := range [][2]int{{1, 1}, {3, 200}, {200, 3}, {37, 50}} {
		img := NewImage(sz[0], sz[1])
		for i := range img.Pix {
			img.Pix[i] = uint8(i % 256)
		}
		if _, err := m.Analyze(img, DetectOptions{InputSize: 64, ScoreThreshold: 0.01}, true); err != nil {
			t.Errorf("%v: %v", sz, err)
		}
		m.Landmarks.Landmarks(img)
		m.Recognition.Descriptor(img)
	}
	img := benchImage(100)
	pts, err := m.Landmarks.LandmarksIn(img, Rect{-50, -40, 80, 80})
	if err != nil {
		t.Errorf("box partly outside: %v", err)
	}
	if want := m.Landmarks.Landmarks(img.Crop(0, 0, 30, 40)); pts != want {
		t.Errorf("box partly outside: points not those of the crop at (0, 0)")
	}
	if _, err := m.Landmarks.LandmarksIn(img, Rect{120, 10, 30, 30}); err == nil {
		t.Error("box outside the image: no error")
	}
	if _, err := m.Recognition.DescriptorIn(img, Rect{10, 10, 0.5, 30}); err == nil {
		t.Error("box thinner than a pixel: no error")
	}
}

// TestConcurrent checks that one set of nets serves several goroutines
// with the results of a serial run.
func TestConcurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	m := testModels(t)
	imgs := []*Image{benchImage(150), benchImage(120), benchImage(90)}
	want := make([]Descriptor, len(imgs))
	for i, img := range imgs {
		want[i] = m.Recognition.Descriptor(img)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, img := range imgs {
				if d := m.Recognition.Descriptor(img); d != want[i] {
					t.Errorf("goroutine %d image %d: descriptor differs from the serial run", g, i)
				}
				m.Landmarks.Landmarks(img)
			}
		}()
	}
	wg.Wait()
}

package plot

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/degradiff/degradiff/raster"
)

func TestChartDrawsSeries(t *testing.T) {
	var s Series
	s.Name = "loss"
	for i := 0; i < 500; i++ {
		s.X = append(s.X, float64(i))
		s.Y = append(s.Y, 0.05+math.Exp(-float64(i)/80))
	}
	img := Chart{Title: "training loss", XLabel: "step", YLabel: "MSE", LogY: true, Series: []Series{s}}.Draw(640, 360)
	// The series colour must appear in the plot area.
	want := palette[0]
	found := 0
	for y := 30; y < 315; y++ {
		for x := 71; x < 620; x++ {
			if img.RGBAAt(x, y) == want {
				found++
			}
		}
	}
	if found < 200 {
		t.Fatalf("only %d pixels of the series colour drawn", found)
	}
	if out := os.Getenv("PLOT_OUT"); out != "" {
		if err := SavePNG(filepath.Join(out, "chart.png"), img); err != nil {
			t.Fatal(err)
		}
	}
}

func TestChartEmptyAndDegenerate(t *testing.T) {
	// No data, a single point, NaNs: nothing panics.
	Chart{}.Draw(200, 100)
	Chart{Series: []Series{{X: []float64{1}, Y: []float64{2}}}}.Draw(200, 100)
	Chart{LogY: true, Series: []Series{{X: []float64{1, 2}, Y: []float64{0, math.NaN()}}}}.Draw(200, 100)
	Chart{}.Draw(5, 5)
}

func TestGridPlacesImages(t *testing.T) {
	a := raster.New(3, 4, 5)
	for i := range a.Pix {
		a.Pix[i] = 1 // white
	}
	b := raster.New(3, 4, 5) // black
	img := Grid([][]Cell{{{a, "a"}, {b, "b"}}}, 2)
	// The second image starts after gap + 5*2 + gap pixels.
	if got := img.At(6+10+6+1, 6+1); got != (color.RGBA{0, 0, 0, 255}) {
		t.Fatalf("black cell pixel = %v", got)
	}
	if img.Bounds().Dx() != 6+10+6+10+6 {
		t.Fatalf("grid width %d", img.Bounds().Dx())
	}
}

func TestZoom(t *testing.T) {
	m := raster.New(1, 2, 2)
	copy(m.Pix, []float32{1, 2, 3, 4})
	if z := Zoom(m, 2); fmt.Sprint(z.Pix) != "[1 1 2 2 1 1 2 2 3 3 4 4 3 3 4 4]" {
		t.Errorf("Zoom: %v", z.Pix)
	}
	if Zoom(m, 1) != m {
		t.Error("Zoom by 1 copied the image")
	}
}

package blur

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/internal/fixture"
	"github.com/degradiff/degradiff/raster"
)

// ops is the BasicSR fixture file and its description, opened once.
type ops struct {
	f       *safetensors.File
	entries map[string]struct {
		Params map[string]any `json:"params"`
	}
}

var (
	opsOnce sync.Once
	opsVal  *ops
	opsErr  error
)

func loadOps(t *testing.T) *ops {
	t.Helper()
	dir := fixture.Dir(t, "fixtures", "basicsr")
	opsOnce.Do(func() {
		f, err := safetensors.Open(filepath.Join(dir, "ops.safetensors"))
		if err != nil {
			opsErr = err
			return
		}
		b, err := os.ReadFile(filepath.Join(dir, "ops.json"))
		if err != nil {
			opsErr = err
			return
		}
		var meta struct {
			Entries map[string]struct {
				Params map[string]any `json:"params"`
			} `json:"entries"`
		}
		if err := json.Unmarshal(b, &meta); err != nil {
			opsErr = err
			return
		}
		opsVal = &ops{f: f, entries: meta.Entries}
	})
	if opsErr != nil {
		t.Fatal(opsErr)
	}
	return opsVal
}

func (o *ops) f64(t *testing.T, name string) ([]float64, []int) {
	t.Helper()
	v, shape, err := o.f.Float64(name)
	if err != nil {
		t.Fatal(err)
	}
	return v, shape
}

func (o *ops) f32(t *testing.T, name string) ([]float32, []int) {
	t.Helper()
	v, shape, err := o.f.Float32(name)
	if err != nil {
		t.Fatal(err)
	}
	return v, shape
}

// image returns fixture entry name (NCHW, N = 1) as an image.
func (o *ops) image(t *testing.T, name string) *raster.Image {
	t.Helper()
	v, shape := o.f32(t, name)
	if len(shape) != 4 || shape[0] != 1 {
		t.Fatalf("%s: shape %v, want [1 C H W]", name, shape)
	}
	return &raster.Image{C: shape[1], H: shape[2], W: shape[3], Pix: v}
}

func (o *ops) param(t *testing.T, entry, key string) float64 {
	t.Helper()
	e, ok := o.entries[entry]
	if !ok {
		t.Fatalf("ops.json has no entry %s", entry)
	}
	switch v := e.Params[key].(type) {
	case float64:
		return v
	case bool:
		if v {
			return 1
		}
		return 0
	}
	t.Fatalf("%s: param %s is %T", entry, key, e.Params[key])
	return 0
}

// maxAbsDiff returns the largest |a[i]-b[i]|.
func maxAbsDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if d > m || d != d {
			m = d
		}
	}
	return m
}

package ddpm

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/imageio"
)

// LoadFiles keeps exactly the listed images, under the names given, as
// LoadDataset does with the images of a folder.
func TestLoadFiles(t *testing.T) {
	lq := makeLQ(t)
	cfg := tinyConfig()
	var files, names []string
	for _, n := range []string{"rings", "stripes", "tiny"} {
		files, names = append(files, filepath.Join(lq, n+".png")), append(names, "sel/"+n)
	}
	data, err := LoadFiles(files, names, cfg, 0, imageio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, im := range data.Train {
		got = append(got, im.name)
	}
	if !slices.Equal(got, []string{"sel/rings", "sel/stripes"}) || len(data.Preview) != 0 ||
		len(data.Skipped) != 1 || !strings.Contains(data.Skipped[0].Error(), "tiny.png: 8x8 is smaller") {
		t.Errorf("train %v, preview %d, skipped %v", got, len(data.Preview), data.Skipped)
	}
	// The same images through a folder give the same crops.
	all, err := LoadDataset(Sources{Dirs: []string{lq}}, cfg, 0, imageio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, im := range all.Train {
		if im.name == "rings" {
			found = true
			if !bytes.Equal(im.pix, data.Train[0].pix) {
				t.Error("rings: LoadFiles and LoadDataset read different pixels")
			}
		}
	}
	if !found {
		t.Error("LoadDataset lacks rings")
	}

	tests := []struct {
		files []string
		want  string
	}{
		{nil, "no images given"},
		{[]string{filepath.Join(lq, "tiny.png"), filepath.Join(lq, "broken.png")}, "none of the 2 images is usable: " + filepath.Join(lq, "tiny.png")},
	}
	for _, tc := range tests {
		if _, err := LoadFiles(tc.files, make([]string, len(tc.files)), cfg, 0, imageio.Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadFiles(%v): %v, want an error with %q", tc.files, err, tc.want)
		}
	}
}

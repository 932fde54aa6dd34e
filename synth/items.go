package synth

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/batch"
)

// Crops returns the sub-image boxes [y, x, h, w] of an h x w image cut into
// size x size crops every step pixels, as BasicSR's extract_subimages: the
// positions 0, step, 2*step, ... that fit, plus a last crop flush with the
// border when more than thresh pixels would otherwise be left out. An image
// smaller than size on a side gives no crop.
func Crops(h, w, size, step, thresh int) [][4]int {
	if size <= 0 || step <= 0 || h < size || w < size {
		return nil
	}
	pos := func(n int) []int {
		var ps []int
		for p := 0; p <= n-size; p += step {
			ps = append(ps, p)
		}
		if n-(ps[len(ps)-1]+size) > thresh {
			ps = append(ps, n-size)
		}
		return ps
	}
	var boxes [][4]int
	for _, y := range pos(h) {
		for _, x := range pos(w) {
			boxes = append(boxes, [4]int{y, x, size, size})
		}
	}
	return boxes
}

// CropName is the item name of sub-image i (counted from 1) of name, as
// BasicSR names them: NAME_s001.
func CropName(name string, i int) string { return fmt.Sprintf("%s_s%03d", name, i) }

// Shard describes a deterministic part of a dataset: item i of the sorted
// list belongs to shard i mod Count.
type Shard struct {
	Index, Count int
}

// ParseShard reads "I/N" (0 <= I < N).
func ParseShard(s string) (Shard, error) {
	var sh Shard
	if s == "" {
		return Shard{0, 1}, nil
	}
	// Strictly two decimal numbers: Sscanf would accept "0/2abc".
	a, b, ok := strings.Cut(s, "/")
	var errA, errB error
	sh.Index, errA = strconv.Atoi(a)
	sh.Count, errB = strconv.Atoi(b)
	if !ok || errA != nil || errB != nil || strings.ContainsAny(s, "+ ") || sh.Count < 1 || sh.Index < 0 || sh.Index >= sh.Count {
		return Shard{}, fmt.Errorf("--shard %q: want I/N with 0 <= I < N, e.g. 0/4", s)
	}
	return sh, nil
}

// Has reports whether source item i belongs to the shard.
func (s Shard) Has(i int) bool { return i%s.Count == s.Index }

// SubImages cuts HQ images into sub-images before degradation, as
// BasicSR's extract_subimages (Crops); Size 0 keeps whole images.
type SubImages struct {
	Size, Step, Thresh int
}

// Items returns the items of an h x w image called name: the whole image,
// or its sub-images (none when it is smaller than Size).
func (s SubImages) Items(name string, h, w int) []Item {
	if s.Size <= 0 {
		return []Item{{Name: name}}
	}
	list := []Item{}
	for i, b := range Crops(h, w, s.Size, s.Step, s.Thresh) {
		list = append(list, Item{Name: CropName(name, i+1), Box: &b})
	}
	return list
}

// TooSmall is an image smaller than the sub-image size.
type TooSmall struct {
	Path          string
	Width, Height int
}

// Plan lists the sources of the files of a dataset (in their sorted
// order) that belong to shard, with their items read from the image
// headers. A file whose header cannot be read gets no items: Run lists
// them from the decoded image (RunOptions.ItemsOf), or reports the file.
// It returns the sources, every item name, and the files too small for a
// sub-image.
func Plan(files []batch.Item, shard Shard, sub SubImages, maxPixels int64) (sources []Source, names []string, tooSmall []TooSmall) {
	for i, f := range files {
		if !shard.Has(i) {
			continue
		}
		src := Source{Path: f.Path, Name: f.Name}
		if sub.Size > 0 {
			info, err := imageio.ReadInfo(f.Path, imageio.Options{MaxPixels: maxPixels})
			if err == nil {
				src.Items = sub.Items(f.Name, info.Height, info.Width)
				if len(src.Items) == 0 {
					tooSmall = append(tooSmall, TooSmall{f.Path, info.Width, info.Height})
				}
			}
		} else {
			src.Items = sub.Items(f.Name, 0, 0)
		}
		sources = append(sources, src)
		for _, it := range src.Items {
			names = append(names, it.Name)
		}
	}
	return sources, names, tooSmall
}

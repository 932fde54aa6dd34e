package experiment

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/atomicfile"
	"github.com/degradiff/degradiff/rng"
	"github.com/degradiff/degradiff/synth"
)

// Crop is one HQ sub-image, the source of one pair per LQ source and
// variant.
type Crop struct {
	// Name is the item name of its pairs: the file's name with the crop
	// number (synth.CropName), under the folder's base name when there are
	// several HQ folders.
	Name string `json:"name"`
	File string `json:"file"`
	// Box is [y, x, h, w] in the file's image.
	Box [4]int `json:"box"`
}

// CropList is stage 1's output, OUT/crops.json.
type CropList struct {
	Crops []Crop `json:"crops"`
	// Files is the number of HQ images with at least one crop; Total the
	// number of crops before the random subset of MaxCrops.
	Files int `json:"files"`
	Total int `json:"total"`
	// Skipped lists files that were unreadable or smaller than a crop.
	Skipped []string `json:"skipped,omitempty"`
}

func (r *runner) cropsDone() bool { return exists(filepath.Join(r.out, CropsFile)) }

// makeCrops lists the sub-images of every HQ image from the headers, keeps
// a random subset of MaxCrops, and writes OUT/crops.json. The list is then
// fixed: later runs use it even if the HQ folders change.
func (r *runner) makeCrops() error {
	c := r.cfg
	list := &CropList{}
	prefixes := hqPrefixes(c.HQ)
	for i, dir := range c.HQ {
		files, problems := imageio.Find(dir)
		if len(files) == 0 {
			if len(problems) > 0 {
				return fmt.Errorf("--hq %s: %w", dir, problems[0])
			}
			return fmt.Errorf("--hq %s: no images found", dir)
		}
		for _, p := range problems {
			fmt.Fprintf(r.log, "bench: warning: --hq: %v\n", p)
		}
		names, err := imageio.Names(dir, files)
		if err != nil {
			return fmt.Errorf("--hq %s: %w", dir, err)
		}
		for k, f := range files {
			info, err := imageio.ReadInfo(f, imageio.Options{})
			if err != nil {
				fmt.Fprintf(r.log, "bench: warning: --hq: %v: skipped\n", err)
				list.Skipped = append(list.Skipped, f)
				continue
			}
			boxes := synth.Crops(info.Height, info.Width, c.Crop, c.CropStep, c.CropThresh)
			if len(boxes) == 0 {
				list.Skipped = append(list.Skipped, f)
				continue
			}
			list.Files++
			for j, b := range boxes {
				list.Crops = append(list.Crops, Crop{Name: synth.CropName(prefixes[i]+names[k], j+1), File: f, Box: b})
			}
		}
	}
	if len(list.Crops) == 0 {
		return fmt.Errorf("--hq: no image is at least %dx%d pixels (crop)", c.Crop, c.Crop)
	}
	list.Total = len(list.Crops)
	if c.MaxCrops > 0 && len(list.Crops) > c.MaxCrops {
		keep := rng.New(c.Seed, "experiment", "crops").Perm(len(list.Crops))[:c.MaxCrops]
		sort.Ints(keep)
		sub := make([]Crop, len(keep))
		files := map[string]bool{}
		for i, k := range keep {
			sub[i] = list.Crops[k]
			files[sub[i].File] = true
		}
		list.Crops, list.Files = sub, len(files)
	}
	if len(list.Skipped) > 0 {
		fmt.Fprintf(r.log, "bench: %d HQ image(s) unreadable or smaller than %d pixels, left out\n", len(list.Skipped), c.Crop)
	}
	r.crops = list
	return atomicfile.WriteJSON(filepath.Join(r.out, CropsFile), list)
}

func readCrops(p string) (*CropList, error) {
	var l CropList
	if err := atomicfile.ReadJSON(p, &l); err != nil {
		return nil, err
	}
	if len(l.Crops) == 0 {
		return nil, errors.New(p + " lists no crop: remove it to list the crops again")
	}
	return &l, nil
}

// byFile groups the crops by source file, in order of first appearance, so
// that each file is decoded once.
func byFile(crops []Crop) (files []string, groups map[string][]Crop) {
	groups = map[string][]Crop{}
	for _, c := range crops {
		if _, ok := groups[c.File]; !ok {
			files = append(files, c.File)
		}
		groups[c.File] = append(groups[c.File], c)
	}
	return files, groups
}

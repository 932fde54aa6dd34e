package synth

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/batch"
	"github.com/degradiff/degradiff/pairset"
	"github.com/degradiff/degradiff/raster"
)

// Source is one HQ image file and the pair items made from it: the whole
// image, or sub-images of it.
type Source struct {
	// Path is the file; Name, its name in the input folder, orders the
	// failures reported (default: Path).
	Path, Name string
	// Items are the item names (and, for sub-images, their boxes [y, x,
	// h, w]). Nil Items means they depend on the decoded image:
	// RunOptions.ItemsOf lists them once it is loaded.
	Items []Item
}

// Item is one pair source: an item name, and its sub-image box when it is
// a part of the image.
type Item struct {
	Name string
	Box  *[4]int
}

// RunOptions configures Synthesizer.Run.
type RunOptions struct {
	// PerImage is the number of LQ variants per item (at least 1).
	PerImage int
	// KeepInit writes the initial LQ images (LR_init/) of refined pairs.
	KeepInit bool
	// Overwrite redoes items that are complete already.
	Overwrite bool
	// Workers is the number of source files processed at once; it
	// changes no result.
	Workers int
	// Log receives the progress bar and failures; Desc and Unit label
	// the bar.
	Log        io.Writer
	Desc, Unit string
	// Load reads an HQ image (default: imageio.Load refusing more than
	// MaxPixels pixels; 0: imageio's default limit).
	Load      func(path string) (*raster.Image, error)
	MaxPixels int64
	// ItemsOf lists the items of a Source without Items from its decoded
	// image.
	ItemsOf func(src Source, hq *raster.Image) []Item
}

// RunStats is what Run did: the batch summary, the pairs written and
// the sum of their strengths.
type RunStats struct {
	batch.Summary
	Pairs       int
	StrengthSum float64
}

// MeanStrength is the mean strength of the pairs written (0 for none).
func (s RunStats) MeanStrength() float64 {
	if s.Pairs == 0 {
		return 0
	}
	return s.StrengthSum / float64(s.Pairs)
}

// degradeRecord is the record of a pair without the diffusion step (a
// Synthesizer without a model): the degradation's record and the crop.
type degradeRecord struct {
	degrade.Record
	Crop *[4]int `json:"crop,omitempty"`
}

// Run makes the pairs of every source into w: for each item, the HR image
// and opt.PerImage variants, skipping items w holds complete already
// (unless opt.Overwrite), so that a rerun resumes. Each source file is
// loaded once for all its items. A Synthesizer without a model writes the
// initial degradation as the LQ image, with the degradation's record.
// Failures of single sources are in the summary; write errors are marked
// batch.Output. w.Finish is the caller's.
func (s *Synthesizer) Run(ctx context.Context, w *pairset.Writer, sources []Source, opt RunOptions) RunStats {
	defer gemm.SetPrecision(s.opt.Precision)()
	load := opt.Load
	if load == nil {
		load = func(p string) (*raster.Image, error) {
			img, _, err := imageio.Load(p, imageio.Options{MaxPixels: opt.MaxPixels})
			return img, err
		}
	}
	perImage := max(opt.PerImage, 1)
	items := make([]batch.Item, len(sources))
	byPath := make(map[string]Source, len(sources))
	for i, src := range sources {
		name := src.Name
		if name == "" {
			name = src.Path
		}
		items[i] = batch.Item{Path: src.Path, Name: name}
		byPath[src.Path] = src
	}
	var mu sync.Mutex
	var stats RunStats
	job := func(ctx context.Context, it batch.Item) (batch.Outcome, error) {
		src := byPath[it.Path]
		listed := src.Items != nil
		if listed && len(src.Items) == 0 {
			return batch.Skipped, nil
		}
		var todo []Item
		for _, item := range src.Items {
			if opt.Overwrite || !w.Complete(item.Name, perImage) {
				todo = append(todo, item)
			}
		}
		if len(todo) == 0 && listed {
			return batch.Skipped, nil
		}
		hq, err := load(src.Path)
		if err != nil {
			return 0, err
		}
		if !listed && opt.ItemsOf != nil {
			todo = opt.ItemsOf(src, hq)
		}
		for _, item := range todo {
			if ctx.Err() != nil {
				return 0, fmt.Errorf("%s: interrupted", src.Path)
			}
			img := hq
			if b := item.Box; b != nil {
				if b[0]+b[2] > hq.H || b[1]+b[3] > hq.W {
					return 0, fmt.Errorf("%s: sub-image %v of %s does not fit the %dx%d image (did the file change?)", src.Path, *b, item.Name, hq.W, hq.H)
				}
				img = hq.Crop(b[0], b[1], b[2], b[3])
			}
			prepared, err := s.Prepare(img, item.Name)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", src.Path, err)
			}
			variants := make([]pairset.Variant, perImage)
			strengths := 0.0
			for k := range variants {
				if s.opt.Model == nil {
					lq, rec, err := prepared.Variant(k)
					if err != nil {
						return 0, fmt.Errorf("%s: %w", src.Path, err)
					}
					rec.Source = src.Path
					variants[k] = pairset.Variant{LR: lq, Record: degradeRecord{rec, item.Box}}
					continue
				}
				init, lq, rec, err := s.Variant(prepared, item.Name, k)
				if err != nil {
					return 0, fmt.Errorf("%s: %w", src.Path, err)
				}
				rec.Source, rec.Crop = src.Path, item.Box
				variants[k] = pairset.Variant{LR: lq, Record: rec}
				if opt.KeepInit {
					variants[k].Init = init
				}
				strengths += rec.Strength
			}
			if err := w.Write(item.Name, prepared.HR, variants); err != nil {
				return 0, batch.Output(err)
			}
			mu.Lock()
			stats.Pairs += perImage
			stats.StrengthSum += strengths
			mu.Unlock()
		}
		return batch.Done, nil
	}
	stats.Summary = batch.Run(ctx, items, batch.Options{Workers: opt.Workers, Log: opt.Log, Desc: opt.Desc, Unit: opt.Unit}, job)
	return stats
}

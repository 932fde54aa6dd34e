package ddpm

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// image8 is a decoded training image kept as 8-bit planes to save memory.
type image8 struct {
	name string
	h, w int
	pix  []uint8 // 3 planes of h*w
}

// Dataset holds the training images in memory and cuts random crops.
type Dataset struct {
	Train   []image8
	Preview []image8 // held out for previews, never trained on
	// Skipped lists images that could not be used, with the reason.
	Skipped []error
}

// Sources names the training images: every image under each folder
// (recursively) whose name (its path under the folder, without extension)
// matches none of the Exclude glob patterns (path.Match syntax, matched
// against the name and against its last element).
type Sources struct {
	Dirs    []string
	Exclude []string
}

// list returns the image files and their item names. With several folders,
// each name is prefixed by its folder's base name to keep names apart.
func (s Sources) list() (files, names []string, problems []error, err error) {
	for _, p := range s.Exclude {
		if _, err := path.Match(p, ""); err != nil {
			return nil, nil, nil, fmt.Errorf("--exclude %q: %w", p, err)
		}
	}
	for _, dir := range s.Dirs {
		fs, probs := imageio.Find(dir)
		problems = append(problems, probs...)
		ns, err := imageio.Names(dir, fs)
		if err != nil {
			return nil, nil, nil, err
		}
		for i, f := range fs {
			n := ns[i]
			if excluded(n, s.Exclude) {
				continue
			}
			if len(s.Dirs) > 1 {
				n = filepath.Base(filepath.Clean(dir)) + "/" + n
			}
			files = append(files, f)
			names = append(names, n)
		}
	}
	return files, names, problems, nil
}

func excluded(name string, patterns []string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
		if ok, _ := path.Match(p, path.Base(name)); ok {
			return true
		}
	}
	return false
}

// LoadDataset reads the images of src. Unreadable images and images too
// small for the crop rule are reported in Skipped. The previewN images with
// the smallest keyed hash of their name are held out for previews.
func LoadDataset(src Sources, cfg Config, previewN int, opt imageio.Options) (*Dataset, error) {
	files, names, problems, err := src.list()
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		if len(problems) > 0 {
			return nil, problems[0]
		}
		return nil, fmt.Errorf("--lq %s: no images found", strings.Join(src.Dirs, ", "))
	}
	ds := &Dataset{Skipped: problems}
	if !ds.load(files, names, cfg, previewN, opt) {
		return nil, fmt.Errorf("--lq %s: none of the %d images is usable (%d skipped)", strings.Join(src.Dirs, ", "), len(files), len(ds.Skipped))
	}
	return ds, nil
}

// LoadFiles is LoadDataset on a given list of image files, for callers
// that select the images themselves; names[i] is the item name of
// files[i] (it keys the preview hold-out). The error of a list without a
// usable image gives the first reason.
func LoadFiles(files, names []string, cfg Config, previewN int, opt imageio.Options) (*Dataset, error) {
	if len(files) != len(names) {
		panic(fmt.Sprintf("ddpm.LoadFiles: %d files but %d names", len(files), len(names)))
	}
	if len(files) == 0 {
		return nil, errors.New("no images given")
	}
	ds := &Dataset{}
	if !ds.load(files, names, cfg, previewN, opt) {
		return nil, fmt.Errorf("none of the %d images is usable: %w", len(files), ds.Skipped[0])
	}
	return ds, nil
}

// load reads files into ds, adding the unusable ones to Skipped, and holds
// out the previews. It reports whether any image is usable.
func (ds *Dataset) load(files, names []string, cfg Config, previewN int, opt imageio.Options) bool {
	minSide := int(float64(cfg.Resolution)*cfg.MinSideFraction + 0.5)
	var all []image8
	for i, p := range files {
		m, _, err := imageio.Load(p, opt)
		if err != nil {
			ds.Skipped = append(ds.Skipped, err)
			continue
		}
		if min(m.H, m.W) < minSide {
			ds.Skipped = append(ds.Skipped, fmt.Errorf("%s: %dx%d is smaller than %d pixels on a side (min_side_fraction %g of resolution %d): skipped", p, m.W, m.H, minSide, cfg.MinSideFraction, cfg.Resolution))
			continue
		}
		all = append(all, toImage8(names[i], m))
	}
	if len(all) == 0 {
		return false
	}
	// Hold out previews by a keyed hash of the name: stable when images
	// are added, independent of the order of files.
	key := func(n string) uint64 { return rng.New(cfg.Seed, "preview", n).Uint64() }
	order := make([]int, len(all))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return key(all[order[a]].name) < key(all[order[b]].name) })
	n := min(previewN, len(all)-1)
	held := map[int]bool{}
	for _, i := range order[:max(n, 0)] {
		held[i] = true
	}
	for i, im := range all {
		if held[i] {
			ds.Preview = append(ds.Preview, im)
		} else {
			ds.Train = append(ds.Train, im)
		}
	}
	return true
}

func toImage8(name string, m *raster.Image) image8 {
	im := image8{name: name, h: m.H, w: m.W, pix: make([]uint8, 3*m.H*m.W)}
	for i, v := range m.Pix[:3*m.H*m.W] {
		im.pix[i] = uint8(min(max(v*255+0.5, 0), 255))
	}
	return im
}

// reflect maps a coordinate outside [0, n) back inside by mirroring
// without repeating the edge (period 2n-2).
func reflect(i, n int) int {
	if n == 1 {
		return 0
	}
	p := 2*n - 2
	i %= p
	if i < 0 {
		i += p
	}
	if i >= n {
		i = p - i
	}
	return i
}

// crop writes a size x size crop of im at (y0, x0), mirrored when flip,
// into dst (3 planes) scaled to [-1, 1]. Coordinates outside the image are
// reflected, which pads images smaller than the crop.
func (im *image8) crop(dst []float32, y0, x0, size int, flip bool) {
	n := size * size
	for c := 0; c < 3; c++ {
		plane := im.pix[c*im.h*im.w:]
		for y := 0; y < size; y++ {
			sy := reflect(y0+y, im.h)
			row := plane[sy*im.w:]
			out := dst[c*n+y*size:]
			for x := 0; x < size; x++ {
				sx := x
				if flip {
					sx = size - 1 - x
				}
				out[x] = float32(row[reflect(x0+sx, im.w)])*(2.0/255) - 1
			}
		}
	}
}

// randomCrop draws a crop position (and flip) for im from r: uniform over
// the valid positions, centred when the image is smaller than the crop.
func (im *image8) randomCrop(r *rng.Stream, size int, allowFlip bool) (y0, x0 int, flip bool) {
	pos := func(n int) int {
		if n <= size {
			return -(size - n) / 2
		}
		return r.Intn(n - size + 1)
	}
	y0, x0 = pos(im.h), pos(im.w)
	flip = allowFlip && r.Float64() < 0.5
	return
}

// sampleIndex returns the training image of the j-th sample of the run:
// images are visited in a fresh keyed permutation every epoch.
func sampleIndex(seed uint64, n int, j int64, cache *epochCache) int {
	epoch := j / int64(n)
	if cache.epoch != epoch || cache.perm == nil {
		// rng's Perm(n), in the cache's slice.
		cache.epoch = epoch
		if cap(cache.perm) < n {
			cache.perm = make([]int, n)
		}
		p := cache.perm[:n]
		for i := range p {
			p[i] = i
		}
		var name [20]byte
		r := rng.New(seed, "epoch", string(strconv.AppendInt(name[:0], epoch, 10)))
		r.Shuffle(n, func(i, j int) { p[i], p[j] = p[j], p[i] })
		cache.perm = p
	}
	return cache.perm[j%int64(n)]
}

type epochCache struct {
	epoch int64
	perm  []int
}

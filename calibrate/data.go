package calibrate

import (
	"errors"
	"fmt"
	"math"
	"path"
	"path/filepath"
	"sort"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/measure"
	"github.com/degradiff/degradiff/measure/features"
	"github.com/degradiff/degradiff/measure/gap"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
	"github.com/degradiff/degradiff/synth"
)

// File is a named image file.
type File struct {
	Name string `json:"name"`
	Path string `json:"path"`
}

// Files is a measure.Source over image files.
type Files []File

func (f Files) Len() int          { return len(f) }
func (f Files) Name(i int) string { return f[i].Name }
func (f Files) Load(i int) (*raster.Image, error) {
	m, _, err := imageio.Load(f[i].Path, imageio.Options{})
	return m, err
}

// MinPart is the smallest number of real LQ images in each part of the
// split: the classifier test trains on half of the held-out images and
// tests on the other half.
const MinPart = 4

// Split divides the real LQ images into the part the fit uses and the
// held-out part the result is measured on: the images sorted by a hash of
// their names (keyed by nothing else, so the split is the same for every
// seed and every run), the first ⌈holdout·n⌉ held out. It refuses a
// folder too small to leave MinPart images in each part, saying how many
// are needed.
func Split(real Files, holdout float64) (fit, held Files, err error) {
	return split(real, holdout, "--real-lq", "images")
}

// split is Split with the flag and the noun its errors use.
func split(real Files, holdout float64, flag, noun string) (fit, held Files, err error) {
	if !(holdout > 0 && holdout < 1) {
		return nil, nil, fmt.Errorf("--holdout: %v is not a fraction in (0, 1)", holdout)
	}
	n := len(real)
	k := int(math.Ceil(holdout * float64(n)))
	if k < MinPart || n-k < MinPart {
		need := MinPart
		for m := MinPart; m < 1_000_000; m++ {
			h := int(math.Ceil(holdout * float64(m)))
			if h >= MinPart && m-h >= MinPart {
				need = m
				break
			}
		}
		return nil, nil, fmt.Errorf("%s: %d %s are too few to hold out %.0f%% (%d %s) and fit on the rest: at least %d %s are needed with --holdout %g (%d held out and %d fitted on, %d of each at least)",
			flag, n, noun, 100*holdout, k, noun, need, noun, holdout, int(math.Ceil(holdout*float64(need))), need-int(math.Ceil(holdout*float64(need))), MinPart)
	}
	idx := make([]int, n)
	keys := make([]uint64, n)
	for i := range idx {
		idx[i] = i
		keys[i] = rng.New(0, "calibrate/holdout", real[i].Name).Uint64()
	}
	sort.SliceStable(idx, func(a, b int) bool {
		if keys[idx[a]] != keys[idx[b]] {
			return keys[idx[a]] < keys[idx[b]]
		}
		return real[idx[a]].Name < real[idx[b]].Name
	})
	for j, i := range idx {
		if j < k {
			held = append(held, real[i])
		} else {
			fit = append(fit, real[i])
		}
	}
	byName := func(s Files) { sort.Slice(s, func(a, b int) bool { return s[a].Name < s[b].Name }) }
	byName(fit)
	byName(held)
	return fit, held, nil
}

// Crop is one HQ sub-image the fit degrades.
type Crop struct {
	Name string `json:"name"`
	File string `json:"file"`
	// Box is [y, x, h, w] in the file's image.
	Box [4]int `json:"box"`
}

// listCrops cuts the HQ images of the folders into size x size crops
// every step pixels and keeps a random max of them (keyed by seed). Files
// that cannot be read or are smaller than a crop are skipped and counted.
func listCrops(dirs []string, size, step, maxCrops int, seed uint64) (crops []Crop, skipped int, err error) {
	prefix := func(i int) string {
		if len(dirs) == 1 {
			return ""
		}
		return fmt.Sprintf("%d_%s/", i, filepath.Base(filepath.Clean(dirs[i])))
	}
	for i, dir := range dirs {
		files, problems := imageio.Find(dir)
		if len(files) == 0 {
			if len(problems) > 0 {
				return nil, 0, fmt.Errorf("--hq %s: %w", dir, problems[0])
			}
			return nil, 0, fmt.Errorf("--hq %s: no images found", dir)
		}
		names, err := imageio.Names(dir, files)
		if err != nil {
			return nil, 0, fmt.Errorf("--hq %s: %w", dir, err)
		}
		for k, f := range files {
			info, err := imageio.ReadInfo(f, imageio.Options{})
			if err != nil {
				skipped++
				continue
			}
			boxes := synth.Crops(info.Height, info.Width, size, step, 0)
			if len(boxes) == 0 {
				skipped++
				continue
			}
			for j, b := range boxes {
				crops = append(crops, Crop{Name: synth.CropName(prefix(i)+names[k], j+1), File: f, Box: b})
			}
		}
	}
	if len(crops) == 0 {
		return nil, skipped, fmt.Errorf("--hq: no image is at least %dx%d pixels (--crop)", size, size)
	}
	return keepRandom(crops, maxCrops, seed), skipped, nil
}

// keepRandom keeps a random max of the crops (all when max is 0), keyed
// by seed, in their order.
func keepRandom(crops []Crop, max int, seed uint64) []Crop {
	if max <= 0 || len(crops) <= max {
		return crops
	}
	keep := rng.New(seed, "calibrate", "crops").Perm(len(crops))[:max]
	sort.Ints(keep)
	sub := make([]Crop, len(keep))
	for i, k := range keep {
		sub[i] = crops[k]
	}
	return sub
}

// loadCrops reads the crops' images, each file once.
func loadCrops(crops []Crop) ([]*raster.Image, error) {
	out := make([]*raster.Image, len(crops))
	byFile := map[string][]int{}
	var files []string
	for i, c := range crops {
		if _, ok := byFile[c.File]; !ok {
			files = append(files, c.File)
		}
		byFile[c.File] = append(byFile[c.File], i)
	}
	errs := make([]error, len(files))
	parallel.For(len(files), 1, func(lo, hi int) {
		for f := lo; f < hi; f++ {
			img, _, err := imageio.Load(files[f], imageio.Options{})
			if err != nil {
				errs[f] = fmt.Errorf("--hq: %w", err)
				continue
			}
			for _, i := range byFile[files[f]] {
				b := crops[i].Box
				if b[0]+b[2] > img.H || b[1]+b[3] > img.W {
					errs[f] = fmt.Errorf("--hq %s: crop %v does not fit the %dx%d image (changed during the run?)", files[f], b, img.W, img.H)
					break
				}
				out[i] = img.Crop(b[0], b[1], b[2], b[3]).Clone()
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// degradeAll makes one LQ variant of every crop with the config c,
// keyed by seed and the crop's name, in parallel; results do not depend
// on the number of cores.
func degradeAll(c degrade.Config, crops []Crop, imgs []*raster.Image, seed uint64) ([]*raster.Image, error) {
	pipe, err := degrade.New(c)
	if err != nil {
		return nil, err
	}
	out := make([]*raster.Image, len(imgs))
	errs := make([]error, len(imgs))
	parallel.For(len(imgs), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			_, lr, _, err := degrade.Degrade(pipe, imgs[i], seed, crops[i].Name, 0)
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", crops[i].Name, err)
				continue
			}
			out[i] = lr
		}
	})
	return out, errors.Join(errs...)
}

// synthFeatures returns the feature vectors of the LQ images: as many
// crops per image as features.Options asks, but no more than the image
// has distinct crop positions (a 64x64 image has one 64x64 crop).
func synthFeatures(lqs []*raster.Image, names []string, opt features.Options) ([][]float64, error) {
	opt = opt.WithDefaults()
	per := make([][][]float64, len(lqs))
	errs := make([]error, len(lqs))
	parallel.For(len(lqs), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			o := opt
			m := lqs[i]
			if m.H >= o.PatchSize && m.W >= o.PatchSize {
				o.Patches = min(o.Patches, ((m.H-o.PatchSize)/8+1)*((m.W-o.PatchSize)/8+1))
			}
			per[i], errs[i] = features.Image(m, "synth/"+names[i], o)
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var out [][]float64
	for _, f := range per {
		out = append(out, f...)
	}
	return out, nil
}

// realFeatures returns the feature vectors of the real LQ images, keyed
// as measure.Gap keys them, so that the proxy sees the crops the full
// measures see. Images too small for a crop are skipped and counted.
func realFeatures(real Files, opt features.Options) (feats [][]float64, used int, err error) {
	per := make([][][]float64, len(real))
	errs := make([]error, len(real))
	parallel.For(len(real), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			m, err := real.Load(i)
			if err != nil {
				errs[i] = fmt.Errorf("--real-lq: %w", err)
				continue
			}
			per[i], _ = features.Image(m, "real/"+real[i].Name, opt)
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, 0, err
	}
	for _, f := range per {
		if len(f) > 0 {
			used++
			feats = append(feats, f...)
		}
	}
	return feats, used, nil
}

// Objectives lists the proxy objectives: moments and fd compare feature
// statistics with unpaired real LQ images; PairedObjectives compare the
// degraded crops with the real LR crops of the same scenes.
var Objectives = append([]string{"fd", "moments"}, PairedObjectives...)

// target holds what the proxy compares synthetic features with.
type target struct {
	kind      string
	feats     [][]float64
	mean, sd  []float64
	usedFeats []int // features whose real spread is not zero
}

func newTarget(kind string, feats [][]float64) *target {
	d := features.Dim
	t := &target{kind: kind, feats: feats, mean: make([]float64, d), sd: make([]float64, d)}
	t.mean, t.sd = moments(feats)
	for j := range d {
		if t.sd[j] > 1e-9*max(1, math.Abs(t.mean[j])) {
			t.usedFeats = append(t.usedFeats, j)
		}
	}
	return t
}

func moments(x [][]float64) (mean, sd []float64) {
	d := features.Dim
	mean, sd = make([]float64, d), make([]float64, d)
	for _, v := range x {
		for j := range d {
			mean[j] += v[j]
		}
	}
	for j := range d {
		mean[j] /= float64(len(x))
	}
	for _, v := range x {
		for j := range d {
			sd[j] += (v[j] - mean[j]) * (v[j] - mean[j])
		}
	}
	for j := range d {
		sd[j] = math.Sqrt(sd[j] / float64(len(x)))
	}
	return mean, sd
}

// proxy returns the cheap distance between the synthetic features and
// the target:
//
//   - moments: the mean over the features of the squared standardised
//     difference of the means plus the squared log ratio of the standard
//     deviations, both standardised by the real images' spread;
//   - fd: the Fréchet distance of the vectors z-scored on the two sets
//     pooled, as measure.Gap computes FD.
func (t *target) proxy(synth [][]float64) (float64, error) {
	if len(synth) < 2 {
		return 0, fmt.Errorf("calibrate: %d synthetic feature vectors, need 2", len(synth))
	}
	switch t.kind {
	case "fd":
		x, y := gap.Standardize(t.feats, synth)
		return gap.FrechetDistance(x, y)
	case "moments":
		mean, sd := moments(synth)
		s := 0.0
		for _, j := range t.usedFeats {
			dm := (mean[j] - t.mean[j]) / t.sd[j]
			ds := math.Log(max(sd[j], 1e-6*t.sd[j]) / t.sd[j])
			s += dm*dm + ds*ds
		}
		return s / float64(max(1, len(t.usedFeats))), nil
	}
	return 0, fmt.Errorf("--objective: unknown objective %q", t.kind)
}

// imagesOf wraps LQ images as a measure.Source.
func imagesOf(lqs []*raster.Image, crops []Crop) measure.Source {
	imgs := make([]measure.Image, len(lqs))
	for i, m := range lqs {
		imgs[i] = measure.Image{Name: crops[i].Name, Image: m}
	}
	return measure.Images(imgs)
}

// SelectFiles lists the images under dir (recursively, named as
// imageio.Names names them) whose name, or its last element, matches one
// of include (all when empty) and none of exclude (path.Match globs).
func SelectFiles(flag, dir string, include, exclude []string) (Files, error) {
	files, problems := imageio.Find(dir)
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s %s: %w", flag, dir, problems[0])
	}
	names, err := imageio.Names(dir, files)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, dir, err)
	}
	match := func(pats []string, name string) bool {
		for _, p := range pats {
			if ok, _ := path.Match(p, name); ok {
				return true
			}
			if ok, _ := path.Match(p, path.Base(name)); ok {
				return true
			}
		}
		return false
	}
	var out Files
	for i, n := range names {
		if len(include) > 0 && !match(include, n) || match(exclude, n) {
			continue
		}
		out = append(out, File{Name: n, Path: files[i]})
	}
	if len(out) == 0 {
		if len(files) == 0 {
			return nil, fmt.Errorf("%s %s: no images found", flag, dir)
		}
		return nil, fmt.Errorf("%s %s: none of its %d images is left by the include and exclude patterns", flag, dir, len(files))
	}
	return out, nil
}

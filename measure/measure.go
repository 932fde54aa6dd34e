// Package measure tells how far a set of synthetic low-quality images is
// from a set of real ones, the question behind degradiff: are its pairs
// more realistic than those of hand-made degradation pipelines?
//
// Gap answers with two kinds of evidence:
//
//   - distances between the distributions of degradation features
//     (package measure/features: noise, blur, blocking, spectrum, colour
//     and BRISQUE statistics of fixed-size crops), z-scored on the two
//     sets pooled (gap.Standardize) so that every feature counts about
//     equally: KID, unbiased and comparable across set sizes, and the
//     Fréchet distance (package measure/gap); with, per feature, the
//     standardised difference of the means, which says which degradation
//     differs;
//   - a classifier two-sample test (package measure/c2st): the held-out
//     accuracy of a small network trained to tell real from synthetic
//     patches, 0.5 when they cannot be told apart, with a confidence
//     interval over repeated splits by image.
//
// Lower is better for all of them (accuracy down to 0.5). The
// full-reference metrics PSNR and SSIM are in package measure/fidelity.
//
// Images are read as needed (Dir, or any Source; one per worker at a
// time) and only their crops are kept: about 0.2 MB per image with the
// default options, twice that during the classifier test.
package measure

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/measure/c2st"
	"github.com/degradiff/degradiff/measure/features"
	"github.com/degradiff/degradiff/measure/gap"
	"github.com/degradiff/degradiff/raster"
)

// Source is a set of images read on demand.
type Source interface {
	// Len returns the number of images.
	Len() int
	// Name returns the unique name of image i; it keys the image's random
	// crops.
	Name(i int) string
	// Load returns image i (1 or 3 planes in [0, 1]).
	Load(i int) (*raster.Image, error)
}

// Image is a named in-memory image.
type Image struct {
	Name  string
	Image *raster.Image
}

type images []Image

func (s images) Len() int                          { return len(s) }
func (s images) Name(i int) string                 { return s[i].Name }
func (s images) Load(i int) (*raster.Image, error) { return s[i].Image, nil }

// Images returns a Source over images already in memory.
func Images(imgs []Image) Source { return images(imgs) }

type dir struct {
	files, names []string
	opt          imageio.Options
}

func (d *dir) Len() int          { return len(d.files) }
func (d *dir) Name(i int) string { return d.names[i] }
func (d *dir) Load(i int) (*raster.Image, error) {
	m, _, err := imageio.Load(d.files[i], d.opt)
	return m, err
}

// Dir returns the images under root (recursively, as imageio.Find lists
// them), named by imageio.Names. It fails if root cannot be scanned or any
// part of it cannot be read, naming every problem, so that a measurement
// never silently covers less than the folder.
func Dir(root string) (Source, error) {
	files, problems := imageio.Find(root)
	if len(problems) > 0 {
		return nil, fmt.Errorf("measure: scanning %s: %w", root, errors.Join(problems...))
	}
	names, err := imageio.Names(root, files)
	if err != nil {
		return nil, fmt.Errorf("measure: naming the images of %s: %w", root, err)
	}
	return &dir{files: files, names: names}, nil
}

// Options configures Gap.
type Options struct {
	// Features selects the crops that the feature distances describe.
	Features features.Options `json:"features" yaml:"features"`
	// KID sets the subsets of the kernel distance.
	KID gap.KIDOptions `json:"kid" yaml:"kid"`
	// C2ST configures the classifier test.
	C2ST c2st.Options `json:"c2st" yaml:"c2st"`
	// SkipC2ST leaves the classifier test out (it takes most of the time).
	SkipC2ST bool `json:"skip_c2st" yaml:"skip_c2st"`
	// Seed, when not 0, replaces the seeds of Features, KID and C2ST.
	Seed uint64 `json:"seed" yaml:"seed"`
	// Progress, if not nil, is called as work is done: stage "images" after
	// each image read and cut (done counts both sets), stage "c2st" after
	// each split. It is called from one goroutine at a time.
	Progress func(stage string, done, total int) `json:"-" yaml:"-"`
}

// Report is the outcome of Gap, ready for encoding/json.
type Report struct {
	Real  SetInfo `json:"real"`
	Synth SetInfo `json:"synth"`
	// Skipped lists the images left out, with the reason.
	Skipped []Skipped `json:"skipped,omitempty"`
	// KID is the kernel distance of the standardised feature vectors.
	KID KIDResult `json:"kid"`
	// FD is the Fréchet distance of the standardised feature vectors.
	FD float64 `json:"fd"`
	// C2ST is the classifier test; nil when skipped.
	C2ST *c2st.Result `json:"c2st,omitempty"`
	// Features compares the sets feature by feature, in features.Names
	// order.
	Features []FeatureGap `json:"features"`
	// Options holds the options used, defaults filled in.
	Options Options `json:"options"`
}

// SetInfo counts what was measured of one set.
type SetInfo struct {
	Images  int `json:"images"`
	Patches int `json:"patches"`
}

// Skipped names an image that was left out.
type Skipped struct {
	Set    string `json:"set"` // "real" or "synth"
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// KIDResult is the kernel distance with the subsets it was computed on.
type KIDResult struct {
	Mean       float64 `json:"mean"`
	Std        float64 `json:"std"`
	Subsets    int     `json:"subsets"`
	SubsetSize int     `json:"subset_size"`
}

// FeatureGap compares one feature between the sets.
type FeatureGap struct {
	Name      string  `json:"name"`
	RealMean  float64 `json:"real_mean"`
	SynthMean float64 `json:"synth_mean"`
	// Effect is (SynthMean − RealMean) divided by the standard deviation of
	// the two sets pooled (0 for a constant feature): how many standard
	// deviations synthetic images are off, with the sign of the error.
	Effect float64 `json:"effect"`
}

// ErrTooFew reports a set with fewer than 2 usable images.
var ErrTooFew = errors.New("measure: too few usable images")

// set is what Gap keeps of one set of images.
type set struct {
	feats   [][]float64 // per image, then flattened
	groups  []c2st.Group
	skipped []Skipped
}

// Gap measures how far synth is from real (see the package documentation).
// Images that cannot be loaded or are smaller than a crop are skipped and
// listed in the report; each set needs 2 usable images.
func Gap(real, synth Source, opt Options) (Report, error) {
	if opt.Seed != 0 {
		opt.Features.Seed, opt.KID.Seed, opt.C2ST.Seed = opt.Seed, opt.Seed, opt.Seed
	}
	opt.Features = opt.Features.WithDefaults()
	opt.C2ST = opt.C2ST.WithDefaults()
	if err := opt.Features.Validate(); err != nil {
		return Report{}, err
	}
	if err := opt.C2ST.Validate(); err != nil {
		return Report{}, err
	}
	var mu sync.Mutex
	done, total := 0, real.Len()+synth.Len()
	tick := func() {
		if opt.Progress == nil {
			return
		}
		mu.Lock()
		done++
		opt.Progress("images", done, total)
		mu.Unlock()
	}
	sets := [2]*set{read(real, "real", opt, tick), read(synth, "synth", opt, tick)}
	rep := Report{Options: opt}
	for i, s := range sets {
		info := SetInfo{Images: len(s.groups), Patches: len(s.feats)}
		if i == 0 {
			rep.Real = info
		} else {
			rep.Synth = info
		}
		rep.Skipped = append(rep.Skipped, s.skipped...)
		if len(s.groups) < 2 {
			return rep, fmt.Errorf("%w: %d of %d %s images usable, need 2", ErrTooFew, len(s.groups), len(s.groups)+len(s.skipped), []string{"real", "synth"}[i])
		}
	}
	x, y := gap.Standardize(sets[0].feats, sets[1].feats)
	rep.Features = featureGaps(sets[0].feats, sets[1].feats)
	kopt := opt.KID.Resolve(len(x), len(y))
	mean, std, err := gap.KID(x, y, kopt)
	if err != nil {
		return rep, err
	}
	rep.KID = KIDResult{Mean: mean, Std: std, Subsets: kopt.Subsets, SubsetSize: kopt.SubsetSize}
	if rep.FD, err = gap.FrechetDistance(x, y); err != nil {
		return rep, err
	}
	if opt.SkipC2ST {
		return rep, nil
	}
	copt := opt.C2ST
	if opt.Progress != nil {
		copt.Progress = func(d, t int) { opt.Progress("c2st", d, t) }
	}
	res, err := c2st.Run(sets[0].groups, sets[1].groups, copt)
	if err != nil {
		return rep, err
	}
	rep.C2ST = &res
	return rep, nil
}

// read loads every image of src once, in parallel, and keeps its feature
// vectors and classifier patches. The crops are keyed by the set's name
// and the image's, so that an image present in both sets is cut
// differently in each.
func read(src Source, name string, opt Options, tick func()) *set {
	n := src.Len()
	feats := make([][][]float64, n)
	groups := make([]c2st.Group, n)
	reasons := make([]error, n)
	parallel.For(n, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			feats[i], groups[i], reasons[i] = readOne(src, i, name, opt)
			tick()
		}
	})
	s := &set{}
	for i := range n {
		if reasons[i] != nil {
			s.skipped = append(s.skipped, Skipped{Set: name, Name: src.Name(i), Reason: reasons[i].Error()})
			continue
		}
		s.feats = append(s.feats, feats[i]...)
		s.groups = append(s.groups, groups[i])
	}
	return s
}

func readOne(src Source, i int, set string, opt Options) ([][]float64, c2st.Group, error) {
	m, err := src.Load(i)
	if err != nil {
		return nil, nil, err
	}
	key := set + "/" + src.Name(i)
	f, err := features.Image(m, key, opt.Features)
	if err != nil {
		return nil, nil, err
	}
	if opt.SkipC2ST {
		return f, nil, nil
	}
	g, err := c2st.Cut(m, key, opt.C2ST)
	if err != nil {
		return nil, nil, err
	}
	return f, g, nil
}

// featureGaps compares x and y feature by feature.
func featureGaps(x, y [][]float64) []FeatureGap {
	names := features.Names()
	out := make([]FeatureGap, len(names))
	for j, name := range names {
		mx, my := mean(x, j), mean(y, j)
		m := (mx*float64(len(x)) + my*float64(len(y))) / float64(len(x)+len(y))
		ss := 0.0
		for _, s := range [][][]float64{x, y} {
			for _, v := range s {
				ss += (v[j] - m) * (v[j] - m)
			}
		}
		sd := math.Sqrt(ss / float64(len(x)+len(y)))
		e := 0.0
		if sd > 1e-12*max(1, math.Abs(m)) {
			e = (my - mx) / sd
		}
		out[j] = FeatureGap{Name: name, RealMean: mx, SynthMean: my, Effect: e}
	}
	return out
}

func mean(x [][]float64, j int) float64 {
	s := 0.0
	for _, v := range x {
		s += v[j]
	}
	return s / float64(len(x))
}

package experiment

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/pairset"
	"github.com/degradiff/degradiff/pairset/pairread"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/train/ddpm"
)

// openTest opens the real test pairs; pairread names every layout problem
// (no HR/ or LR/, unmatched names, sizes that do not fit the scale).
func openTest(c Config) (*pairread.Set, error) {
	s, err := pairread.OpenWith(c.Test, pairread.Options{Scale: c.Scale, Include: c.TestInclude, Exclude: c.TestExclude})
	if err != nil {
		return nil, fmt.Errorf("--test: %w", err)
	}
	return s, nil
}

// openRealPairs opens the real training pairs of the Real source.
func openRealPairs(c Config) (*pairread.Set, error) {
	s, err := pairread.OpenWith(c.RealPairs, pairread.Options{Scale: c.Scale, Include: c.RealPairsInclude, Exclude: c.RealPairsExclude})
	if err != nil {
		return nil, fmt.Errorf("--real-pairs: %w", err)
	}
	return s, nil
}

// openVal opens the validation pairs.
func openVal(c Config) (*pairread.Set, error) {
	s, err := pairread.OpenWith(c.Val, pairread.Options{Scale: c.Scale, Include: c.ValInclude, Exclude: c.ValExclude})
	if err != nil {
		return nil, fmt.Errorf("--val: %w", err)
	}
	return s, nil
}

// valPairsFile lists the validation pairs that OUT/val's results are of.
const valPairsFile = "pairs.txt"

// checkValPairs records the validation pairs in OUT/val/pairs.txt, or,
// when results of an earlier run on other pairs are there, refuses them:
// the two would be mixed.
func (r *runner) checkValPairs() error {
	var b strings.Builder
	for _, p := range r.val.Pairs {
		fmt.Fprintf(&b, "%s, %s\n", canonical(p.HRPath), canonical(p.LRPath))
	}
	dir := filepath.Join(r.out, ValDir)
	f := filepath.Join(dir, valPairsFile)
	old, err := os.ReadFile(f)
	switch {
	case err == nil && string(old) == b.String():
		return nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if results, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(results) > 0 {
		if err == nil {
			return fmt.Errorf("--val: %s holds results on other validation pairs (listed in %s): delete that folder to validate on these", dir, f)
		}
		return fmt.Errorf("--val: %s holds results without the list of their pairs (%s): delete that folder to validate again", dir, valPairsFile)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return pairset.WriteFileAtomic(f, []byte(b.String()))
}

// seenLR counts the LR images of set that are among the real LQ images.
func seenLR(set *pairread.Set, real *lqSet) int {
	files := map[string]bool{}
	for _, f := range real.files {
		files[canonical(f)] = true
	}
	n := 0
	for _, p := range set.Pairs {
		if files[canonical(p.LRPath)] {
			n++
		}
	}
	return n
}

// checkShared refuses pairs of set that share an image with a pair of
// other (the test pairs), naming flag and its exclude option.
func checkShared(flag string, set, other *pairread.Set) error {
	if f, t, ok := sharedImage(set, other); ok {
		return fmt.Errorf("%s: %s is an image of test pair %s: leave the test pairs out (%s-exclude)", flag, f, t, flag)
	}
	return nil
}

// sharedImage returns the first image of a pair of set that is also an
// image of a pair of other, and the name of that pair.
func sharedImage(set, other *pairread.Set) (file, pair string, ok bool) {
	names := map[string]string{}
	for _, p := range other.Pairs {
		names[canonical(p.HRPath)], names[canonical(p.LRPath)] = p.Name, p.Name
	}
	for _, p := range set.Pairs {
		for _, f := range []string{p.HRPath, p.LRPath} {
			if t, ok := names[canonical(f)]; ok {
				return f, t, true
			}
		}
	}
	return "", "", false
}

// lqSet is the selected real LQ images, a measure.Source.
type lqSet struct {
	files, names []string
}

func (s *lqSet) Len() int          { return len(s.files) }
func (s *lqSet) Name(i int) string { return s.names[i] }
func (s *lqSet) Load(i int) (*raster.Image, error) {
	m, _, err := imageio.Load(s.files[i], imageio.Options{})
	return m, err
}

// matchAny reports whether name, or its last element, matches a pattern.
func matchAny(pats []string, name string) bool {
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

// openRealLQ lists the real LQ images, selected by name, and checks from
// their headers that at least two are large enough to measure.
func openRealLQ(c Config) (*lqSet, error) {
	dir := c.RealLQ
	files, problems := imageio.Find(dir)
	if len(problems) > 0 {
		return nil, fmt.Errorf("--real-lq %s: %w", dir, problems[0])
	}
	names, err := imageio.Names(dir, files)
	if err != nil {
		return nil, fmt.Errorf("--real-lq %s: %w", dir, err)
	}
	s := &lqSet{}
	for i, n := range names {
		if len(c.RealLQInclude) > 0 && !matchAny(c.RealLQInclude, n) || matchAny(c.RealLQExclude, n) {
			continue
		}
		s.files, s.names = append(s.files, files[i]), append(s.names, n)
	}
	if len(s.files) == 0 {
		if len(files) == 0 {
			return nil, fmt.Errorf("--real-lq %s: no images found", dir)
		}
		return nil, fmt.Errorf("--real-lq %s: none of its %d images is left by the include and exclude patterns", dir, len(files))
	}
	p := c.Gap.Features.WithDefaults().PatchSize
	// The adapt stage's crop rule (ddpm's min_side_fraction), checked
	// here, before the settings bind the output folder.
	a := int(float64(c.Adapt.Resolution)*ddpm.Default().MinSideFraction + 0.5)
	usable, adaptable := 0, 0
	for _, f := range s.files {
		info, err := imageio.ReadInfo(f, imageio.Options{})
		if err != nil {
			return nil, fmt.Errorf("--real-lq: %w", err)
		}
		if info.Width >= p && info.Height >= p {
			usable++
		}
		if min(info.Width, info.Height) >= a {
			adaptable++
		}
	}
	if usable < 2 {
		return nil, fmt.Errorf("--real-lq %s: %d of %d images are at least %dx%d pixels (gap.features.patch_size), need 2",
			dir, usable, len(s.files), p, p)
	}
	if adaptable == 0 && c.adapting() {
		return nil, fmt.Errorf("--real-lq %s: none of the %d images is at least %d pixels on a side, too small to adapt the diffusion model on crops of %d (adapt.resolution)",
			dir, len(s.files), a, c.Adapt.Resolution)
	}
	return s, nil
}

// checkLeaks refuses inputs that would let the test pairs into the
// experiment: a real LQ image that is a test LR image (the diffusion model
// learns from the real LQ set), or an HQ source that is a test HR image.
func checkLeaks(c Config, real *lqSet, test *pairread.Set) error {
	lr, hr := map[string]string{}, map[string]string{}
	for _, p := range test.Pairs {
		lr[canonical(p.LRPath)], hr[canonical(p.HRPath)] = p.Name, p.Name
	}
	for i, f := range real.files {
		if t, ok := lr[canonical(f)]; ok {
			return fmt.Errorf("--real-lq: %s is the LR image of test pair %s: leave the test images out (--real-lq-exclude), e.g. with the --test-include patterns", real.names[i], t)
		}
	}
	return checkHQ(c, hr, "test pair")
}

// checkHQ refuses HQ images among hr (canonical HR path -> pair name),
// the HR images of the pairs named by what.
func checkHQ(c Config, hr map[string]string, what string) error {
	for _, d := range c.HQ {
		files, _ := imageio.Find(d)
		for _, f := range files {
			if t, ok := hr[canonical(f)]; ok {
				return fmt.Errorf("--hq %s: %s is the HR image of %s %s: HQ sources must not include them", d, f, what, t)
			}
		}
	}
	return nil
}

// checkValHQ refuses validation pairs whose HR image is an HQ image: the
// synthetic sources would train on what validates them.
func checkValHQ(c Config, val *pairread.Set) error {
	hr := map[string]string{}
	for _, p := range val.Pairs {
		hr[canonical(p.HRPath)] = p.Name
	}
	return checkHQ(c, hr, "validation pair")
}

// canonical returns the absolute path of p with links resolved.
func canonical(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		p = a
	}
	if e, err := filepath.EvalSymlinks(p); err == nil {
		p = e
	}
	return p
}

// hqPrefixes returns the name prefix of each HQ folder: none for a single
// folder, else its base name ("Set5/baby_s001"), made unique.
func hqPrefixes(dirs []string) []string {
	out := make([]string, len(dirs))
	if len(dirs) == 1 {
		return out
	}
	used := map[string]bool{}
	for i, d := range dirs {
		base := strings.ReplaceAll(filepath.Base(d), " ", "_")
		p := base
		for k := 2; used[strings.ToLower(p)]; k++ {
			p = fmt.Sprintf("%s_%d", base, k)
		}
		used[strings.ToLower(p)] = true
		out[i] = p + "/"
	}
	return out
}

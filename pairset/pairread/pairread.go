// Package pairread reads folders of paired HR/LR images for training and
// testing super-resolution models.
//
// Open accepts two layouts:
//
//   - A folder with meta_info.txt, as degradiff's degrade and synth commands
//     write it (package pairset) and as Real-ESRGAN's paired datasets use:
//     one "HR/NAME.png, LR/NAME_kk.png" line per pair, paths relative to the
//     folder. One HR image may have several LR variants.
//   - A folder with HR/ and LR/ subfolders (any image format, searched
//     recursively) whose files are matched by name. An LR file pairs with
//     the HR file of the same name without extension ("Canon_001.png" in
//     both, as RealSR), or, failing that, with the HR file its name has
//     after removing a BasicSR scale suffix ("0001x4" -> "0001", DIV2K's
//     LR_bicubic naming) or a degradiff variant suffix ("0001_03" ->
//     "0001"). Every LR file must find its HR file and every HR file must
//     have at least one LR file.
//
// Each LR image must be the HR size divided by the scale. An HR image may
// be larger by less than the scale on each side (the remainder BasicSR's
// mod_crop removes): it is then cropped at the bottom and right, as mod_crop
// does. Open reads only the image headers; every problem found (unmatched
// names, wrong sizes, unreadable files) is reported, naming the files.
//
// Options.Include and Exclude select pairs by glob patterns on the HR name,
// for example the RealSR test split "Canon_04[1-9]*,Canon_050*".
//
// # Memory
//
// Images are loaded lazily, on first use, and kept in memory up to
// Options.CacheBytes (DefaultCacheBytes by default) in their stored
// precision: one byte per sample for 8-bit files, two for 16-bit files,
// four for anything else, so the cache is lossless and a cached image is
// bit-identical to a fresh load. A training set of a few thousand 512x512
// pairs fits; beyond the budget, the images that do not fit are read from
// disk at each use.
package pairread

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/raster"
)

// Folder and file names of a paired folder.
const (
	HRDir    = "HR"
	LRDir    = "LR"
	MetaFile = "meta_info.txt"
)

// DefaultCacheBytes is the cache budget used when Options.CacheBytes is 0.
const DefaultCacheBytes = 2 << 30

// Layout is how a paired folder lists its pairs.
type Layout int

// The layouts Open accepts.
const (
	MetaInfo Layout = iota // pairs listed in meta_info.txt
	Folders                // HR/ and LR/ files matched by name
)

// String returns the name of the layout.
func (l Layout) String() string {
	if l == MetaInfo {
		return MetaFile
	}
	return "HR/ and LR/ matched by name"
}

// Pair is one HR/LR pair of a set.
type Pair struct {
	// Name identifies the pair: the LR file's path under LR/ without its
	// extension ("Canon_001", "sub/0001_02"). Names are unique in a set.
	Name string
	// HRName is the HR file's path under HR/ without its extension. Several
	// pairs share it when an HR image has several LR variants.
	HRName string
	// HRPath and LRPath are the files.
	HRPath, LRPath string
	// LRW and LRH are the LR size. The HR image used is LRW*Scale x
	// LRH*Scale, its top-left part.
	LRW, LRH int

	line int // in meta_info.txt
}

// Options configures Open.
type Options struct {
	// Scale is the ratio of HR to LR size (4 for x4). Required.
	Scale int
	// Include keeps only pairs whose HR name, or its last element, matches
	// one of these patterns (path.Match syntax: *, ?, [a-z]); empty keeps
	// all. Exclude then drops pairs whose HR name, or its last element,
	// matches one of its patterns. See ParseGlobs.
	Include, Exclude []string
	// MaxPixels is the largest image accepted (imageio.Options.MaxPixels).
	MaxPixels int64
	// CacheBytes is the memory budget for decoded images: 0 means
	// DefaultCacheBytes, a negative value disables the cache.
	CacheBytes int64
}

// Set is an opened paired folder. Its methods are safe for concurrent use.
type Set struct {
	Dir    string
	Scale  int
	Layout Layout
	Pairs  []Pair

	load imageio.Options

	mu     sync.Mutex
	cache  map[string]*stored // by file path
	budget int64              // bytes left in the cache
}

// ParseGlobs splits a comma-separated list of glob patterns ("a*,b?c") and
// checks their syntax. Empty items are ignored.
func ParseGlobs(list string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("bad name pattern %q: %w", p, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Open reads the paired folder dir with every pair selected and the
// default cache; see OpenWith.
func Open(dir string, scale int) (*Set, error) {
	return OpenWith(dir, Options{Scale: scale})
}

// OpenWith reads the list of pairs of the folder dir, in either layout
// (meta_info.txt takes precedence when present), selects pairs with
// opt.Include and opt.Exclude, and checks that every selected pair's files
// are readable images of matching sizes. Pairs are sorted by name.
func OpenWith(dir string, opt Options) (*Set, error) {
	if opt.Scale < 1 {
		return nil, fmt.Errorf("paired folder %s: scale %d must be at least 1", dir, opt.Scale)
	}
	for _, p := range append(append([]string(nil), opt.Include...), opt.Exclude...) {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("bad name pattern %q: %w", p, err)
		}
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("paired folder: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("paired folder %s is not a folder", dir)
	}
	s := &Set{Dir: dir, Scale: opt.Scale, load: imageio.Options{MaxPixels: opt.MaxPixels}, cache: map[string]*stored{}}
	s.budget = opt.CacheBytes
	if s.budget == 0 {
		s.budget = DefaultCacheBytes
	}
	meta := filepath.Join(dir, MetaFile)
	if _, err := os.Stat(meta); err == nil {
		s.Layout = MetaInfo
		s.Pairs, err = readMeta(dir, meta)
		if err != nil {
			return nil, err
		}
		s.Pairs = selectPairs(s.Pairs, opt)
		if err := checkListed(meta, s.Pairs); err != nil {
			return nil, err
		}
	} else {
		s.Layout = Folders
		s.Pairs, err = matchFolders(dir, opt)
		if err != nil {
			return nil, err
		}
	}
	if len(s.Pairs) == 0 {
		if len(opt.Include)+len(opt.Exclude) > 0 {
			return nil, fmt.Errorf("paired folder %s: no pair's HR name matches --include %q (excluding %q)",
				dir, strings.Join(opt.Include, ","), strings.Join(opt.Exclude, ","))
		}
		return nil, fmt.Errorf("paired folder %s has no pairs (%s)", dir, s.Layout)
	}
	sort.Slice(s.Pairs, func(i, j int) bool { return s.Pairs[i].Name < s.Pairs[j].Name })
	for i := 1; i < len(s.Pairs); i++ {
		if s.Pairs[i].Name == s.Pairs[i-1].Name {
			return nil, fmt.Errorf("paired folder %s: two pairs are named %s (%s and %s)", dir,
				s.Pairs[i].Name, s.Pairs[i-1].LRPath, s.Pairs[i].LRPath)
		}
	}
	if err := s.checkSizes(); err != nil {
		return nil, err
	}
	return s, nil
}

// Len returns the number of pairs.
func (s *Set) Len() int { return len(s.Pairs) }

// selected reports whether the HR name passes the include and exclude
// patterns.
func selected(name string, opt Options) bool {
	match := func(pats []string) bool {
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
	if len(opt.Include) > 0 && !match(opt.Include) {
		return false
	}
	return !match(opt.Exclude)
}

func selectPairs(ps []Pair, opt Options) []Pair {
	out := ps[:0]
	for _, p := range ps {
		if selected(p.HRName, opt) {
			out = append(out, p)
		}
	}
	return out
}

// itemName returns rel (slash-separated, relative to the set folder)
// without its extension and without a leading "HR/" or "LR/" folder.
func itemName(rel, sub string) string {
	rel = strings.TrimPrefix(rel, "./")
	if len(rel) > len(sub) && strings.EqualFold(rel[:len(sub)+1], sub+"/") {
		rel = rel[len(sub)+1:]
	}
	return strings.TrimSuffix(rel, path.Ext(rel))
}

// readMeta parses meta_info.txt: "HR/a.png, LR/a_00.png" per line.
func readMeta(dir, meta string) ([]Pair, error) {
	f, err := os.Open(meta)
	if err != nil {
		return nil, fmt.Errorf("paired folder: %w", err)
	}
	defer f.Close()
	var pairs []Pair
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		parts := strings.Split(text, ",")
		if len(parts) != 2 || strings.TrimSpace(parts[0]) == "" || strings.TrimSpace(parts[1]) == "" {
			return nil, fmt.Errorf("%s line %d: %q is not an \"HR/NAME.png, LR/NAME.png\" pair", meta, line, text)
		}
		hr := path.Clean(filepath.ToSlash(strings.TrimSpace(parts[0])))
		lr := path.Clean(filepath.ToSlash(strings.TrimSpace(parts[1])))
		if path.IsAbs(hr) || path.IsAbs(lr) || hr == ".." || lr == ".." || strings.HasPrefix(hr, "../") || strings.HasPrefix(lr, "../") {
			return nil, fmt.Errorf("%s line %d: paths must be relative to the folder, inside it: %q", meta, line, text)
		}
		pairs = append(pairs, Pair{
			Name:   itemName(lr, LRDir),
			HRName: itemName(hr, HRDir),
			HRPath: filepath.Join(dir, filepath.FromSlash(hr)),
			LRPath: filepath.Join(dir, filepath.FromSlash(lr)),
			line:   line,
		})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", meta, err)
	}
	return pairs, nil
}

// checkListed reports the files of pairs listed in meta that do not exist.
func checkListed(meta string, pairs []Pair) error {
	var missing []string
	n := 0
	for _, p := range pairs {
		for _, q := range []string{p.HRPath, p.LRPath} {
			if _, err := os.Stat(q); err != nil {
				n++
				if len(missing) < 5 {
					missing = append(missing, fmt.Sprintf("line %d: %s", p.line, q))
				}
			}
		}
	}
	if n > 0 {
		return fmt.Errorf("%s lists %d file(s) that do not exist: %s%s", meta, n, strings.Join(missing, "; "), more(n, len(missing)))
	}
	return nil
}

func more(total, shown int) string {
	if total > shown {
		return fmt.Sprintf("; and %d more", total-shown)
	}
	return ""
}

// subfolder finds dir's child folder named name, ignoring case.
func subfolder(dir, name string) (string, bool) {
	p := filepath.Join(dir, name)
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		return p, true
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.EqualFold(e.Name(), name) {
			q := filepath.Join(dir, e.Name())
			if st, err := os.Stat(q); err == nil && st.IsDir() {
				return q, true
			}
		}
	}
	return "", false
}

// listImages returns the images under root keyed by name (path under root
// without extension), refusing two files with the same name.
func listImages(root string) (map[string]string, []string, error) {
	files, problems := imageio.Find(root)
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("listing %s: %w", root, problems[0])
	}
	byName := make(map[string]string, len(files))
	names := make([]string, 0, len(files))
	for _, f := range files {
		n, err := imageio.RelName(root, f)
		if err != nil {
			return nil, nil, err
		}
		if prev, dup := byName[n]; dup {
			return nil, nil, fmt.Errorf("%s holds two images named %s (%s and %s): names must be unique without extension",
				root, n, filepath.Base(prev), filepath.Base(f))
		}
		byName[n] = f
		names = append(names, n)
	}
	return byName, names, nil
}

// variantSuffix is degradiff's "_kk" LR variant suffix.
var variantSuffix = regexp.MustCompile(`_[0-9]{2,}$`)

// hrCandidates returns the HR names an LR name may pair with, in order of
// preference: itself, without a BasicSR "x4" suffix, without a variant
// suffix.
func hrCandidates(lr string, scale int) []string {
	c := []string{lr}
	if s := "x" + strconv.Itoa(scale); strings.HasSuffix(lr, s) && len(lr) > len(s) {
		c = append(c, strings.TrimSuffix(lr, s))
	}
	if loc := variantSuffix.FindStringIndex(lr); loc != nil && loc[0] > 0 {
		c = append(c, lr[:loc[0]])
	}
	return c
}

// matchFolders pairs the files of HR/ and LR/ by name.
func matchFolders(dir string, opt Options) ([]Pair, error) {
	hrDir, ok := subfolder(dir, HRDir)
	if !ok {
		return nil, fmt.Errorf("%s has no %s/ folder: a paired folder needs %s/ and %s/ (see README)", dir, HRDir, HRDir, LRDir)
	}
	lrDir, ok := subfolder(dir, LRDir)
	if !ok {
		return nil, fmt.Errorf("%s has no %s/ folder: a paired folder needs %s/ and %s/ (see README)", dir, LRDir, HRDir, LRDir)
	}
	hrs, _, err := listImages(hrDir)
	if err != nil {
		return nil, err
	}
	lrs, lrNames, err := listImages(lrDir)
	if err != nil {
		return nil, err
	}
	if len(hrs) == 0 {
		return nil, fmt.Errorf("%s has no images", hrDir)
	}
	if len(lrs) == 0 {
		return nil, fmt.Errorf("%s has no images", lrDir)
	}
	used := map[string]bool{}
	var pairs []Pair
	var lonelyLR []string
	for _, n := range lrNames {
		var hr string
		for _, c := range hrCandidates(n, opt.Scale) {
			if _, ok := hrs[c]; ok {
				hr = c
				break
			}
		}
		if hr == "" {
			// Only a selected name is the user's problem.
			if selected(n, opt) {
				lonelyLR = append(lonelyLR, filepath.Base(lrs[n]))
			}
			continue
		}
		used[hr] = true
		if !selected(hr, opt) {
			continue
		}
		pairs = append(pairs, Pair{Name: n, HRName: hr, HRPath: hrs[hr], LRPath: lrs[n]})
	}
	var lonelyHR []string
	for n, p := range hrs {
		if !used[n] && selected(n, opt) {
			lonelyHR = append(lonelyHR, filepath.Base(p))
		}
	}
	sort.Strings(lonelyHR)
	var msgs []string
	if len(lonelyLR) > 0 {
		msgs = append(msgs, fmt.Sprintf("%d LR file(s) have no HR file of the same name: %s", len(lonelyLR), few(lonelyLR)))
	}
	if len(lonelyHR) > 0 {
		msgs = append(msgs, fmt.Sprintf("%d HR file(s) have no LR file: %s", len(lonelyHR), few(lonelyHR)))
	}
	if len(msgs) > 0 {
		return nil, fmt.Errorf("paired folder %s: %s (an LR file pairs with the HR file of the same name, or with a scale suffix x%d or a variant suffix _NN added)",
			dir, strings.Join(msgs, "; "), opt.Scale)
	}
	return pairs, nil
}

// few lists up to five names.
func few(names []string) string {
	n := min(len(names), 5)
	return strings.Join(names[:n], ", ") + more(len(names), n)
}

// checkSizes reads every header once and checks the LR size against the
// HR size.
func (s *Set) checkSizes() error {
	type info struct {
		w, h int
		err  error
	}
	var paths []string
	seen := map[string]bool{}
	for _, p := range s.Pairs {
		for _, q := range []string{p.HRPath, p.LRPath} {
			if !seen[q] {
				seen[q] = true
				paths = append(paths, q)
			}
		}
	}
	infos := make([]info, len(paths))
	parallel.For(len(paths), 8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			in, err := imageio.ReadInfo(paths[i], s.load)
			infos[i] = info{in.Width, in.Height, err}
		}
	})
	byPath := make(map[string]info, len(paths))
	var bad []string
	for i, q := range paths {
		byPath[q] = infos[i]
		if infos[i].err != nil {
			bad = append(bad, infos[i].err.Error())
		}
	}
	if len(bad) > 0 {
		n := min(len(bad), 5)
		return fmt.Errorf("paired folder %s: %d unreadable image(s): %s%s", s.Dir, len(bad), strings.Join(bad[:n], "; "), more(len(bad), n))
	}
	sc := s.Scale
	for i := range s.Pairs {
		p := &s.Pairs[i]
		hr, lr := byPath[p.HRPath], byPath[p.LRPath]
		p.LRW, p.LRH = lr.w, lr.h
		if hr.w >= lr.w*sc && hr.w < (lr.w+1)*sc && hr.h >= lr.h*sc && hr.h < (lr.h+1)*sc {
			continue
		}
		bad = append(bad, fmt.Sprintf("%s is %dx%d but %s is %dx%d (want HR = LR x%d = %dx%d, or up to %d pixel(s) larger)%s",
			p.LRPath, lr.w, lr.h, p.HRPath, hr.w, hr.h, sc, lr.w*sc, lr.h*sc, sc-1, scaleHint(hr.w, hr.h, lr.w, lr.h, sc)))
	}
	if len(bad) > 0 {
		n := min(len(bad), 5)
		return fmt.Errorf("paired folder %s: %d pair(s) of the wrong size: %s%s", s.Dir, len(bad), strings.Join(bad[:n], "; "), more(len(bad), n))
	}
	return nil
}

// scaleHint suggests the scale that the sizes fit, if any.
func scaleHint(hw, hh, lw, lh, scale int) string {
	for r := 1; r <= 16; r++ {
		if r != scale && hw >= lw*r && hw < (lw+1)*r && hh >= lh*r && hh < (lh+1)*r {
			return fmt.Sprintf(": the sizes fit scale %d, not %d", r, scale)
		}
	}
	return ""
}

// stored is a decoded image kept in its stored precision.
type stored struct {
	c, h, w int
	u8      []uint8
	u16     []uint16
	f32     []float32
}

func (m *stored) bytes() int64 {
	return int64(len(m.u8)) + 2*int64(len(m.u16)) + 4*int64(len(m.f32))
}

// pack stores m losslessly: as bytes when every sample is k/255 exactly (as
// imageio loads 8-bit files), as 16-bit words when every sample is
// k/65535, else as float32.
func pack(m *raster.Image) *stored {
	st := &stored{c: m.C, h: m.H, w: m.W}
	u8 := make([]uint8, len(m.Pix))
	ok := true
	for i, v := range m.Pix {
		q := uint8(v*255 + 0.5)
		if !(v >= 0 && v <= 1) || float32(q)/255 != v {
			ok = false
			break
		}
		u8[i] = q
	}
	if ok {
		st.u8 = u8
		return st
	}
	u16 := make([]uint16, len(m.Pix))
	ok = true
	for i, v := range m.Pix {
		q := uint16(v*65535 + 0.5)
		if !(v >= 0 && v <= 1) || float32(q)/65535 != v {
			ok = false
			break
		}
		u16[i] = q
	}
	if ok {
		st.u16 = u16
		return st
	}
	st.f32 = append([]float32(nil), m.Pix...)
	return st
}

// crop returns the rectangle [y0, y0+h) x [x0, x0+w) as a raster.
func (m *stored) crop(y0, x0, h, w int) *raster.Image {
	out := raster.New(m.c, h, w)
	for c := 0; c < m.c; c++ {
		for y := 0; y < h; y++ {
			src := (c*m.h+y0+y)*m.w + x0
			dst := out.Pix[(c*h+y)*w : (c*h+y+1)*w]
			switch {
			case m.u8 != nil:
				for x, q := range m.u8[src : src+w] {
					dst[x] = float32(q) / 255
				}
			case m.u16 != nil:
				for x, q := range m.u16[src : src+w] {
					dst[x] = float32(q) / 65535
				}
			default:
				copy(dst, m.f32[src:src+w])
			}
		}
	}
	return out
}

// image returns the file at p decoded, from the cache if it is there,
// caching it if the budget allows.
func (s *Set) image(p string) (*stored, error) {
	s.mu.Lock()
	m, ok := s.cache[p]
	s.mu.Unlock()
	if ok {
		return m, nil
	}
	img, _, err := imageio.Load(p, s.load)
	if err != nil {
		return nil, err
	}
	m = pack(img)
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.cache[p]; ok {
		return prev, nil
	}
	if n := m.bytes(); n <= s.budget {
		s.cache[p] = m
		s.budget -= n
	}
	return m, nil
}

// checked returns the decoded HR and LR images of pair i, checking that
// they still have the sizes Open read.
func (s *Set) checked(i int) (hr, lr *stored, err error) {
	p := s.Pairs[i]
	if lr, err = s.image(p.LRPath); err != nil {
		return nil, nil, err
	}
	if hr, err = s.image(p.HRPath); err != nil {
		return nil, nil, err
	}
	if lr.w != p.LRW || lr.h != p.LRH || hr.w < p.LRW*s.Scale || hr.h < p.LRH*s.Scale {
		return nil, nil, fmt.Errorf("pair %s: %s or %s changed size since the folder was opened", p.Name, p.LRPath, p.HRPath)
	}
	return hr, lr, nil
}

// Load returns pair i: the whole LR image and the HR image cropped to
// exactly Scale times its size.
func (s *Set) Load(i int) (hr, lr *raster.Image, err error) {
	h, l, err := s.checked(i)
	if err != nil {
		return nil, nil, err
	}
	p := s.Pairs[i]
	return h.crop(0, 0, p.LRH*s.Scale, p.LRW*s.Scale), l.crop(0, 0, p.LRH, p.LRW), nil
}

// LoadPatch returns the LR rectangle of pair i at (y, x) of size h x w and
// the HR rectangle that corresponds to it (Scale times each coordinate). It
// converts only the patch, so training crops are cheap on cached pairs.
// It panics if the rectangle is not inside the LR image.
func (s *Set) LoadPatch(i, y, x, h, w int) (hr, lr *raster.Image, err error) {
	p := s.Pairs[i]
	if y < 0 || x < 0 || h <= 0 || w <= 0 || y+h > p.LRH || x+w > p.LRW {
		panic(fmt.Sprintf("pairread.LoadPatch: patch (y %d, x %d, %dx%d) outside the %dx%d LR image of %s", y, x, h, w, p.LRH, p.LRW, p.Name))
	}
	hs, ls, err := s.checked(i)
	if err != nil {
		return nil, nil, err
	}
	sc := s.Scale
	return hs.crop(y*sc, x*sc, h*sc, w*sc), ls.crop(y, x, h, w), nil
}

// Preload decodes every image of the set with the given number of
// goroutines, filling the cache up to its budget, and calls done (if not
// nil, one call at a time) after each pair. It stops early when ctx is
// cancelled, returning ctx's error, and otherwise returns the first
// failure in pair order.
func (s *Set) Preload(ctx context.Context, workers int, done func()) error {
	workers = max(workers, 1)
	errs := make([]error, len(s.Pairs))
	next := make(chan int)
	var wg sync.WaitGroup
	var doneMu sync.Mutex
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				_, _, errs[i] = s.checked(i)
				if done != nil {
					doneMu.Lock()
					done()
					doneMu.Unlock()
				}
			}
		}()
	}
feed:
	for i := range s.Pairs {
		select {
		case <-ctx.Done():
			break feed
		case next <- i:
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// FitsCache reports whether every image of the set, at one byte per
// sample, fits the cache budget left, so that Preload is worth its time.
func (s *Set) FitsCache() bool {
	seen := map[string]bool{}
	var n int64
	for _, p := range s.Pairs {
		if !seen[p.HRPath] {
			seen[p.HRPath] = true
			n += 3 * int64(p.LRW*s.Scale) * int64(p.LRH*s.Scale)
		}
		n += 3 * int64(p.LRW) * int64(p.LRH)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return n <= s.budget
}

// CachedBytes returns the memory the cache holds.
func (s *Set) CachedBytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, m := range s.cache {
		n += m.bytes()
	}
	return n
}

// MinLRSize returns the smallest LR width and height in the set.
func (s *Set) MinLRSize() (w, h int) {
	w, h = -1, -1
	for _, p := range s.Pairs {
		if w < 0 || p.LRW < w {
			w = p.LRW
		}
		if h < 0 || p.LRH < h {
			h = p.LRH
		}
	}
	return w, h
}

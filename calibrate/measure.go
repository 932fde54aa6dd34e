package calibrate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/internal/atomicfile"
	"github.com/degradiff/degradiff/measure"
	"github.com/degradiff/degradiff/measure/c2st"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// Gap is a configuration's gap to the held-out real LQ images: the proxy
// and the project's full measures.
type Gap struct {
	// Proxy is the objective against the held-out images.
	Proxy float64 `json:"proxy"`
	// KID (mean and standard deviation over subsets), FD and the
	// classifier test, as degradiff gap computes them.
	KID    float64      `json:"kid"`
	KIDStd float64      `json:"kid_std"`
	FD     float64      `json:"fd"`
	C2ST   *c2st.Result `json:"c2st,omitempty"`
	// Pairs is the fit to the held-out real pairs (fits to pairs only).
	Pairs   *PairFit `json:"pairs,omitempty"`
	Images  int      `json:"images"`
	Real    int      `json:"real_images"`
	Config  string   `json:"config_sha256"`
	Options string   `json:"options_sha256"`
}

// measured is a configuration measured on the held-out images, with what
// the charts need.
type measured struct {
	Gap
	lqs   []*raster.Image
	feats [][]float64
}

// evalSeed is the degradation seed of the final measurements: not the
// fit's, so that they do not reward a fit to the fit's particular draws.
func (p *Problem) evalSeed() uint64 { return rng.New(p.Opt.Seed, "calibrate", "evaluation").Uint64() }

// gapOptions returns the options of the full measures.
func (p *Problem) gapOptions() measure.Options {
	return measure.Options{Features: p.Opt.Features, C2ST: p.Opt.C2ST, SkipC2ST: p.Opt.SkipC2ST, Seed: p.Opt.Seed}
}

func sha(v any) string {
	b, _ := json.Marshal(v)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// measureConfig degrades the crops with c (the evaluation seed) and
// measures them against the held-out images. The full measures are cached
// in dir/gap/label.json, keyed by the configuration and the options, so
// that a rerun after an interruption does not redo them.
func (p *Problem) measureConfig(c degrade.Config, label, dir string, held *target) (*measured, error) {
	lqs, err := p.lqImages(c, p.evalSeed())
	if err != nil {
		return nil, err
	}
	feats, err := synthFeatures(lqs, cropNames(p.Crops), p.Opt.Features)
	if err != nil {
		return nil, err
	}
	m := &measured{lqs: lqs, feats: feats}
	if p.set != nil {
		if m.Pairs, err = p.measurePairs(c, lqs); err != nil {
			return nil, fmt.Errorf("measuring %s on the held-out pairs: %w", label, err)
		}
		m.Proxy = m.Pairs.proxy(p.Opt.Objective)
	} else if m.Proxy, err = held.proxy(feats); err != nil {
		return nil, err
	}
	opt := p.gapOptions()
	key := struct {
		Options measure.Options
		Held    Files
		Crops   []Crop
		Seed    uint64
		Step    string `json:",omitempty"`
	}{opt, p.Held, p.Crops, p.evalSeed(), p.stepID()}
	cfgSum, optSum := sha(c.YAML()), sha(key)
	path := filepath.Join(dir, GapDir, label+".json")
	var cached Gap
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &cached) == nil && cached.Config == cfgSum && cached.Options == optSum {
		cached.Proxy, cached.Pairs = m.Proxy, m.Pairs
		m.Gap = cached
		return m, nil
	}
	rep, err := measure.Gap(p.Held, imagesOf(lqs, p.Crops), opt)
	if err != nil {
		return nil, fmt.Errorf("measuring %s: %w", label, err)
	}
	m.KID, m.KIDStd, m.FD, m.C2ST = rep.KID.Mean, rep.KID.Std, rep.FD, rep.C2ST
	m.Images, m.Real, m.Config, m.Options = rep.Synth.Images, rep.Real.Images, cfgSum, optSum
	b, _ := json.MarshalIndent(m.Gap, "", "  ")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(path, append(b, '\n')); err != nil {
		return nil, err
	}
	return m, nil
}

// Candidate is one configuration of the proxy check.
type Candidate struct {
	Label string `json:"label"`
	// Eval is the index of its evaluation in evals.jsonl (-1 for the
	// preset, which the optimiser does not evaluate as such).
	Eval int `json:"eval"`
	// FitProxy is its objective on the images fitted on (the value the
	// optimiser saw); Held its gap to the held-out images.
	FitProxy float64 `json:"fit_proxy"`
	Held     Gap     `json:"held"`
}

// Agreement is the proxy check: Spearman's rank correlation, over the
// candidates, between the proxy on the held-out images and each full
// measure (1: the same order).
type Agreement struct {
	Candidates []Candidate `json:"candidates"`
	KID        float64     `json:"spearman_kid"`
	FD         float64     `json:"spearman_fd"`
	// C2ST is NaN when the classifier test was skipped.
	C2ST float64 `json:"spearman_c2st"`
}

// pickCandidates returns the indices of k evaluations spread over the
// ranks of the proxy, from the worst to the best, without repeating a
// point.
func pickCandidates(evals []Eval, k int) []int {
	order := make([]int, len(evals))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return evals[order[a]].Proxy > evals[order[b]].Proxy })
	var out []int
	seen := map[string]bool{}
	for j := 0; j < k && len(order) > 0; j++ {
		pos := 0
		if k > 1 {
			pos = int(math.Round(float64(j) * float64(len(order)-1) / float64(k-1)))
		}
		e := evals[order[pos]]
		key := fmt.Sprint(e.X)
		if seen[key] || math.IsInf(e.Proxy, 0) {
			continue
		}
		seen[key] = true
		out = append(out, order[pos])
	}
	return out
}

// spearman returns the rank correlation of a and b (average ranks for
// ties); NaN when either is constant or has fewer than 3 values.
func spearman(a, b []float64) float64 {
	if len(a) < 3 || len(a) != len(b) {
		return math.NaN()
	}
	ra, rb := ranks(a), ranks(b)
	n := float64(len(a))
	var ma, mb float64
	for i := range ra {
		ma += ra[i] / n
		mb += rb[i] / n
	}
	var sab, saa, sbb float64
	for i := range ra {
		sab += (ra[i] - ma) * (rb[i] - mb)
		saa += (ra[i] - ma) * (ra[i] - ma)
		sbb += (rb[i] - mb) * (rb[i] - mb)
	}
	if saa == 0 || sbb == 0 {
		return math.NaN()
	}
	return sab / math.Sqrt(saa*sbb)
}

func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		for k := i; k <= j; k++ {
			r[idx[k]] = float64(i+j)/2 + 1
		}
		i = j + 1
	}
	return r
}

// agreement computes the rank correlations of the candidates.
func agreement(cands []Candidate) Agreement {
	a := Agreement{Candidates: cands}
	var proxy, kid, fd, acc []float64
	for _, c := range cands {
		proxy, kid, fd = append(proxy, c.Held.Proxy), append(kid, c.Held.KID), append(fd, c.Held.FD)
		if c.Held.C2ST != nil {
			acc = append(acc, c.Held.C2ST.Accuracy)
		}
	}
	a.KID, a.FD = spearman(proxy, kid), spearman(proxy, fd)
	a.C2ST = math.NaN()
	if len(acc) == len(proxy) {
		a.C2ST = spearman(proxy, acc)
	}
	return a
}

// MarshalJSON writes NaN correlations as null.
func (a Agreement) MarshalJSON() ([]byte, error) {
	type plain Agreement
	f := func(v float64) *float64 {
		if math.IsNaN(v) {
			return nil
		}
		return &v
	}
	return json.Marshal(struct {
		plain
		KID  *float64 `json:"spearman_kid"`
		FD   *float64 `json:"spearman_fd"`
		C2ST *float64 `json:"spearman_c2st"`
	}{plain(a), f(a.KID), f(a.FD), f(a.C2ST)})
}

package experiment

import (
	"fmt"
	"math"

	"github.com/degradiff/degradiff/internal/report"
	"github.com/degradiff/degradiff/measure/c2st"
)

// SeedScore is the test result of one SR training seed.
type SeedScore struct {
	Seed uint64  `json:"seed"`
	PSNR float64 `json:"psnr"`
	SSIM float64 `json:"ssim"`
}

// Comparison is a source's PSNR against the Official source's, the
// baseline the method must beat.
type Comparison struct {
	// Delta is the difference of the mean PSNR (dB).
	Delta float64 `json:"delta_psnr"`
	// SeedCI is the 95% interval of Delta over SR training seeds (Welch's
	// t on the per-seed PSNR); absent with one seed, or when no seed's
	// PSNR differs from another's.
	SeedCI *[2]float64 `json:"seed_ci,omitempty"`
	// ImageCI is the paired 95% interval over test images of the
	// per-image PSNR (each the mean over seeds).
	ImageCI [2]float64 `json:"image_ci"`
	// Better counts the test images where this source is ahead.
	Better int `json:"better_images"`
	Images int `json:"images"`
	// Significant: the interval over seeds (or, without one, over
	// images) excludes 0.
	Significant bool `json:"significant"`
}

// meanStd returns the mean and the sample standard deviation.
func meanStd(v []float64) (mean, std float64) {
	for _, x := range v {
		mean += x / float64(len(v))
	}
	if len(v) < 2 {
		return mean, 0
	}
	for _, x := range v {
		std += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(std / float64(len(v)-1))
}

// compare returns row against base (both aggregated over seeds, with
// Images in the same test-pair order).
func compare(row, base Row) *Comparison {
	if len(row.Images) < 2 || !sameImages(row.Images, base.Images) {
		return nil
	}
	c := &Comparison{Delta: row.PSNR - base.PSNR, Images: len(row.Images)}
	d := make([]float64, len(row.Images))
	for i := range d {
		d[i] = row.Images[i].PSNR - base.Images[i].PSNR
		if d[i] > 0 {
			c.Better++
		}
	}
	m, s := meanStd(d)
	h := c2st.StudentQuantile(0.975, float64(len(d)-1)) * s / math.Sqrt(float64(len(d)))
	c.ImageCI = [2]float64{m - h, m + h}
	c.Significant = c.ImageCI[0] > 0 || c.ImageCI[1] < 0
	if len(row.Seeds) >= 2 && len(base.Seeds) >= 2 {
		if _, ci, ok := WelchCI(seedPSNR(row), seedPSNR(base)); ok {
			c.SeedCI = &ci
			c.Significant = c.SeedCI[0] > 0 || c.SeedCI[1] < 0
		}
	}
	return c
}

// MeanStd returns the mean of v and its sample standard deviation (0 for
// fewer than 2 values).
func MeanStd(v []float64) (mean, std float64) { return meanStd(v) }

// WelchCI returns the difference of the means of a and b and its 95%
// interval by Welch's t (unequal variances, Welch–Satterthwaite degrees
// of freedom); a and b need at least 2 values each. When neither varies
// the interval is a point (ok is false): seeds that agree to the last
// digit say nothing about the spread, so callers must not call such a
// difference significant on it.
func WelchCI(a, b []float64) (delta float64, ci [2]float64, ok bool) {
	ma, sa := meanStd(a)
	mb, sb := meanStd(b)
	delta = ma - mb
	va, vb := sa*sa/float64(len(a)), sb*sb/float64(len(b))
	se := math.Sqrt(va + vb)
	// Welch–Satterthwaite degrees of freedom.
	df := float64(len(a) + len(b) - 2)
	if va+vb > 0 {
		df = (va + vb) * (va + vb) / (va*va/float64(len(a)-1) + vb*vb/float64(len(b)-1))
	}
	h := c2st.StudentQuantile(0.975, df) * se
	return delta, [2]float64{delta - h, delta + h}, va+vb > 0
}

func seedPSNR(r Row) []float64 {
	out := make([]float64, len(r.Seeds))
	for i, s := range r.Seeds {
		out[i] = s.PSNR
	}
	return out
}

// gapClosed returns the fraction of the Official -> Real PSNR gap that
// row closes: 0 at Official, 1 at Real. It is nil unless Real is
// significantly better than Official (real.VsOfficial): a gap inside the
// noise, or a negative one, would give a share that is huge or of the
// wrong sign.
func gapClosed(row, official, real Row) *float64 {
	den := real.PSNR - official.PSNR
	if c := real.VsOfficial; c == nil || !c.Significant || den <= 0 {
		return nil
	}
	f := (row.PSNR - official.PSNR) / den
	return &f
}

// aggregate folds the test results of a source's seeds into one row: the
// means over seeds, their standard deviations, and per image the mean
// over seeds. Every result must score the same pairs in the same order
// (readScores checks it).
func aggregate(source string, tests []TestResult, seeds []uint64) Row {
	if len(tests) == 1 {
		// One seed: the row is that run's, bit for bit, as before seeds.
		return Row{Source: source, PSNR: tests[0].PSNR, SSIM: tests[0].SSIM, Images: tests[0].Images}
	}
	row := Row{Source: source}
	var psnr, ssim []float64
	for k, t := range tests {
		row.Seeds = append(row.Seeds, SeedScore{Seed: seeds[k], PSNR: t.PSNR, SSIM: t.SSIM})
		psnr, ssim = append(psnr, t.PSNR), append(ssim, t.SSIM)
	}
	row.PSNR, row.PSNRStd = meanStd(psnr)
	row.SSIM, row.SSIMStd = meanStd(ssim)
	row.Images = make([]Score, len(tests[0].Images))
	for i := range row.Images {
		row.Images[i].Name = tests[0].Images[i].Name
		for _, t := range tests {
			row.Images[i].PSNR += t.Images[i].PSNR / float64(len(tests))
			row.Images[i].SSIM += t.Images[i].SSIM / float64(len(tests))
		}
	}
	return row
}

// sameImages reports whether a and b score the same test pairs in the
// same order.
func sameImages(a, b []Score) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name {
			return false
		}
	}
	return true
}

// compareRows fills VsOfficial (with several seeds, or against a Real
// row) and GapClosed of every source row when Official (and Real) ran,
// and the VsOfficial of their validation results. With one seed and no
// Real row the test results get no comparison, so that such results
// read as before.
func (res *Results) compareRows() {
	var official, real *Row
	for i := range res.Rows {
		switch res.Rows[i].Source {
		case Official:
			official = &res.Rows[i]
		case Real:
			real = &res.Rows[i]
		}
	}
	if official == nil {
		return
	}
	// Validation results are for comparing, so they always get theirs.
	test := len(official.Seeds) >= 2 || real != nil
	for i := range res.Rows {
		row := &res.Rows[i]
		if row.Source == Official || row.Source == Upscale {
			continue
		}
		if test {
			row.VsOfficial = compare(*row, *official)
		}
		if row.Val != nil && official.Val != nil {
			row.Val.VsOfficial = compare(*row.Val, *official.Val)
		}
	}
	// After every comparison: the share needs Real's.
	for i := range res.Rows {
		row := &res.Rows[i]
		if real != nil && row.Source != Official && row.Source != Upscale && row.Source != Real {
			row.GapClosed = gapClosed(*row, *official, *real)
		}
	}
}

// cells returns the comparison's columns as text: the PSNR difference,
// its intervals over seeds ("-" without one) and over images, and the
// images where the source is ahead.
func (c *Comparison) cells() []string {
	seedCI := "-"
	if c.SeedCI != nil {
		seedCI = fmt.Sprintf("[%+.3f, %+.3f]", c.SeedCI[0], c.SeedCI[1])
	}
	return []string{fmt.Sprintf("%+.3f", c.Delta), seedCI, fmt.Sprintf("[%+.3f, %+.3f]", c.ImageCI[0], c.ImageCI[1]), fmt.Sprintf("%d of %d", c.Better, c.Images)}
}

// validationSection tabulates the results on the validation pairs, each
// source against Official on them.
func (res *Results) validationSection() (report.Section, bool) {
	sec := report.Section{
		Title: "Validation pairs",
		Head:  []string{"LQ source", "PSNR (Y, dB)", "SSIM (Y)", "PSNR - " + Official + " (dB)", "95% CI over seeds", "95% CI over pairs", "better on"},
	}
	for _, row := range res.Rows {
		v := row.Val
		if v == nil {
			continue
		}
		cells := v.cells()
		line := []string{label(row.Source), cells[1], cells[2], "-", "-", "-", "-"}
		if c := v.VsOfficial; c != nil {
			copy(line[3:], c.cells())
		}
		sec.Rows = append(sec.Rows, line)
	}
	if len(sec.Rows) == 0 {
		return sec, false
	}
	sec.Paras = []string{fmt.Sprintf("Every network was also tested on the %d validation pairs of %s, in the same way as on the test pairs. Compare settings here, not on the test pairs, which must decide nothing.", res.ValPairs, res.Val)}
	if res.ValRealLeftOut {
		sec.Paras = append(sec.Paras, fmt.Sprintf("%s is not validated: it trains on some of these pairs.", Real))
	}
	if res.ValSeenLQ > 0 {
		sec.Paras = append(sec.Paras, fmt.Sprintf("%d of the validation LR images are among the real LQ images, which the calibration and the diffusion model's adaptation learn from (unpaired): these pairs favour the sources that use them, so compare variants of one source here rather than different sources.", res.ValSeenLQ))
	}
	return sec, true
}

// comparisonSection tabulates every source against Official: the PSNR
// difference with its intervals over seeds and test images, and the
// fraction of the Official -> Real gap closed.
func (res *Results) comparisonSection() (report.Section, bool) {
	sec := report.Section{
		Title: "Against " + Official,
		Head:  []string{"LQ source", "PSNR - " + Official + " (dB)", "95% CI over seeds", "95% CI over test images", "better on", "significant", "gap to real closed"},
	}
	for _, row := range res.Rows {
		c := row.VsOfficial
		if c == nil {
			continue
		}
		closed := "-"
		if row.GapClosed != nil {
			closed = fmt.Sprintf("%.0f%%", 100**row.GapClosed)
		}
		sig := "no"
		if c.Significant {
			sig = "yes"
		}
		sec.Rows = append(sec.Rows, append(append([]string{label(row.Source)}, c.cells()...), sig, closed))
	}
	if len(sec.Rows) == 0 {
		return sec, false
	}
	sec.Paras = []string{fmt.Sprintf("Each source's network against the one trained on %s's pairs, its starting point. With several SR training seeds, PSNR is the mean over seeds and a difference is significant when its interval over seeds (Welch's t, 95%%) excludes 0; with one seed, when the paired interval over test images does. \"Gap to real closed\" is the share of the difference between %s and %s that the source makes up (100%%: as good as training on real pairs), given only when %s is significantly ahead of %s.", Official, Official, Real, Real, Official)}
	return sec, true
}

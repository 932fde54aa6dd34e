package facebench

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"

	"github.com/degradiff/degradiff/diffusion/pipeline"
	"github.com/degradiff/degradiff/experiment"
	"github.com/degradiff/degradiff/measure"
	"github.com/degradiff/degradiff/measure/c2st"
)

// Results is the outcome of a face bench, saved as OUT/results.json.
type Results struct {
	Budget  string `json:"budget"`
	Command string `json:"command,omitempty"`
	Out     string `json:"out"`
	// The inputs and how much of them was used.
	HQ            string `json:"hq"`
	HQFaces       int    `json:"hq_faces"`
	TrainFaces    int    `json:"train_faces"`
	HeldOutHQ     int    `json:"held_out_hq_faces"`
	RealLQ        string `json:"real_lq"`
	RealLQFaces   int    `json:"real_lq_faces"`
	HeldOutRealLQ int    `json:"held_out_real_lq_faces"`
	FaceSize      int    `json:"face_size"`
	// HeldOutDegradation describes the degradation of the held-out HQ
	// faces, one neither source trains on.
	HeldOutDegradation string `json:"held_out_degradation"`
	// Model is the face diffusion model of face+ddpm, when it ran.
	Model *pipeline.ID `json:"ddpm_model,omitempty"`
	// LQGap compares each source's LQ training faces with the held-out
	// real LQ faces (OUT/gap/lq/SOURCE.json has the whole report).
	LQGap []LQGap `json:"lq_gap"`
	// Rows holds one row per source, in Sources order, then the Input
	// reference row.
	Rows []Row `json:"rows"`
	// Comparisons compares sources measure by measure, for each pair of
	// Comparisons that ran: each method with its initial degradation, and
	// the calibrated sources with face.
	Comparisons []Comparison `json:"comparisons,omitempty"`
	// Stages lists the compute time of every stage, in run order.
	Stages []experiment.StageTime `json:"stages"`
	// Config is the settings, with the keys of config.yaml.
	Config map[string]any `json:"config"`
}

// LQGap is the gap of one source's LQ faces.
type LQGap struct {
	Source string `json:"source"`
	experiment.GapSummary
}

// Stat is one measure of a source over its training seeds.
type Stat struct {
	// Mean and Std are the mean and sample standard deviation over seeds.
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	// CI is the 95% interval of the mean over seeds (Student's t), with
	// 2 seeds or more.
	CI *[2]float64 `json:"ci95,omitempty"`
	// Seeds holds each seed's value, seed index order.
	Seeds []float64 `json:"seeds"`
}

// Row is the results of one source (or of Input): each measure's Stat by
// its key (see Measures).
type Row struct {
	Source   string          `json:"source"`
	Seeds    []uint64        `json:"seeds,omitempty"`
	Measures map[string]Stat `json:"measures"`
}

// Comparison is one source against a baseline source.
type Comparison struct {
	Source      string       `json:"source"`
	Baseline    string       `json:"baseline"`
	Differences []Difference `json:"differences"`
}

// Comparisons lists the pairs (source, baseline) the results compare, in
// report order.
var Comparisons = [][2]string{
	{FaceMethod, Face},
	{CalibratedMethod, Calibrated},
	{Calibrated, Face},
	{CalibratedMethod, Face},
}

// Difference is a source's mean minus its baseline's for one measure.
type Difference struct {
	Measure string  `json:"measure"`
	Delta   float64 `json:"delta"`
	// CI is the 95% interval over seeds (Welch's t), with 2 seeds or more
	// each.
	CI *[2]float64 `json:"ci95,omitempty"`
	// Better is true when the difference favours the source (in the
	// measure's direction), Significant when CI excludes 0.
	Better      bool `json:"better"`
	Significant bool `json:"significant"`
}

// Measure describes one measure of the results.
type Measure struct {
	Key, Label string
	// Higher is true when higher is better.
	Higher bool
	Format string
	// Real is true for the measures on the held-out real LQ faces, false
	// for those on the held-out HQ faces.
	Real bool
	// Input is false for a measure that has no meaning without a network
	// (the input compared with itself).
	Input bool
	get   func(t TestResult, g measure.Report) (float64, bool)
}

// Measures lists the measures of every row, in report order.
var Measures = []Measure{
	{"identity_kept", "identity kept (vs input)", true, "%.4f", true, false, func(t TestResult, _ measure.Report) (float64, bool) {
		if t.RealMean == nil {
			return 0, false
		}
		return t.RealMean.Identity, true
	}},
	{"landmark_distance", "landmark distance (vs input)", false, "%.4f", true, false, func(t TestResult, _ measure.Report) (float64, bool) {
		if t.RealMean == nil {
			return 0, false
		}
		return t.RealMean.LandmarkDistance, true
	}},
	{"hq_kid", "KID to real HQ", false, "%.4f", true, true, func(_ TestResult, g measure.Report) (float64, bool) { return g.KID.Mean, true }},
	{"hq_fd", "FD to real HQ", false, "%.3f", true, true, func(_ TestResult, g measure.Report) (float64, bool) { return g.FD, true }},
	{"hq_c2st", "classifier accuracy vs real HQ", false, "%.3f", true, true, func(_ TestResult, g measure.Report) (float64, bool) {
		if g.C2ST == nil {
			return 0, false
		}
		return g.C2ST.Accuracy, true
	}},
	{"psnr", "PSNR (Y, dB)", true, "%.2f", false, true, func(t TestResult, _ measure.Report) (float64, bool) { return t.PSNR, true }},
	{"ssim", "SSIM (Y)", true, "%.4f", false, true, func(t TestResult, _ measure.Report) (float64, bool) { return t.SSIM, true }},
	{"identity_gt", "identity to HQ", true, "%.4f", false, true, func(t TestResult, _ measure.Report) (float64, bool) { return t.PairsFace.Identity, true }},
	{"landmark_gt", "landmark distance to HQ", false, "%.4f", false, true, func(t TestResult, _ measure.Report) (float64, bool) {
		return t.PairsFace.LandmarkDistance, true
	}},
}

// stat folds per-seed values.
func stat(v []float64) Stat {
	s := Stat{Seeds: v}
	s.Mean, s.Std = experiment.MeanStd(v)
	if n := len(v); n >= 2 {
		h := c2st.StudentQuantile(0.975, float64(n-1)) * s.Std / math.Sqrt(float64(n))
		s.CI = &[2]float64{s.Mean - h, s.Mean + h}
	}
	return s
}

// aggregate folds the test results and restored gaps of a source's seeds
// into a row.
func aggregate(source string, seeds []uint64, tests []TestResult, gaps []measure.Report) Row {
	row := Row{Source: source, Seeds: seeds, Measures: map[string]Stat{}}
	for _, m := range Measures {
		var v []float64
		for i := range tests {
			if x, ok := m.get(tests[i], gaps[i]); ok {
				v = append(v, x)
			}
		}
		if len(v) == len(tests) && len(v) > 0 {
			row.Measures[m.Key] = stat(v)
		}
	}
	return row
}

// compareRows returns face+ddpm against face, measure by measure.
func compareRows(method, base Row) []Difference {
	var out []Difference
	for _, m := range Measures {
		a, ok1 := method.Measures[m.Key]
		b, ok2 := base.Measures[m.Key]
		if !ok1 || !ok2 {
			continue
		}
		d := Difference{Measure: m.Key, Delta: a.Mean - b.Mean}
		if len(a.Seeds) >= 2 && len(b.Seeds) >= 2 {
			if _, ci, ok := experiment.WelchCI(a.Seeds, b.Seeds); ok {
				d.CI = &ci
				d.Significant = ci[0] > 0 || ci[1] < 0
			}
		}
		d.Better = d.Delta > 0 == m.Higher && d.Delta != 0
		out = append(out, d)
	}
	return out
}

// measureByKey returns the description of a measure.
func measureByKey(key string) Measure {
	for _, m := range Measures {
		if m.Key == key {
			return m
		}
	}
	return Measure{Key: key, Label: key, Format: "%.4f"}
}

// cell writes a Stat: the mean, and with several seeds its standard
// deviation and interval.
func (s Stat) cell(format string) string {
	v := fmt.Sprintf(format, s.Mean)
	if s.CI != nil {
		v += fmt.Sprintf(" ± "+format+" ["+format+", "+format+"]", s.Std, s.CI[0], s.CI[1])
	}
	return v
}

// label returns the display name of a row's source.
func label(source string) string {
	if source == Input {
		return "input (no network)"
	}
	return source
}

// table returns the header and rows of the measures on one kind of
// held-out faces.
func (res *Results) table(real bool) ([]string, [][]string) {
	head := []string{"source"}
	var ms []Measure
	for _, m := range Measures {
		if m.Real == real {
			ms = append(ms, m)
			head = append(head, m.Label)
		}
	}
	var rows [][]string
	for _, row := range res.Rows {
		line := []string{label(row.Source)}
		for _, m := range ms {
			if s, ok := row.Measures[m.Key]; ok {
				line = append(line, s.cell(m.Format))
			} else {
				line = append(line, "-")
			}
		}
		rows = append(rows, line)
	}
	return head, rows
}

// WriteTable writes the results tables as aligned text.
func (res *Results) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(cols []string) {
		for _, c := range cols {
			fmt.Fprint(tw, c, "\t")
		}
		fmt.Fprintln(tw)
	}
	for i, real := range []bool{true, false} {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		if real {
			fmt.Fprintf(tw, "held-out real LQ faces (%d):\n", res.HeldOutRealLQ)
		} else {
			fmt.Fprintf(tw, "held-out HQ faces (%d) degraded by %s:\n", res.HeldOutHQ, res.HeldOutDegradation)
		}
		head, rows := res.table(real)
		line(head)
		for _, r := range rows {
			line(r)
		}
	}
	fmt.Fprintf(tw, "\nLQ training faces against the held-out real LQ faces:\n")
	line(lqGapHead)
	for _, g := range res.LQGap {
		line(g.cells())
	}
	return tw.Flush()
}

var lqGapHead = []string{"source", "KID ± std", "FD", "classifier accuracy [95% CI]"}

func (g LQGap) cells() []string {
	out := []string{g.Source, fmt.Sprintf("%.4f ± %.4f", g.KID.Mean, g.KID.Std), fmt.Sprintf("%.3f", g.FD), "skipped"}
	if c := g.C2ST; c != nil {
		out[3] = fmt.Sprintf("%.3f [%.3f, %.3f]", c.Accuracy, c.CILow, c.CIHigh)
	}
	return out
}

package experiment

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"

	"github.com/degradiff/degradiff/diffusion/pipeline"
	"github.com/degradiff/degradiff/measure"
	"github.com/degradiff/degradiff/measure/c2st"
)

// Results is the outcome of an experiment, saved as OUT/results.json.
type Results struct {
	Budget  string `json:"budget"`
	Command string `json:"command,omitempty"`
	Out     string `json:"out"`
	// The inputs and how much of them was used.
	HQ           []string `json:"hq"`
	HQImages     int      `json:"hq_images"`
	HQCrops      int      `json:"hq_crops"`
	RealLQ       string   `json:"real_lq"`
	RealLQImages int      `json:"real_lq_images"`
	Test         string   `json:"test"`
	TestPairs    int      `json:"test_pairs"`
	// Val and ValPairs are the validation pairs, when there are some;
	// ValSeenLQ counts their LR images among the real LQ images when a
	// source learns from those (a calibration or an adaptation), and
	// ValRealLeftOut is set when Real ran but trains on some of them.
	Val            string `json:"val,omitempty"`
	ValPairs       int    `json:"val_pairs,omitempty"`
	ValSeenLQ      int    `json:"val_seen_lq,omitempty"`
	ValRealLeftOut bool   `json:"val_real_left_out,omitempty"`
	// Model is the diffusion model of the Method source, when it ran.
	Model *pipeline.ID `json:"ddpm_model,omitempty"`
	// Adapt records how that model was fine-tuned on the real LQ images,
	// when it was (Config.Adapt).
	Adapt *Adapted `json:"adapt,omitempty"`
	// Rows holds one row per source, in Sources order, then the Upscale
	// reference row.
	Rows []Row `json:"rows"`
	// Stages lists the compute time of every stage, in run order.
	Stages []StageTime `json:"stages"`
	// Config is the settings, with the keys of config.yaml.
	Config map[string]any `json:"config"`
}

// Row is the results of one source.
type Row struct {
	Source string `json:"source"`
	// PSNR and SSIM are the means over the test pairs of the network
	// trained on the source's pairs; Images has them per pair.
	// With several SR training seeds (Config.SRSeeds) PSNR and SSIM are
	// the means over seeds, PSNRStd and SSIMStd their standard deviations,
	// Seeds each seed's result and Images the per-pair means over seeds.
	PSNR    float64     `json:"psnr"`
	SSIM    float64     `json:"ssim"`
	PSNRStd float64     `json:"psnr_std,omitempty"`
	SSIMStd float64     `json:"ssim_std,omitempty"`
	Seeds   []SeedScore `json:"seeds,omitempty"`
	Images  []Score     `json:"images"`
	// VsOfficial compares the row with the Official source, when both ran.
	VsOfficial *Comparison `json:"vs_official,omitempty"`
	// GapClosed is the fraction of the Official -> Real PSNR gap the
	// source closes, when both ran.
	GapClosed *float64 `json:"gap_closed,omitempty"`
	// Val is the row's results on the validation pairs (Config.Val),
	// aggregated over seeds as the test results are, with VsOfficial on
	// them; nil without validation pairs, and for Real when it trained on
	// them. Its Gap, GapClosed and FinalLoss are unset.
	Val *Row `json:"val,omitempty"`
	// Gap compares the source's LQ images with the real ones; nil for the
	// Upscale row.
	Gap *GapSummary `json:"gap,omitempty"`
	// FinalLoss is the last logged training loss (0 for Upscale).
	FinalLoss float64 `json:"final_train_loss,omitempty"`
}

// GapSummary is the headline of a measure.Report; OUT/gap/SOURCE.json has
// the whole report.
type GapSummary struct {
	KID  measure.KIDResult `json:"kid"`
	FD   float64           `json:"fd"`
	C2ST *c2st.Result      `json:"c2st,omitempty"`
}

// label returns the display name of a row's source.
func label(source string) string {
	if source == Upscale {
		return "bicubic upsampling (no network)"
	}
	return source
}

// cells returns a row's columns as text: source, PSNR, SSIM, KID, FD,
// C2ST accuracy with its interval.
func (row Row) cells() []string {
	psnr, ssim := dB(row.PSNR), fmt.Sprintf("%.4f", row.SSIM)
	if len(row.Seeds) > 1 {
		psnr = fmt.Sprintf("%s ± %.2f", psnr, row.PSNRStd)
		ssim = fmt.Sprintf("%s ± %.4f", ssim, row.SSIMStd)
	}
	out := []string{label(row.Source), psnr, ssim, "-", "-", "-"}
	if g := row.Gap; g != nil {
		out[3] = fmt.Sprintf("%.4f ± %.4f", g.KID.Mean, g.KID.Std)
		out[4] = fmt.Sprintf("%.3f", g.FD)
		if c := g.C2ST; c != nil {
			out[5] = fmt.Sprintf("%.3f [%.3f, %.3f]", c.Accuracy, c.CILow, c.CIHigh)
		} else {
			out[5] = "skipped"
		}
	}
	return out
}

// head returns the header of the results table.
func (res *Results) head() []string {
	level := 0.95
	for _, row := range res.Rows {
		if row.Gap != nil && row.Gap.C2ST != nil {
			level = row.Gap.C2ST.Confidence
		}
	}
	return []string{"LQ source", "PSNR (Y, dB)", "SSIM (Y)", "KID ± std", "FD", fmt.Sprintf("C2ST accuracy [%g%% CI]", 100*level)}
}

func dB(v float64) string {
	if math.IsInf(v, 1) {
		return "inf"
	}
	return fmt.Sprintf("%.2f", v)
}

// WriteTable writes the results table as aligned text, and the
// validation results when there are some.
func (res *Results) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(cols []string) {
		for _, c := range cols {
			fmt.Fprint(tw, c, "\t")
		}
		fmt.Fprintln(tw)
	}
	line(res.head())
	for _, row := range res.Rows {
		line(row.cells())
	}
	if sec, ok := res.validationSection(); ok {
		fmt.Fprintf(tw, "\nOn the %d validation pairs:\n", res.ValPairs)
		line(sec.Head)
		for _, r := range sec.Rows {
			line(r)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, p := range sec.Paras[1:] {
			fmt.Fprintln(w, p)
		}
	}
	return tw.Flush()
}

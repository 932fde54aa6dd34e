package experiment

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/degradiff/degradiff/calibrate"
	"github.com/degradiff/degradiff/internal/report"
	"github.com/degradiff/degradiff/measure/response"
	"github.com/degradiff/degradiff/pairset"
)

// WriteCalibrationReport writes dir/report.md and dir/report.html for a
// calibration (degradiff calibrate, or bench's calibrate stage), with the
// charts calibrate.Run drew in dir.
func WriteCalibrationReport(dir string, r *calibrate.Result) error {
	d := calibrationDocument(r)
	if err := pairset.WriteFileAtomic(filepath.Join(dir, ReportMD), d.Markdown()); err != nil {
		return err
	}
	page, err := d.HTML(dir)
	if err != nil {
		return err
	}
	if err := pairset.WriteFileAtomic(filepath.Join(dir, ReportHTML), page); err != nil {
		return err
	}
	for _, f := range []string{ReportMD, ReportHTML, calibrate.ConfigFile, calibrate.ResultFile} {
		os.Chmod(filepath.Join(dir, f), 0o644)
	}
	return nil
}

func fmtRange(v []float64, kind string) string {
	switch {
	case kind == "oddmax" && len(v) == 1:
		return strconv.Itoa(int(v[0]))
	case len(v) == 1:
		return fmt.Sprintf("%.4g", v[0])
	}
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.4g", x)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func fmtC2ST(g calibrate.Gap) string {
	if g.C2ST == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f [%.3f, %.3f]", g.C2ST.Accuracy, g.C2ST.CILow, g.C2ST.CIHigh)
}

func fmtRho(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%+.2f", v)
}

// optimisationText describes the evaluations: which was the best, and how
// many this run took from the log of an earlier one.
func optimisationText(r *calibrate.Result) string {
	t := fmt.Sprintf("The proxy of each of the %d evaluations and the best so far; the best was evaluation %d (its \"eval\" in evals.jsonl and the chart's x, counted from 0).", r.Evals, r.Best)
	switch {
	case r.Replayed == r.Evals:
		t += " All of them were taken from evals.jsonl, logged by an earlier run of the same command, not recomputed."
	case r.Replayed > 0:
		t += fmt.Sprintf(" The first %d were taken from evals.jsonl, logged by an earlier run (interrupted, or with a smaller --budget), not recomputed; this run computed the other %d.", r.Replayed, r.Evals-r.Replayed)
	}
	return t
}

// samplesText describes samples.png.
func samplesText(paired bool) string {
	if paired {
		return "HR crops of the pairs fitted on reduced to the LR size, their LR image before and after calibration (the evaluation seed), and the camera's real LR crop of the same scene, enlarged without interpolation."
	}
	return "HQ crops reduced to the LQ size, their LQ image before and after calibration (the evaluation seed), and the centre of a held-out real LQ image, enlarged without interpolation."
}

func calibrationDocument(r *calibrate.Result) report.Document {
	o := r.Options
	paired := r.Pairs != ""
	d := report.Document{Title: fmt.Sprintf("degradiff calibrate: the %s degradation fitted to real LQ images", r.Preset)}
	gapRow := func(label string, fit float64, g calibrate.Gap) []string {
		return []string{label, fmt.Sprintf("%.4g", fit), fmt.Sprintf("%.4g", g.Proxy), fmt.Sprintf("%.4f ± %.4f", g.KID, g.KIDStd), fmt.Sprintf("%.3f", g.FD), fmtC2ST(g)}
	}
	gapRows := [][]string{
		gapRow("before: "+r.Start(), r.FitBefore, r.Before),
		gapRow("after: calibrated (config.yaml)", r.FitAfter, r.After),
	}
	if paired {
		d.Title = fmt.Sprintf("degradiff calibrate: the %s degradation fitted to real pairs", r.Preset)
		objectiveText := fmt.Sprintf("the objective (%s) is their mean Y-PSNR (border of %d LR pixels left out)", o.Objective, calibrate.PairBorder)
		fitHead, fitValue, proxyText := "fit Y-PSNR (dB)", func(v float64) string { return fmt.Sprintf("%.2f", -v) }, "The proxy columns are the negated Y-PSNR."
		if o.Objective == calibrate.ObjectiveResponse {
			objectiveText = fmt.Sprintf("the objective (%s) is the distance of the degradation's frequency response from the cameras' (the root mean square of the log ratio of their gains from 0.05 cycles per LR pixel to Nyquist; each response is that of the %dx%d linear filter, fitted by least squares on the luma, that maps the HR crops downscaled without blur to the degraded, respectively the real, LR crops)", o.Objective, calibrate.ResponseSize, calibrate.ResponseSize)
			fitHead, fitValue, proxyText = "fit response distance", func(v float64) string { return fmt.Sprintf("%.3f", v) }, "The proxy columns are the response distance."
		}
		if o.Objective == calibrate.ObjectiveLinearSR {
			objectiveText = fmt.Sprintf("the objective (%s) is how well the simplest restorer the degradation can train restores the real LR crops: a linear x%d upscaler (a %dx%d LR neighbourhood per HR pixel phase, least squares on the luma) fitted to the degraded crops and their HR crops, scored by its mean Y-PSNR on the real LR crops against the same HR crops", o.Objective, o.Base.Scale, calibrate.LinearSRSize, calibrate.LinearSRSize)
			fitHead, proxyText = "fit upscaler Y-PSNR (dB)", "The proxy columns are the upscaler's Y-PSNR, negated."
		}
		pairRow := func(label string, fit float64, g calibrate.Gap) []string {
			row := []string{label, fitValue(fit), "-", "-", "-", "-", "-"}
			if p := g.Pairs; p != nil {
				row[2], row[3], row[4], row[5], row[6] = fmt.Sprintf("%.2f", p.PSNR), fmt.Sprintf("%.2f", p.LowPSNR), fmt.Sprintf("%.3f", p.Response), fmt.Sprintf("%.3f", p.PairResponse), fmt.Sprintf("%.2f", p.LinearSR)
			}
			return row
		}
		d.Sections = append(d.Sections, report.Section{
			Title: "Fit to the held-out pairs",
			Paras: []string{
				fmt.Sprintf("The %s preset's ranges were fitted so that the LR crops it makes from %d crops (%dx%d) of the HR images of %d real pairs of %s come close to the real LR crops of the same scenes: %s. %d more pairs, chosen by a hash of their names, were held out. %d evaluations by %s (seed %d).",
					r.Preset, r.HQCrops, o.Crop, o.Crop, r.FitImages, r.Pairs, objectiveText, r.HeldImages, r.Evals, o.Optimizer, o.Seed),
				"On the held-out pairs each whole HR image is degraded (another degradation seed than the fit's) and compared with its real LR image: Y-PSNR plain, and after a Gaussian low-pass of sigma 1.5 LR pixels that ignores noise and compression (how well the blur and resizing match the camera's), higher is closer; and the distance of the degradation's frequency response from the cameras' on these pairs (below), lower is closer, pooled over the pairs and pair by pair (the mean of the distances between the responses fitted on each pair alone: a degradation whose draws differ widely can have the cameras' mean response while no single image has it); and the Y-PSNR on the held-out pairs of a linear x" + fmt.Sprint(o.Base.Scale) + " upscaler trained on the degradation's LR images of the crops fitted on (the simplest restorer the degradation can train; higher is better). The fit column is the objective on the crops fitted on.",
			},
			Head: []string{"degradation", fitHead, "held-out Y-PSNR (dB)", "held-out low-pass Y-PSNR (dB)", "held-out response distance", "pair by pair", "held-out linear upscaler Y-PSNR (dB)"},
			Rows: [][]string{
				pairRow("before: "+r.Start(), r.FitBefore, r.Before),
				pairRow("after: calibrated (config.yaml)", r.FitAfter, r.After),
			},
		})
		if b, a := r.Before.Pairs, r.After.Pairs; b != nil && a != nil && len(a.CameraGains) == len(response.Frequencies) {
			rows := [][]string{{"cameras (real LR)"}, {"before: " + r.Start()}, {"after: calibrated"}}
			head := []string{"cycles per LR pixel"}
			for i, f := range response.Frequencies {
				head = append(head, fmt.Sprintf("%.2f", f))
				rows[0] = append(rows[0], fmt.Sprintf("%.2f", a.CameraGains[i]))
				rows[1] = append(rows[1], fmt.Sprintf("%.2f", b.Gains[i]))
				rows[2] = append(rows[2], fmt.Sprintf("%.2f", a.Gains[i]))
			}
			d.Sections = append(d.Sections, report.Section{
				Title: "Frequency response",
				Paras: []string{fmt.Sprintf("The gain, per frequency, of the %dx%d linear filter (least squares on the luma of the held-out pairs) that maps each HR image downscaled without blur (MATLAB bicubic) to its real LR image, and to its LR image degraded before and after calibration. Above 1 a frequency is boosted (in-camera sharpening), below 1 lost; a network trained on the degradation learns to undo its gains, so where they differ from the cameras' it will over- or under-sharpen the real images.", calibrate.ResponseSize, calibrate.ResponseSize)},
				Head:  head,
				Rows:  rows,
				Image: calibrate.ResponsePNG,
			})
		}
		d.Sections = append(d.Sections, report.Section{
			Title: "Gap to the held-out LR images",
			Paras: []string{"The held-out pairs' LR images taken as unpaired real LQ images, against the HR crops of the pairs fitted on degraded with the evaluation seed: KID, FD and the classifier test as degradiff gap computes them (lower is closer; accuracy 0.5 means indistinguishable, with its 95% interval). A paired fit does not aim at these: it says how far the noise and compression left as they were still are from the camera's. " + proxyText},
			Head:  []string{"degradation", "fit proxy", "held-out proxy", "KID", "FD", "classifier accuracy"},
			Rows:  gapRows,
		})
	} else {
		paras := []string{
			fmt.Sprintf("The %s preset's ranges were fitted so that the LQ images it makes from %d HQ crops (%dx%d) come close to %d real LQ images of %s; %d more real LQ images, chosen by a hash of their names, were held out. %d evaluations of the proxy objective (%s) by %s (seed %d).",
				r.Preset, r.HQCrops, o.Crop, o.Crop, r.FitImages, r.RealLQ, r.HeldImages, r.Evals, o.Objective, o.Optimizer, o.Seed),
			"The gap is measured on the held-out images, with LQ images made with another degradation seed than the fit's: the proxy, then KID, FD and the classifier test as degradiff gap computes them (lower is closer; accuracy 0.5 means indistinguishable, with its 95% interval). The fit proxy is the objective the optimiser minimised, on the images fitted on.",
		}
		if r.Step != "" {
			paras = append(paras, fmt.Sprintf("The fit went through the diffusion step (%s): every LQ image measured here, before and after, fitted on or held out, is the degraded crop refined by the model, as synth makes the method's LQ images. config.yaml is the initial degradation for that model and those settings; without the step its LQ images are sharper than the real ones wherever the step smooths.", r.Step))
		}
		d.Sections = append(d.Sections, report.Section{
			Title: "Gap before and after",
			Paras: paras,
			Head:  []string{"degradation", "fit proxy", "held-out proxy", "KID", "FD", "classifier accuracy"},
			Rows:  gapRows,
		})
	}
	var params [][]string
	for _, p := range r.Params {
		params = append(params, []string{p.Key, p.Group, fmtRange(p.Preset, p.Kind), fmtRange(p.Fitted, p.Kind), fmt.Sprintf("%.4g .. %.4g", p.Lo, p.Hi)})
	}
	d.Sections = append(d.Sections, report.Section{
		Title: "Fitted settings",
		Paras: []string{"Each fitted setting against the preset's. Ranges are [min, max]; resize_prob lists the probabilities of up, down and keep; kernel_range gives the largest kernel size (the sizes run from the preset's smallest to it, odd); the last column is the bounds the fit kept to. config.yaml holds these keys on top of the preset and is a --config file of degradiff degrade and synth, and the --calibration of degradiff bench."},
		Head:  []string{"setting", "group", "preset", "fitted", "bounds"},
		Rows:  params,
		Code:  r.Config,
	})
	if a := r.Check; a != nil {
		var rows [][]string
		for _, c := range a.Candidates {
			rows = append(rows, []string{c.Label, fmt.Sprintf("%.4g", c.FitProxy), fmt.Sprintf("%.4g", c.Held.Proxy), fmt.Sprintf("%.4f", c.Held.KID), fmt.Sprintf("%.3f", c.Held.FD), fmtC2ST(c.Held)})
		}
		rows = append(rows, []string{"Spearman rank correlation with the held-out proxy", "", "", fmtRho(a.KID), fmtRho(a.FD), fmtRho(a.C2ST)})
		para := fmt.Sprintf("The optimiser minimises a cheap proxy instead of KID, FD and the classifier test. To check that it orders configurations as they do, %d candidates (the preset, the fit, and evaluations spread over the proxy's ranks) were measured in full on the held-out images. A rank correlation of +1 means the proxy orders them exactly as the measure does.", len(a.Candidates))
		if paired {
			what := "maximises the Y-PSNR of the pairs"
			switch o.Objective {
			case calibrate.ObjectiveResponse:
				what = "brings the frequency response close to the cameras'"
			case calibrate.ObjectiveLinearSR:
				what = "maximises how well a linear upscaler trained on the degradation restores the pairs"
			}
			para = fmt.Sprintf("The fit %s, not the gap to the camera's LR images. %d candidates (the preset, the fit, and evaluations spread over the objective's ranks) were measured on the held-out pairs and on their LR images as unpaired images: a rank correlation of +1 means the held-out objective orders them exactly as the measure does.", what, len(a.Candidates))
		}
		d.Sections = append(d.Sections, report.Section{
			Title: "Does the proxy agree with the full measures?",
			Paras: []string{para},
			Head:  []string{"candidate", "fit proxy", "held-out proxy", "KID", "FD", "classifier accuracy"},
			Rows:  rows,
		})
	}
	d.Sections = append(d.Sections,
		report.Section{Title: "Optimisation", Paras: []string{optimisationText(r)}, Image: calibrate.ProgressPNG},
		report.Section{Title: "Feature histograms", Paras: []string{"The distribution over feature crops of the " + fmt.Sprint(len(r.HistFeatures)) + " degradation features whose means differed most between the held-out real images and the preset's LQ images: real, before and after calibration (see measure/features for what each measures)."}, Image: calibrate.HistogramsPNG},
		report.Section{Title: "Samples", Paras: []string{samplesText(paired)}, Image: calibrate.SamplesPNG},
	)
	c2stText := "skipped"
	if !o.SkipC2ST {
		c := o.C2ST.WithDefaults()
		c2stText = fmt.Sprintf("%d splits of %d steps, %d patches of %d pixels per image", c.Splits, c.Steps, c.Patches, c.PatchSize)
	}
	groups := o.Groups
	if len(groups) == 0 {
		groups = []string{"all"}
	}
	inputRows := [][]string{
		{"real LQ images", fmt.Sprintf("%s: %d fitted on, %d held out (--holdout %g): %s", r.RealLQ, r.FitImages, r.HeldImages, o.Holdout, strings.Join(r.Held, ", "))},
		{"HQ images", fmt.Sprintf("%s: %d crops of %dx%d every %d pixels (at most %d; %d files unreadable or too small)", strings.Join(r.HQ, ", "), r.HQCrops, o.Crop, o.Crop, o.CropStep, o.MaxCrops, r.HQSkipped)},
	}
	if paired {
		inputRows = [][]string{
			{"real pairs", fmt.Sprintf("%s: %d fitted on, %d held out (--holdout %g): %s", r.Pairs, r.FitImages, r.HeldImages, o.Holdout, strings.Join(r.Held, ", "))},
			{"HR crops", fmt.Sprintf("%d crops of %dx%d every %d pixels of the HR images of the pairs fitted on, with the LR crops of the same scenes (at most %d)", r.HQCrops, o.Crop, o.Crop, o.CropStep, o.MaxCrops)},
		}
	}
	d.Sections = append(d.Sections, report.Section{
		Title: "Setup",
		Head:  []string{"setting", "value"},
		Rows: [][]string{
			{"preset", r.Preset + map[bool]string{true: " with " + r.ConfigFile, false: ""}[r.ConfigFile != ""]},
			inputRows[0],
			inputRows[1],
			{"fitted groups", strings.Join(groups, ", ")},
			{"optimiser", fmt.Sprintf("%s (gonum optimize), initial step %g, budget %d evaluations, seed %d", o.Optimizer, o.StepSize, r.Budget, o.Seed)},
			{"proxy", fmt.Sprintf("%s on %d feature crops of %d pixels per image", o.Objective, o.Features.Patches, o.Features.PatchSize)},
			{"classifier test", c2stText},
			{"compute", fmt.Sprintf("%.0f s in all: %.0f s of evaluations in this run, %.0f s of measurements; finished %s", r.TotalSeconds, r.FitSeconds, r.MeasureSeconds, r.Finished.Format(time.RFC3339))},
		},
	})
	if r.Command != "" {
		d.Sections = append(d.Sections, report.Section{Title: "Command", Paras: []string{"Rerunning it replays the logged evaluations and redoes nothing but what is missing; a larger --budget goes on from them."}, Code: r.Command})
	}
	return d
}

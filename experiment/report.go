package experiment

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/degradiff/degradiff/internal/atomicfile"
	"github.com/degradiff/degradiff/internal/plot"
	"github.com/degradiff/degradiff/internal/report"
	"github.com/degradiff/degradiff/measure"
	"github.com/degradiff/degradiff/pairset"
	"github.com/degradiff/degradiff/pairset/pairread"
)

// Files of the report.
const (
	ReportMD    = "report.md"
	ReportHTML  = "report.html"
	CurvesPNG   = "curves.png"
	SamplesPNG  = "samples.png"
	reportTitle = "degradiff bench: which LQ source trains the best SR network?"
)

// report gathers the stages' outputs into Results and writes results.json,
// the plots and the report in Markdown and HTML.
func (r *runner) report() (*Results, error) {
	c := r.cfg
	res := &Results{
		Budget: c.Budget, Command: c.Command, Out: r.out,
		HQ: c.HQ, HQImages: r.crops.Files, HQCrops: len(r.crops.Crops),
		RealLQ: c.RealLQ, RealLQImages: len(r.real.files),
		Test: c.Test, TestPairs: r.test.Len(),
	}
	if r.val != nil {
		res.Val, res.ValPairs = c.Val, r.val.Len()
		res.ValRealLeftOut = slices.Contains(c.Sources, Real) && !r.valReal
		if slices.ContainsFunc(c.Sources, func(s string) bool { return calibrated(s) || (refined(s) && r.adapting()) }) {
			res.ValSeenLQ = r.valSeen
		}
	}
	if err := yaml.Unmarshal(c.YAML(), &res.Config); err != nil {
		return nil, err
	}
	for _, s := range append(append([]string(nil), c.Sources...), Upscale) {
		row, err := r.readScores(s, r.test, "test", r.testFile)
		if err != nil {
			return nil, err
		}
		if r.validated(s) {
			val, err := r.readScores(s, r.val, "validation", r.valFile)
			if err != nil {
				return nil, err
			}
			row.Val = &val
		}
		if s != Upscale && s != Real {
			var g measure.Report
			if err := atomicfile.ReadJSON(r.gapFile(s), &g); err != nil {
				return nil, err
			}
			row.Gap = &GapSummary{KID: g.KID, FD: g.FD, C2ST: g.C2ST}
		}
		if s != Upscale {
			curve, err := r.lossCurve(srRun{s, 0})
			if err != nil {
				return nil, err
			}
			if len(curve) > 0 {
				row.FinalLoss = curve[len(curve)-1].Loss
			}
		}
		if refined(s) && res.Model == nil {
			res.Model = manifestModel(r.pairsDir(s))
			if r.adapting() {
				var err error
				if res.Adapt, err = r.readAdapted(); err != nil {
					return nil, err
				}
			}
		}
		res.Rows = append(res.Rows, row)
	}
	res.compareRows()
	for _, t := range r.stages.Times() {
		if t.Name != "report" {
			res.Stages = append(res.Stages, t)
		}
	}
	if err := atomicfile.WriteJSON(filepath.Join(r.out, ResultsFile), res); err != nil {
		return nil, err
	}
	if err := r.drawCurves(); err != nil {
		return nil, err
	}
	if err := r.drawSamples(); err != nil {
		return nil, err
	}
	if res.Adapt != nil {
		if err := r.drawAdapt(); err != nil {
			return nil, err
		}
	}
	doc := r.document(res)
	if err := pairset.WriteFileAtomic(filepath.Join(r.out, ReportMD), doc.Markdown()); err != nil {
		return nil, err
	}
	page, err := doc.HTML(r.out)
	if err != nil {
		return nil, err
	}
	if err := pairset.WriteFileAtomic(filepath.Join(r.out, ReportHTML), page); err != nil {
		return nil, err
	}
	// Reports are for sharing: readable by all, as the PNGs are.
	for _, f := range []string{ResultsFile, ReportMD, ReportHTML, AdaptPNG} {
		os.Chmod(filepath.Join(r.out, f), 0o644)
	}
	fmt.Fprintf(r.log, "bench: report in %s and %s\n", filepath.Join(r.out, ReportMD), filepath.Join(r.out, ReportHTML))
	return res, nil
}

// readScores reads the scores on set (what names it: test or validation)
// of every seed of the source's networks (one for Upscale) from the
// files file names, checks that they are of set's pairs, in order, and
// aggregates them.
func (r *runner) readScores(source string, set *pairread.Set, what string, file func(srRun) string) (Row, error) {
	c := r.cfg
	want := make([]Score, len(set.Pairs))
	for i, p := range set.Pairs {
		want[i].Name = p.Name
	}
	var tests []TestResult
	var seeds []uint64
	for k := 0; k < c.seeds() && (k == 0 || source != Upscale); k++ {
		var t TestResult
		f := file(srRun{source, k})
		if err := atomicfile.ReadJSON(f, &t); err != nil {
			return Row{}, err
		}
		if !sameImages(t.Images, want) {
			return Row{}, fmt.Errorf("%s: scores other %s pairs than the %d selected (a result of an earlier run on other pairs? delete it to score again)", f, what, len(want))
		}
		tests, seeds = append(tests, t), append(seeds, c.Seed+uint64(k))
	}
	return aggregate(source, tests, seeds), nil
}

// document writes the report's content.
func (r *runner) document(res *Results) report.Document {
	c := r.cfg
	d := report.Document{Title: reportTitle}
	var rows [][]string
	for _, row := range res.Rows {
		rows = append(rows, row.cells())
	}
	d.Sections = append(d.Sections, report.Section{
		Title: "Results",
		Paras: []string{
			fmt.Sprintf("Budget %q. For each LQ source, %d pairs were made from the same %d HQ crops (%dx%d, from %d images) with the same seed (%d); the same x%d network was trained on each source's pairs with the same settings (%d steps of %d patches of %dx%d LR pixels) and tested on %d real test pairs.",
				c.Budget, res.HQCrops*c.PerImage, res.HQCrops, c.Crop, c.Crop, res.HQImages, c.Seed, c.Scale, c.SR.Steps, c.SR.BatchSize, c.SR.PatchSize, c.SR.PatchSize, res.TestPairs),
			fmt.Sprintf("PSNR and SSIM (higher is better) are the means over the test pairs, on the Y channel with %d pixels cropped from each border, as BasicSR computes them. KID and FD (lower is closer) and the accuracy of a classifier telling synthetic from real patches (0.5: indistinguishable) compare the source's synthetic LQ images with the %d real LQ images. The last row is the test LR images upscaled with bicubic interpolation, without a network: the reference a useful network beats.",
				c.Scale, res.RealLQImages),
		},
		Head: res.head(),
		Rows: rows,
	})
	if n := c.seeds(); n > 1 {
		d.Sections[0].Paras = append(d.Sections[0].Paras, fmt.Sprintf(
			"Each source's network was trained %d times, with SR training seeds %d to %d (the pairs, made once with seed %d, are the same for every seed): PSNR and SSIM are the means over these seeds, ± their standard deviation over seeds, and the per-pair table gives each pair's mean over seeds. The loss curves and the sample crops show the first seed's networks.",
			n, c.Seed, c.Seed+uint64(n-1), c.Seed))
	}
	if a := res.Adapt; a != nil {
		d.Sections[0].Paras = append(d.Sections[0].Paras, fmt.Sprintf(
			"The diffusion model of %s was first adapted to the real LQ images: %s, fine-tuned for %d steps on the %d real LQ images, became %s (see Setup). Its KID, FD and classifier accuracy therefore compare with images its model learnt from; PSNR and SSIM are measured on the test pairs, which it never saw.",
			Method, a.Base.Name, a.Steps, a.Images, a.Model.Name))
	}
	if sec, ok := res.comparisonSection(); ok {
		d.Sections = append(d.Sections, sec)
	}
	if sec, ok := res.validationSection(); ok {
		d.Sections = append(d.Sections, sec)
	}
	d.Sections = append(d.Sections, report.Section{
		Title: "Training curves",
		Paras: []string{"The training loss of the SR network on each source's pairs (mean of each log interval). Lower training loss does not mean better real-world results: easy synthetic pairs are easy to fit."},
		Image: CurvesPNG,
	})
	d.Sections = append(d.Sections, report.Section{
		Title: "Samples",
		Paras: []string{
			fmt.Sprintf("Each of the first rows is a test image (the centre, at most 128 HR pixels): the real LQ input enlarged %dx without interpolation, bicubic upsampling, the network trained on each source's pairs (%s), and the ground truth. The last row is one HQ crop (reduced), the synthetic LQ image of each source for it, and a real LQ image, all enlarged without interpolation.",
				c.Scale, strings.Join(c.Sources, ", ")),
			"The test images shown are spread evenly over the sorted test pairs, chosen by position, not by content.",
		},
		Image: SamplesPNG,
	})
	head := []string{"test pair"}
	for _, row := range res.Rows {
		head = append(head, label(row.Source))
	}
	var per [][]string
	for i, sc := range res.Rows[0].Images {
		line := []string{sc.Name}
		for _, row := range res.Rows {
			line = append(line, fmt.Sprintf("%s / %.4f", dB(row.Images[i].PSNR), row.Images[i].SSIM))
		}
		per = append(per, line)
	}
	d.Sections = append(d.Sections, report.Section{Title: "PSNR / SSIM per test pair", Head: head, Rows: per})
	if a := res.Adapt; a != nil {
		d.Sections = append(d.Sections, report.Section{
			Title: "Diffusion model adaptation",
			Paras: []string{fmt.Sprintf("The training loss of the diffusion model while it was fine-tuned on the real LQ images (the denoising error of each step, and its moving average); mean of the last 10%% of the steps %.4f. The run is in %s/, as degradiff train writes one (degradiff export reads it).",
				a.FinalLoss, AdaptDir)},
			Image: AdaptPNG,
		})
	}

	model := "not used"
	if res.Model != nil {
		model = fmt.Sprintf("%s (sha256 %s)", res.Model.Name, res.Model.SHA256)
	}
	gap := r.gapOptions()
	c2stText := "skipped"
	if !gap.SkipC2ST {
		o := gap.C2ST.WithDefaults()
		c2stText = fmt.Sprintf("%d splits of %d steps, %d patches of %d pixels per image", o.Splits, o.Steps, o.Patches, o.PatchSize)
	}
	fo := gap.Features.WithDefaults()
	seedText := fmt.Sprint(c.Seed)
	if n := c.seeds(); n > 1 {
		seedText += fmt.Sprintf("; SR training seeds %d to %d (sr_seeds %d)", c.Seed, c.Seed+uint64(n-1), n)
	}
	setup := len(d.Sections)
	d.Sections = append(d.Sections, report.Section{
		Title: "Setup",
		Head:  []string{"setting", "value"},
		Rows: [][]string{
			{"HQ sources", strings.Join(c.HQ, ", ")},
			{"HQ crops", fmt.Sprintf("%d of %dx%d every %d pixels (of %d in all; at most %d, 0 = all), %d LQ variant(s) each", res.HQCrops, c.Crop, c.Crop, c.CropStep, r.crops.Total, c.MaxCrops, c.PerImage)},
			{"real LQ images", fmt.Sprintf("%s: %d images (include %q, exclude %q)", c.RealLQ, res.RealLQImages, strings.Join(c.RealLQInclude, ","), strings.Join(c.RealLQExclude, ","))},
			{"test pairs", fmt.Sprintf("%s: %d pairs (%s; include %q, exclude %q)", c.Test, res.TestPairs, r.test.Layout, strings.Join(c.TestInclude, ","), strings.Join(c.TestExclude, ","))},
			{"diffusion model (" + Method + ")", model},
			{"model adaptation", r.adaptText(res.Adapt)},
			{"calibrated degradation (" + Calibrated + ")", r.calibrationText()},
			{"diffusion step", c.Synth.String()},
			{"SR network", fmt.Sprintf("srnet x%d, %d features, %d blocks, %s base", c.SR.Model.Scale, c.SR.Model.NumFeat, c.SR.Model.NumBlock, c.SR.Model.Base)},
			{"SR training", fmt.Sprintf("%d steps, batch %d, LR patches %d, %s loss, learning rate %g (%s), EMA %v, precision %s; settings in %s/SOURCE/%s", c.SR.Steps, c.SR.BatchSize, c.SR.PatchSize, c.SR.Loss, c.SR.LR, c.SR.LRSchedule, c.SR.UseEMA, c.SR.Precision, SRDir, "config.yaml")},
			{"gap", fmt.Sprintf("%d feature crops of %d pixels per image; classifier test: %s; seed %d", fo.Patches, fo.PatchSize, c2stText, gap.Seed)},
			{"seed", seedText},
		},
	})
	if r.val != nil {
		d.Sections[setup].Rows = append(d.Sections[setup].Rows, []string{"validation pairs", fmt.Sprintf("%s: %d pairs (%s; include %q, exclude %q)", c.Val, res.ValPairs, r.val.Layout, strings.Join(c.ValInclude, ","), strings.Join(c.ValExclude, ","))})
	}
	cmd := c.Command
	if cmd == "" {
		cmd = "(run through the library: experiment.Run)"
	}
	var lines []string
	for _, s := range c.Sources {
		lines = append(lines, fmt.Sprintf("degradiff sr test --model %s --pairs %s%s --baseline",
			report.ShellQuote(filepath.Join(r.out, SRDir, s)), report.ShellQuote(c.Test), globFlags(c.TestInclude, c.TestExclude)))
	}
	adaptNote := ""
	if res.Adapt != nil {
		adaptNote = " with the model " + AdaptDir + "/" + AdaptModelDir + "/, fine-tuned as degradiff train --init-from does with the settings in " + AdaptDir + "/config.yaml"
	}
	d.Sections = append(d.Sections, report.Section{
		Title: "Commands",
		Paras: []string{
			"This report was made by the command below; rerunning it with the same settings redoes nothing but the report. Stage 2 makes the pairs as degradiff degrade (the four degradations) and degradiff synth --keep-init (" + Method + adaptNote + ") do, on the crops listed in " + CropsFile + "; stage 4 trains as degradiff sr train with the settings in " + SRDir + "/SOURCE/config.yaml. Each network can be tested again with the commands after it.",
		},
		Code: cmd + "\n\n" + strings.Join(lines, "\n"),
	})
	d.Sections = append(d.Sections, TimesSection(res.Stages))
	return d
}

// adaptText describes the adaptation of the Method's model for the
// settings table.
func (r *runner) adaptText(a *Adapted) string {
	c := r.cfg.Adapt
	switch {
	case c.Steps == 0:
		return "none (adapt.steps 0): the model as given"
	case a == nil:
		return fmt.Sprintf("%d steps asked; not run (%s is not among the sources)", c.Steps, Method)
	}
	s := fmt.Sprintf("%s (sha256 %s) fine-tuned on the %d real LQ images", a.Base.Name, a.Base.SHA256, a.Images)
	if n := len(a.Skipped); n > 0 {
		s += fmt.Sprintf(" (%d more skipped: too small or unreadable)", n)
	}
	return s + fmt.Sprintf(": %d steps of %d crops of %dx%d, AdamW learning rate %g (cosine, %d-step warm-up), EMA weights; run in %s/, model in %s/%s/",
		a.Steps, c.BatchSize, c.Resolution, c.Resolution, c.LearningRate, c.WarmupSteps, AdaptDir, AdaptDir, AdaptModelDir)
}

// globFlags returns the --include and --exclude flags of sr test.
func globFlags(include, exclude []string) string {
	s := ""
	if len(include) > 0 {
		s += " --include " + report.ShellQuote(strings.Join(include, ","))
	}
	if len(exclude) > 0 {
		s += " --exclude " + report.ShellQuote(strings.Join(exclude, ","))
	}
	return s
}

// drawCurves plots the training loss of every source on one chart.
func (r *runner) drawCurves() error {
	ch := plot.Chart{
		Title:  fmt.Sprintf("SR training loss (%s, mean of %d steps)", r.cfg.SR.Loss, r.cfg.SR.LogEvery),
		XLabel: "step", YLabel: r.cfg.SR.Loss, LogY: true,
	}
	for _, s := range r.cfg.Sources {
		curve, err := r.lossCurve(srRun{s, 0})
		if err != nil {
			return err
		}
		ser := plot.Series{Name: s}
		for _, p := range curve {
			ser.X, ser.Y = append(ser.X, float64(p.Step)), append(ser.Y, p.Loss)
		}
		ch.Series = append(ch.Series, ser)
	}
	return plot.SavePNG(filepath.Join(r.out, CurvesPNG), ch.Draw(900, 450))
}

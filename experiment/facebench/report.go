package facebench

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/degradiff/degradiff/experiment"
	"github.com/degradiff/degradiff/internal/atomicfile"
	"github.com/degradiff/degradiff/internal/report"
	"github.com/degradiff/degradiff/measure"
	"github.com/degradiff/degradiff/pairset"
)

// Files of the report.
const (
	ReportMD    = "report.md"
	ReportHTML  = "report.html"
	reportTitle = "degradiff bench --task face: do the method's face pairs train a better face restoration network?"
)

// report gathers the stages' outputs into Results and writes results.json
// and the report in Markdown and HTML.
func (r *runner) report() (*Results, error) {
	c, s := r.cfg, r.split
	res := &Results{
		Budget: c.Budget, Command: c.Command, Out: r.out,
		HQ: c.HQ, HQFaces: s.HQ.Found, TrainFaces: len(s.HQ.Train), HeldOutHQ: len(s.HQ.HeldOut),
		RealLQ: c.RealLQ, RealLQFaces: s.RealLQ.Found, HeldOutRealLQ: len(s.RealLQ.HeldOut),
		FaceSize: c.faceSize(), HeldOutDegradation: c.HeldOutDegradation.String(),
	}
	if err := yaml.Unmarshal(c.YAML(), &res.Config); err != nil {
		return nil, err
	}
	if r.model != nil {
		id := r.model.ID
		res.Model = &id
	}
	for _, src := range c.Sources {
		var g measure.Report
		if err := atomicfile.ReadJSON(r.lqGapFile(src), &g); err != nil {
			return nil, err
		}
		res.LQGap = append(res.LQGap, LQGap{src, experiment.GapSummary{KID: g.KID, FD: g.FD, C2ST: g.C2ST}})
	}
	for _, src := range append(append([]string(nil), c.Sources...), Input) {
		var tests []TestResult
		var gaps []measure.Report
		var seeds []uint64
		for k := 0; k < c.Seeds && (k == 0 || src != Input); k++ {
			run := bfrRun{src, k}
			var t TestResult
			var g measure.Report
			if err := atomicfile.ReadJSON(r.testFile(run), &t); err != nil {
				return nil, err
			}
			if err := atomicfile.ReadJSON(r.restoredGapFile(run), &g); err != nil {
				return nil, err
			}
			tests, gaps = append(tests, t), append(gaps, g)
			if src != Input {
				seeds = append(seeds, c.Seed+uint64(k))
			}
		}
		res.Rows = append(res.Rows, aggregate(src, seeds, tests, gaps))
	}
	rows := map[string]*Row{}
	for i := range res.Rows {
		rows[res.Rows[i].Source] = &res.Rows[i]
	}
	for _, p := range Comparisons {
		if a, b := rows[p[0]], rows[p[1]]; a != nil && b != nil {
			res.Comparisons = append(res.Comparisons, Comparison{Source: p[0], Baseline: p[1], Differences: compareRows(*a, *b)})
		}
	}
	for _, t := range r.stages.Times() {
		if t.Name != "report" {
			res.Stages = append(res.Stages, t)
		}
	}
	if err := atomicfile.WriteJSON(r.path(ResultsFile), res); err != nil {
		return nil, err
	}
	doc := r.document(res)
	if err := pairset.WriteFileAtomic(r.path(ReportMD), doc.Markdown()); err != nil {
		return nil, err
	}
	page, err := doc.HTML(r.out) // no images: nothing is read
	if err != nil {
		return nil, err
	}
	if err := pairset.WriteFileAtomic(r.path(ReportHTML), page); err != nil {
		return nil, err
	}
	// Reports are for sharing: readable by all.
	for _, f := range []string{ResultsFile, ReportMD, ReportHTML} {
		os.Chmod(r.path(f), 0o644)
	}
	fmt.Fprintf(r.log, "bench: report in %s and %s\n", r.path(ReportMD), r.path(ReportHTML))
	return res, nil
}

// document writes the report's content.
func (r *runner) document(res *Results) report.Document {
	c := r.cfg
	d := report.Document{Title: reportTitle}
	seeds := fmt.Sprintf("%d training seed", c.Seeds)
	if c.Seeds > 1 {
		seeds += "s"
	}
	intro := fmt.Sprintf("Budget %q. The same face restoration network (bfrnet, %dx%d faces) was trained with the same settings (%d steps of %d faces) on the pairs of each source, with %s (%d, %d, ...): %s. Every source made %d pairs from the same %d training HQ faces (of %d) with the same item names and seed; each +ddpm pair starts from the initial LQ face of the pair of the degradation it refines.",
		c.Budget, c.faceSize(), c.faceSize(), c.BFR.Steps, c.BFR.BatchSize, seeds, c.Seed, c.Seed+1, sourcesText(c.Sources), res.TrainFaces*c.PerImage, res.TrainFaces, res.HQFaces)
	stats := "Cells are the mean over training seeds, then, with several seeds, ± the standard deviation over seeds and the 95% interval of the mean (Student's t)."
	heldOut := fmt.Sprintf("Held-out faces decide nothing: %d of the %d HQ faces and %d of the %d real LQ faces were held out by a keyed hash of their names (held_out %g, split seed %d; the lists are in %s) before any stage ran; every setting comes from the budget and the config, fixed in advance, and no stage trains on, tunes on or selects by a held-out face. The training faces alone make the pairs. The face diffusion model comes from outside the bench: it must not have learnt from the held-out real LQ faces (the split depends only on the names, held_out and split_seed; train the model on the real LQ faces listed under real_lq.train in %s).",
		res.HeldOutHQ, res.HQFaces, res.HeldOutRealLQ, res.RealLQFaces, c.HeldOut, c.SplitSeed, SplitFile, SplitFile)

	head, rows := res.table(true)
	d.Sections = append(d.Sections, report.Section{
		Title: "Held-out real LQ faces",
		Paras: []string{intro,
			fmt.Sprintf("Each network restored the %d held-out real LQ faces (no ground truth). Identity kept is the cosine similarity of the face-api recognition descriptors of the input and the restored face (1: the same); the landmark distance is the mean distance of their 68 landmarks in units of the face side (times 512: pixels of a 512-pixel face). KID, FD and the classifier accuracy (0.5: indistinguishable) compare the restored faces with the %d held-out real HQ faces: lower means closer to real HQ faces. The last row is the real LQ faces themselves, unrestored.", res.HeldOutRealLQ, res.HeldOutHQ),
			stats},
		Head: head, Rows: rows,
	})
	head, rows = res.table(false)
	d.Sections = append(d.Sections, report.Section{
		Title: "Held-out HQ faces with a degradation neither source trains on",
		Paras: []string{fmt.Sprintf("The %d held-out HQ faces were degraded by %s, a degradation that neither source trains on, and restored by each network. PSNR and SSIM (8-bit, Y channel, no border cropped, as degradiff bfr test) and the identity and landmark distance compare the restored face with the HQ face. The last row is the LQ faces themselves. %s", res.HeldOutHQ, res.HeldOutDegradation, stats)},
		Head:  head, Rows: rows,
	})
	for _, cmp := range res.Comparisons {
		sec := report.Section{
			Title: cmp.Source + " against " + cmp.Baseline,
			Paras: []string{"The mean of " + cmp.Source + " minus that of " + cmp.Baseline + " for each measure. With several seeds each, the interval is Welch's t over seeds (95%) and a difference is significant when it excludes 0; \"better\" follows the measure's direction (higher identity, PSNR and SSIM; lower landmark distance, KID, FD and classifier accuracy)."},
			Head:  []string{"measure", "difference", "95% CI over seeds", "in favour of " + cmp.Source, "significant"},
		}
		for _, df := range cmp.Differences {
			m := measureByKey(df.Measure)
			ci := "-"
			if df.CI != nil {
				ci = fmt.Sprintf("[%+.4f, %+.4f]", df.CI[0], df.CI[1])
			}
			sec.Rows = append(sec.Rows, []string{m.Label, fmt.Sprintf("%+.4f", df.Delta), ci, yesNo(df.Better), yesNo(df.Significant)})
		}
		d.Sections = append(d.Sections, sec)
	}
	gap := report.Section{
		Title: "LQ training faces against held-out real LQ faces",
		Paras: []string{fmt.Sprintf("How far each source's LQ training faces are from the %d held-out real LQ faces: KID and FD of the degradation features and the accuracy of a classifier telling them apart (0.5: indistinguishable), as degradiff gap measures them.", res.HeldOutRealLQ)},
		Head:  lqGapHead,
	}
	for _, g := range res.LQGap {
		gap.Rows = append(gap.Rows, g.cells())
	}
	d.Sections = append(d.Sections, gap)

	per := report.Section{Title: "Per training seed", Head: []string{"run", "seed"}}
	for _, m := range Measures {
		per.Head = append(per.Head, m.Label)
	}
	for _, row := range res.Rows {
		for k, sd := range row.Seeds {
			line := []string{bfrRun{row.Source, k}.key(), fmt.Sprint(sd)}
			for _, m := range Measures {
				if s, ok := row.Measures[m.Key]; ok {
					line = append(line, fmt.Sprintf(m.Format, s.Seeds[k]))
				} else {
					line = append(line, "-")
				}
			}
			per.Rows = append(per.Rows, line)
		}
	}
	d.Sections = append(d.Sections, per)

	model := "not used"
	if res.Model != nil {
		model = fmt.Sprintf("%s (sha256 %s)", res.Model.Name, res.Model.SHA256)
	}
	calibrationText := "not used"
	if slices.ContainsFunc(c.Sources, calibrated) {
		calibrationText = c.Calibration + " (kept as " + CalibrationFile + ")"
	}
	g := r.gapOptions()
	c2stText := "skipped"
	if !g.SkipC2ST {
		o := g.C2ST.WithDefaults()
		c2stText = fmt.Sprintf("%d splits of %d steps, %d patches of %d pixels per face", o.Splits, o.Steps, o.Patches, o.PatchSize)
	}
	fo := g.Features.WithDefaults()
	b := c.BFR
	d.Sections = append(d.Sections, report.Section{
		Title: "Setup",
		Paras: []string{heldOut},
		Head:  []string{"setting", "value"},
		Rows: [][]string{
			{"HQ faces", fmt.Sprintf("%s: %d faces; %d train (at most %d, 0 = all), %d held out (at most %d)", c.HQ, res.HQFaces, res.TrainFaces, c.MaxFaces, res.HeldOutHQ, c.MaxHeldOut)},
			{"real LQ faces", fmt.Sprintf("%s: %d faces (include %q, exclude %q); %d held out, the others unused", c.RealLQ, res.RealLQFaces, strings.Join(c.RealLQInclude, ","), strings.Join(c.RealLQExclude, ","), res.HeldOutRealLQ)},
			{"face size", fmt.Sprintf("every face resized to %dx%d (area interpolation when shrinking, bicubic when enlarging)", c.faceSize(), c.faceSize())},
			{"training pairs", fmt.Sprintf("the initial degradation at scale 1 (LQ resized back), %d variant(s) per face, seed %d", c.PerImage, c.Seed)},
			{"calibrated degradation", calibrationText},
			{"face diffusion model (the +ddpm sources)", model},
			{"diffusion step", c.Synth.String()},
			{"held-out degradation", res.HeldOutDegradation},
			{"network", fmt.Sprintf("bfrnet: %d features, channel multipliers %v, %d blocks per level, %d at the bottom", b.Model.NumFeat, b.Model.ChannelMult, b.Model.LevelBlocks, b.Model.NumBlock)},
			{"training", fmt.Sprintf("%d steps, batch %d, patches %d, %s loss, learning rate %g (%s), EMA %v; %d seed(s); settings in %s/KEY/config.yaml", b.Steps, b.BatchSize, b.PatchSize, b.Loss, b.LR, b.LRSchedule, b.UseEMA, c.Seeds, BFRDir)},
			{"face measures", "face-api 1.7.15 recognition (128-d descriptors) and 68-landmark networks, " + c.FaceModels},
			{"gap", fmt.Sprintf("%d feature crops of %d pixels per face; classifier test: %s; seed %d", fo.Patches, fo.PatchSize, c2stText, g.Seed)},
		},
	})
	cmd := c.Command
	if cmd == "" {
		cmd = "(run through the library: facebench.Run)"
	}
	var lines []string
	for _, run := range r.runs() {
		lines = append(lines, fmt.Sprintf("degradiff bfr test --model %s --lq %s --face-models %s",
			report.ShellQuote(r.runDir(run)), report.ShellQuote(r.path(RealLQDir)), report.ShellQuote(c.FaceModels)),
			fmt.Sprintf("degradiff bfr test --model %s --pairs %s --face-models %s --baseline",
				report.ShellQuote(r.runDir(run)), report.ShellQuote(r.path(HeldOutDir)), report.ShellQuote(c.FaceModels)))
	}
	d.Sections = append(d.Sections, report.Section{
		Title: "Commands",
		Paras: []string{"This report was made by the command below; rerunning it with the same settings redoes nothing but the report. The pairs are made as degradiff degrade --preset face and degradiff synth --preset face --model M --keep-init do, on the training faces listed in " + SplitFile + " resized to the face size; each network is trained as degradiff bfr train does with the settings in " + BFRDir + "/KEY/config.yaml, and can be tested again with the commands after it."},
		Code:  cmd + "\n\n" + strings.Join(lines, "\n"),
	})
	d.Sections = append(d.Sections, experiment.TimesSection(res.Stages))
	return d
}

// sourcesText describes the sources for the report.
func sourcesText(sources []string) string {
	var parts []string
	for _, s := range sources {
		switch s {
		case Face:
			parts = append(parts, Face+", GFPGAN's degradation (the degrade preset face)")
		case FaceMethod:
			parts = append(parts, FaceMethod+", face's initial LQ faces refined by the face diffusion model, as degradiff synth --preset face --model does")
		case Calibrated:
			parts = append(parts, Calibrated+", the face degradation of the calibration file (fitted to real LQ faces)")
		case CalibratedMethod:
			parts = append(parts, CalibratedMethod+", calibrated's initial LQ faces refined by the same model")
		}
	}
	return strings.Join(parts, "; ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

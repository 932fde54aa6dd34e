package experiment

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/degradiff/degradiff/calibrate"
	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/internal/atomicfile"
)

// CalibrateDir is the folder of the stage "calibrate" under OUT: a
// degradiff calibrate output folder (config.yaml, report.md, ...).
const CalibrateDir = "calibrate"

// calibrationFile is the degradation config of the Calibrated sources:
// the one given, or the one the stage "calibrate" fits.
func (r *runner) calibrationFile() string {
	if f := r.cfg.Calibration.Config; f != "" {
		return f
	}
	return filepath.Join(r.out, CalibrateDir, calibrate.ConfigFile)
}

// calibrationDone reports a finished calibrate stage: its report is
// written last.
func (r *runner) calibrationDone() bool {
	return exists(filepath.Join(r.out, CalibrateDir, ReportMD))
}

// calibrationText describes the Calibrated sources' degradation for the
// report's setup.
func (r *runner) calibrationText() string {
	if !slices.ContainsFunc(r.cfg.Sources, calibrated) {
		return "not used"
	}
	if f := r.cfg.Calibration.Config; f != "" {
		return f + " (given)"
	}
	text := fmt.Sprintf("the official preset's ranges fitted to the real LQ images by the stage %s: %s/%s, report in %s/%s",
		CalibrateDir, CalibrateDir, calibrate.ConfigFile, CalibrateDir, ReportMD)
	if r.cfg.Calibration.ThroughStep {
		text += ", fitted through the diffusion step (calibration.through_step: each LQ image of the fit refined by the Method's model with the synth settings)"
	}
	var res calibrate.Result
	if err := atomicfile.ReadJSON(filepath.Join(r.out, CalibrateDir, calibrate.ResultFile), &res); err == nil {
		text += fmt.Sprintf(" (%d evaluations; on its %d held-out real LQ images KID %.4f -> %.4f, FD %.3f -> %.3f)",
			res.Evals, res.HeldImages, res.Before.KID, res.After.KID, res.Before.FD, res.After.FD)
	}
	return text
}

// calibrate fits the official preset's ranges to the selected real LQ
// images, as degradiff calibrate does with the stage's settings and the
// experiment's seed; an interrupted fit resumes from its evaluation log.
func (r *runner) calibrate() error {
	c := r.cfg
	base, err := degrade.Load(Official, "")
	if err != nil {
		return err
	}
	base.Scale = c.Scale
	real := make(calibrate.Files, len(r.real.files))
	for i := range real {
		real[i] = calibrate.File{Name: r.real.names[i], Path: r.real.files[i]}
	}
	check := c.Calibration.Check
	seed := c.Seed
	if seed == 0 {
		seed = 1 // calibrate reserves 0 for its default
	}
	opt := calibrate.Options{
		Preset: Official, Base: base, Budget: c.Calibration.Budget, Seed: seed,
		Crop: c.Calibration.Crop, MaxCrops: c.Calibration.MaxCrops, Check: check,
		Features: c.Gap.Features, C2ST: c.Gap.C2ST, SkipC2ST: c.Gap.SkipC2ST,
		Log: r.log, Command: c.Command,
	}
	if c.Calibration.ThroughStep {
		m, err := r.methodModel()
		if err != nil {
			return err
		}
		// float32, as the pairs are made.
		opt.Step, err = calibrate.NewStep(m, c.Synth.Img2Img(), c.Synth.MaxStrength, gemm.FP32)
		if err != nil {
			return fmt.Errorf("calibration.through_step: %w", err)
		}
	}
	dir := filepath.Join(r.out, CalibrateDir)
	res, err := calibrate.Run(r.ctx, real, c.HQ, calibrate.Inputs{RealLQ: c.RealLQ, HQ: c.HQ}, opt, dir)
	if errors.Is(err, calibrate.ErrInterrupted) {
		return Interrupted(CalibrateDir)
	}
	if err != nil {
		return err
	}
	if err := WriteCalibrationReport(dir, res); err != nil {
		return fmt.Errorf("calibration report: %w", err)
	}
	return nil
}

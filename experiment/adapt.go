package experiment

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"

	"github.com/degradiff/degradiff/diffusion/pipeline"
	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/atomicfile"
	"github.com/degradiff/degradiff/internal/plot"
	"github.com/degradiff/degradiff/models/unet"
	"github.com/degradiff/degradiff/pairset"
	"github.com/degradiff/degradiff/train/ddpm"
	"github.com/degradiff/degradiff/train/runfolder"
)

// Files of the adapt stage, under OUT/adapt/ (AdaptDir): a ddpm run
// folder (config.yaml, log.jsonl, loss.png, checkpoints/), the base
// model's UNet configuration it trains, the exported model, and the record
// written last, when the stage is complete.
const (
	AdaptDir      = "adapt"
	AdaptModelDir = "model"        // the EMA weights, a diffusers pipeline folder
	AdaptRecord   = "adapted.json" // an Adapted
	AdaptPNG      = "adapt.png"    // the report's plot of the adaptation loss, in OUT
	adaptUNetJSON = "unet_config.json"
	// The run checkpoints every adaptCheckpointEvery steps (and at the
	// end, and on Ctrl-C), keeping the last adaptKeep.
	adaptCheckpointEvery = 100
	adaptKeep            = 1
)

// Adapted is the record of a finished adapt stage, OUT/adapt/adapted.json.
type Adapted struct {
	// Base is the model fine-tuned; Model the result, named after Base
	// with "+adapt", with the SHA-256 of its weights file.
	Base  pipeline.ID `json:"base"`
	Model pipeline.ID `json:"model"`
	// Dir is the exported model folder.
	Dir   string `json:"dir"`
	Steps int    `json:"steps"`
	// Images is the number of real LQ images trained on; Skipped lists
	// those too small for the crops or unreadable.
	Images  int      `json:"images"`
	Skipped []string `json:"skipped,omitempty"`
	// FinalLoss is the mean training loss of the last 10% of the steps.
	FinalLoss float64 `json:"final_loss"`
}

// validate names the first impossible adapt setting by its YAML key; with
// Steps 0 the others are unused and not checked.
func (a AdaptConfig) validate() error {
	bad := func(key string, v any, why string) error { return fmt.Errorf("adapt.%s: %v %s", key, v, why) }
	switch {
	case a.Steps < 0:
		return bad("steps", a.Steps, "must not be negative (0 uses the diffusion model as given)")
	case a.Steps == 0:
		return nil
	case a.BatchSize < 1:
		return bad("batch_size", a.BatchSize, "must be at least 1")
	case a.Resolution < 8 || a.Resolution%8 != 0:
		return bad("resolution", a.Resolution, "must be a positive multiple of 8")
	case !(a.LearningRate > 0) || math.IsInf(a.LearningRate, 1):
		return bad("learning_rate", a.LearningRate, "must be positive")
	case a.WarmupSteps < 0 || a.WarmupSteps > a.Steps:
		return bad("warmup_steps", a.WarmupSteps, fmt.Sprintf("must be in 0..adapt.steps (%d)", a.Steps))
	}
	return nil
}

func (r *runner) adaptDir() string { return filepath.Join(r.out, AdaptDir) }

// adapting reports whether this run adapts the Method's model: when asked
// and a refined source (Method, CalibratedMethod) is among the sources.
func (r *runner) adapting() bool { return r.cfg.adapting() }

func (c Config) adapting() bool {
	return c.Adapt.Steps > 0 && (slices.ContainsFunc(c.Sources, refined) || c.fitsThroughStep())
}

// fitsThroughStep reports a calibrate stage that fits through the
// Method's diffusion step (calibration.through_step).
func (c Config) fitsThroughStep() bool {
	return c.Calibration.ThroughStep && c.Calibration.Config == "" && slices.ContainsFunc(c.Sources, calibrated)
}

// adaptDone reports a finished adapt stage: its record is written last.
func (r *runner) adaptDone() bool { return exists(filepath.Join(r.adaptDir(), AdaptRecord)) }

// readAdapted reads the record of the adapt stage.
func (r *runner) readAdapted() (*Adapted, error) {
	var a Adapted
	if err := atomicfile.ReadJSON(filepath.Join(r.adaptDir(), AdaptRecord), &a); err != nil {
		return nil, fmt.Errorf("adapted model: %w", err)
	}
	return &a, nil
}

// adaptTrainConfig returns the settings of the adapt run: ddpm's defaults
// with the experiment's, the UNet configuration in modelJSON and the noise
// schedule of the base model's scheduler config, so that the model learns
// at the noise levels it was trained and is sampled with.
func adaptTrainConfig(c Config, modelJSON string, sched []byte) (ddpm.Config, error) {
	t := ddpm.Default()
	a := c.Adapt
	t.Model = modelJSON
	t.Steps, t.BatchSize, t.Resolution = a.Steps, a.BatchSize, a.Resolution
	t.LR, t.LRSchedule, t.WarmupSteps = a.LearningRate, "cosine", a.WarmupSteps
	t.Seed = c.Seed
	t.PreviewEvery, t.PreviewImages = 0, 0
	t.CheckpointEvery, t.KeepCheckpoints = adaptCheckpointEvery, adaptKeep
	sc, err := schedule.ParseConfig(sched)
	if err != nil {
		return t, fmt.Errorf("the model's scheduler config: %w", err)
	}
	switch {
	case len(sc.TrainedBetas) > 0, sc.RescaleBetasZeroSNR:
		return t, errors.New("the model's scheduler config has trained_betas or rescale_betas_zero_snr, which degradiff's trainer cannot fine-tune with: set adapt.steps to 0")
	case sc.PredictionType != schedule.Epsilon && sc.PredictionType != schedule.Sample:
		return t, fmt.Errorf("the model predicts %q, which degradiff's trainer cannot fine-tune (epsilon or sample): set adapt.steps to 0", sc.PredictionType)
	}
	t.NumTrainTimesteps, t.BetaSchedule, t.BetaStart, t.BetaEnd = sc.NumTrainTimesteps, string(sc.BetaSchedule), sc.BetaStart, sc.BetaEnd
	t.Prediction = string(sc.PredictionType)
	t.MaxDiffusionStep = min(t.MaxDiffusionStep, t.NumTrainTimesteps)
	return t, t.Validate()
}

// adapt fine-tunes the Method's diffusion model on the selected real LQ
// images in the run folder OUT/adapt (resuming from its latest checkpoint)
// and exports the EMA weights, with the base model's scheduler config, to
// OUT/adapt/model.
func (r *runner) adapt() error {
	c := r.cfg
	base, err := pipeline.Load(c.Model, c.ModelEMA)
	if err != nil {
		return err
	}
	dir := r.adaptDir()
	run, err := runfolder.Create(dir, adaptKeep)
	if err != nil {
		return err
	}
	defer run.Close()
	// The trainer builds its network from a configuration file: the base
	// model's, so that the base weights fit it.
	mc := base.UNet.Config()
	mc.ClassName, mc.DiffusersVersion = unet.ClassName, unet.DiffusersVersion
	b, err := json.MarshalIndent(mc, "", "  ")
	if err != nil {
		return err
	}
	modelJSON, err := filepath.Abs(filepath.Join(dir, adaptUNetJSON))
	if err != nil {
		return err
	}
	if err := pairset.WriteFileAtomic(modelJSON, append(b, '\n')); err != nil {
		return err
	}
	tc, err := adaptTrainConfig(c, modelJSON, base.SchedulerConfig)
	if err != nil {
		return err
	}
	if k := mc.SizeMultiple(); tc.Resolution%k != 0 {
		return fmt.Errorf("adapt.resolution: %d is not a multiple of the diffusion model's downsampling factor %d", tc.Resolution, k)
	}
	// As degradiff train writes it, so that degradiff export reads the run.
	if err := pairset.WriteFileAtomic(filepath.Join(dir, "config.yaml"), tc.YAML()); err != nil {
		return err
	}
	data, err := ddpm.LoadFiles(r.real.files, r.real.names, tc, 0, imageio.Options{})
	if err != nil {
		return fmt.Errorf("--real-lq %s: %w", c.RealLQ, err)
	}
	var skipped []string
	for _, e := range data.Skipped {
		skipped = append(skipped, e.Error())
		fmt.Fprintf(r.log, "bench: adapt: skipped: %v\n", e)
	}
	tr, err := ddpm.New(tc, run, data, r.log)
	if err != nil {
		return err
	}
	if ck, _ := run.Latest(); ck != "" {
		if err := tr.Resume(ck); err != nil {
			return err
		}
		fmt.Fprintf(r.log, "bench: adapt: resumed from %s at step %d\n", ck, tr.Step())
	} else if err := tr.InitFrom(base.UNet); err != nil {
		return err
	}
	if base.Untrained {
		fmt.Fprintf(r.log, "bench: warning: the built-in model of this build is untrained (step 0): adapting it trains from random weights\n")
	}
	fmt.Fprintf(r.log, "bench: adapt: fine-tuning %s (sha256 %.12s) on %d real LQ images: %d steps of %d crops of %dx%d, learning rate %g\n",
		base.ID.Name, base.ID.SHA256, len(data.Train), tc.Steps, tc.BatchSize, tc.Resolution, tc.Resolution, tc.LR)
	err = tr.Run(r.ctx)
	if errors.Is(err, ddpm.ErrInterrupted) || (err != nil && r.ctx.Err() != nil) {
		return Interrupted(AdaptDir)
	}
	if err != nil {
		return err
	}
	// Sampled as the base model is: its scheduler config, not the
	// trainer's (which may differ in keys that do not affect training).
	modelDir := filepath.Join(dir, AdaptModelDir)
	if err := unet.WritePipeline(modelDir, base.SchedulerConfig); err != nil {
		return err
	}
	sum, err := unet.FileSHA256(filepath.Join(modelDir, unet.UNetFolder, unet.WeightsFile))
	if err != nil {
		return err
	}
	curve, err := adaptCurve(dir)
	if err != nil {
		return err
	}
	rec := Adapted{
		Base: base.ID, Model: pipeline.ID{Name: base.ID.Name + "+adapt", SHA256: sum}, Dir: modelDir,
		Steps: tr.Step(), Images: len(data.Train), Skipped: skipped, FinalLoss: finalLoss(curve),
	}
	fmt.Fprintf(r.log, "bench: adapt: model %s (sha256 %.12s) in %s\n", rec.Model.Name, rec.Model.SHA256, modelDir)
	r.method = nil // loaded again, adapted
	return atomicfile.WriteJSON(filepath.Join(dir, AdaptRecord), rec)
}

// loadAdapted loads the model of the adapt stage, checking that its
// weights are those the stage wrote.
func (r *runner) loadAdapted() (*pipeline.Model, error) {
	rec, err := r.readAdapted()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(r.adaptDir(), AdaptModelDir)
	m, err := unet.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("adapted model: %w", err)
	}
	if m.Source.SHA256 != rec.Model.SHA256 {
		return nil, fmt.Errorf("adapted model %s: its weights changed since %s was written (sha256 %.12s, recorded %.12s): remove %s and rerun",
			dir, AdaptRecord, m.Source.SHA256, rec.Model.SHA256, r.adaptDir())
	}
	return &pipeline.Model{UNet: m, ID: rec.Model, SchedulerConfig: m.Source.SchedulerConfig}, nil
}

// adaptCurve reads the training loss of the adapt run in dir.
func adaptCurve(dir string) ([]lossPoint, error) {
	return readLoss(&runfolder.Run{Dir: dir})
}

// finalLoss is the mean loss of the last 10% of the curve (at least one
// step): a single step's loss of a diffusion model is too noisy to
// report.
func finalLoss(curve []lossPoint) float64 {
	if len(curve) == 0 {
		return 0
	}
	tail := curve[len(curve)-max(1, len(curve)/10):]
	sum := 0.0
	for _, p := range tail {
		sum += p.Loss
	}
	return sum / float64(len(tail))
}

// drawAdapt plots the loss of the adapt run, each step's and its moving
// average, to OUT/adapt.png.
func (r *runner) drawAdapt() error {
	curve, err := adaptCurve(r.adaptDir())
	if err != nil {
		return err
	}
	win := max(1, min(100, len(curve)/10))
	raw := plot.Series{Name: "loss"}
	avg := plot.Series{Name: fmt.Sprintf("moving average (%d)", win)}
	sum := 0.0
	for i, p := range curve {
		raw.X, raw.Y = append(raw.X, float64(p.Step)), append(raw.Y, p.Loss)
		sum += p.Loss
		if i >= win {
			sum -= curve[i-win].Loss
		}
		avg.X, avg.Y = append(avg.X, float64(p.Step)), append(avg.Y, sum/float64(min(i+1, win)))
	}
	ch := plot.Chart{Title: "Diffusion model adapted to the real LQ images: training loss", XLabel: "step", YLabel: "loss", LogY: true,
		Series: []plot.Series{raw}}
	if win > 1 {
		ch.Series = append(ch.Series, avg)
	}
	return plot.SavePNG(filepath.Join(r.out, AdaptPNG), ch.Draw(800, 320))
}

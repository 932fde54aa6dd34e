package ddpm

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/engine/nn"
	"github.com/degradiff/degradiff/engine/optim"
	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/models/unet"
	"github.com/degradiff/degradiff/pairset"
	"github.com/degradiff/degradiff/rng"
	"github.com/degradiff/degradiff/train/runfolder"
)

// ErrInterrupted is returned by Run when its context is cancelled; the
// trainer has saved a checkpoint first.
var ErrInterrupted = runfolder.ErrInterrupted

// Trainer trains a UNet on a Dataset in a run folder.
type Trainer struct {
	Cfg    Config
	Folder *runfolder.Run
	Model  *unet.Model
	Data   *Dataset
	// Log receives the progress bar and messages (nil: none).
	Log io.Writer

	sched  *schedule.Schedule
	schCfg []byte // the scheduler_config.json written with exports
	opt    *optim.AdamW
	ema    *optim.EMA
	lr     optim.Schedule
	g      *ag.Graph
	step   int
	epochs epochCache

	// The buffers of a step, reused: the clean crops, the noise, and per
	// sample the timestep (as an int and as the model's float) and the
	// loss weight.
	x0, eps     *tensor.Tensor
	x0c, epsc   *ag.Var // x0 and eps as constants
	xt          *tensor.Tensor
	xtc         *ag.Var // the noised batch, reused every step
	ts          []int
	tf, weights []float32
}

// ModelConfig resolves cfg.Model (a preset name or a config.json path) and
// sets the sample size to the training resolution.
func ModelConfig(cfg Config) (unet.Config, error) {
	var mc unet.Config
	if strings.HasSuffix(cfg.Model, ".json") {
		b, err := os.ReadFile(cfg.Model)
		if err != nil {
			return mc, fmt.Errorf("model: %w", err)
		}
		if mc, err = unet.ParseConfig(b); err != nil {
			return mc, fmt.Errorf("model %s: %w", cfg.Model, err)
		}
	} else {
		var err error
		if mc, err = unet.Preset(cfg.Model); err != nil {
			return mc, fmt.Errorf("model: %w", err)
		}
	}
	mc.SampleSize = unet.SampleSize{H: cfg.Resolution, W: cfg.Resolution}
	if cfg.Resolution%mc.SizeMultiple() != 0 {
		return mc, fmt.Errorf("resolution: %d is not a multiple of the model's downsampling factor %d", cfg.Resolution, mc.SizeMultiple())
	}
	return mc, nil
}

// SchedulerConfig returns the DDPMScheduler config.json of a run, with
// "timestep_spacing": "leading" written explicitly, as diffusers saves it,
// so that samplers loaded from it use leading spacing like the reference.
func SchedulerConfig(cfg Config) []byte {
	return schedule.DDPMFile(cfg.NumTrainTimesteps, schedule.BetaSchedule(cfg.BetaSchedule), cfg.BetaStart, cfg.BetaEnd, schedule.Prediction(cfg.Prediction))
}

// New prepares a trainer with a freshly initialised model.
func New(cfg Config, run *runfolder.Run, data *Dataset, log io.Writer) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	mc, err := ModelConfig(cfg)
	if err != nil {
		return nil, err
	}
	model, err := unet.New(mc, rng.New(cfg.Seed, "init"))
	if err != nil {
		return nil, err
	}
	t := &Trainer{Cfg: cfg, Folder: run, Model: model, Data: data, Log: log, g: ag.NewGraph(true)}
	t.schCfg = SchedulerConfig(cfg)
	sc, err := schedule.ParseConfig(t.schCfg)
	if err != nil {
		return nil, err
	}
	if t.sched, err = schedule.New(sc); err != nil {
		return nil, err
	}
	params := model.Params()
	if t.opt, err = cfg.NewAdamW(params); err != nil {
		return nil, err
	}
	if t.ema, err = cfg.NewEMA(params); err != nil {
		return nil, err
	}
	if t.lr, err = cfg.Schedule(cfg.Steps); err != nil {
		return nil, err
	}
	r, b := cfg.Resolution, cfg.BatchSize
	t.x0, t.eps = tensor.New(b, 3, r, r), tensor.New(b, 3, r, r)
	t.x0c, t.epsc = ag.Const(t.x0), ag.Const(t.eps)
	t.xt = tensor.New(b, 3, r, r)
	t.xtc = ag.Const(t.xt)
	t.ts, t.tf, t.weights = make([]int, b), make([]float32, b), make([]float32, b)
	return t, nil
}

// InitFrom starts training from the weights of another model of the same
// configuration (a warm start, for example from an exported or embedded
// model), instead of a fresh initialisation. The EMA starts from them too.
// Call it before the first step.
func (t *Trainer) InitFrom(m *unet.Model) error {
	if t.step != 0 {
		return fmt.Errorf("init from a model: the run is already at step %d", t.step)
	}
	if err := nn.LoadStateDict(t.Model.Params(), m.StateDict()); err != nil {
		return fmt.Errorf("init from a model: its weights do not fit the configured model: %w", err)
	}
	ema, err := t.Cfg.NewEMA(t.Model.Params())
	if err != nil {
		return err
	}
	t.ema = ema
	return nil
}

// Step returns the number of optimisation steps done.
func (t *Trainer) Step() int { return t.step }

// trainerState is the JSON state saved with each checkpoint.
type trainerState struct {
	AdamStep int `json:"adam_step"`
	EMAStep  int `json:"ema_step"`
}

// Checkpoint saves the model, EMA, optimiser and step.
func (t *Trainer) Checkpoint() (string, error) {
	adamStep, opt := t.opt.State()
	ck := runfolder.Checkpoint{Step: t.step, Groups: map[string]map[string]*tensor.Tensor{
		"model":     t.Model.StateDict(),
		"optimizer": opt,
	}}
	st := trainerState{AdamStep: adamStep}
	if t.ema != nil {
		var shadow map[string]*tensor.Tensor
		st.EMAStep, shadow = t.ema.State()
		ck.Groups["ema"] = shadow
	}
	ck.State, _ = json.Marshal(st)
	return t.Folder.Save(ck)
}

// Resume loads a checkpoint folder into the trainer and drops the log lines
// after its step, so that the run continues as if it had never stopped.
func (t *Trainer) Resume(dir string) error {
	if err := t.LoadCheckpoint(dir); err != nil {
		return err
	}
	return t.Folder.TruncateLog(t.step)
}

// LoadCheckpoint loads a checkpoint folder into the trainer.
func (t *Trainer) LoadCheckpoint(dir string) error {
	ck, err := runfolder.Load(dir)
	if err != nil {
		return err
	}
	var st trainerState
	if err := json.Unmarshal(ck.State, &st); err != nil {
		return fmt.Errorf("checkpoint %s: state: %w", dir, err)
	}
	if err := nn.LoadStateDict(t.Model.Params(), ck.Groups["model"]); err != nil {
		return fmt.Errorf("checkpoint %s: model weights do not fit the configured model: %w", dir, err)
	}
	if err := t.opt.LoadState(st.AdamStep, ck.Groups["optimizer"]); err != nil {
		return fmt.Errorf("checkpoint %s: optimizer: %w", dir, err)
	}
	if t.ema != nil {
		shadow, ok := ck.Groups["ema"]
		if !ok {
			return fmt.Errorf("checkpoint %s has no EMA weights but use_ema is on", dir)
		}
		if err := t.ema.LoadState(st.EMAStep, shadow); err != nil {
			return fmt.Errorf("checkpoint %s: EMA: %w", dir, err)
		}
	}
	t.step = ck.Step
	return nil
}

// fillBatch cuts the crops of micro-batch micro of the current step.
func (t *Trainer) fillBatch(micro int) {
	cfg := t.Cfg
	B, r := cfg.BatchSize, cfg.Resolution
	n := len(t.Data.Train)
	var name [20]byte
	for i := 0; i < B; i++ {
		j := (int64(t.step)*int64(cfg.GradAccumSteps)+int64(micro))*int64(B) + int64(i)
		im := &t.Data.Train[sampleIndex(cfg.Seed, n, j, &t.epochs)]
		cr := rng.New(cfg.Seed, "crop", string(strconv.AppendInt(name[:0], j, 10)))
		y0, x0, flip := im.randomCrop(cr, r, cfg.RandomFlip)
		im.crop(t.x0.Data[i*3*r*r:(i+1)*3*r*r], y0, x0, r, flip)
	}
}

// TrainStep runs one optimisation step (GradAccumSteps micro-batches) and
// returns the mean loss and the gradient norm before clipping.
func (t *Trainer) TrainStep() (loss, gradNorm float64) {
	cfg := t.Cfg
	params := t.Model.Params()
	// The stream names are the decimal step and micro-batch, formatted on
	// the stack.
	var stepName, microName [20]byte
	for micro := 0; micro < cfg.GradAccumSteps; micro++ {
		t.fillBatch(micro)
		nr := rng.New(cfg.Seed, "noise",
			string(strconv.AppendInt(stepName[:0], int64(t.step), 10)),
			string(strconv.AppendInt(microName[:0], int64(micro), 10)))
		for i := range t.ts {
			t.ts[i] = nr.Intn(cfg.MaxDiffusionStep)
			t.tf[i] = float32(t.ts[i])
		}
		nr.FillNormal(t.eps.Data, 1)
		t.sched.AddNoiseInto(t.xt, t.x0, t.eps, t.ts)
		t.g.Reset()
		out := t.Model.Forward(t.g, t.xtc, t.tf)
		var l *ag.Var
		if cfg.Prediction == "epsilon" {
			l = t.g.MSE(out, t.epsc)
		} else {
			// SNR weighting of the x0 loss, as the reference's option.
			for i, s := range t.ts {
				a := float64(t.sched.AlphasCumprod[s])
				t.weights[i] = float32(a / (1 - a))
			}
			l = t.g.WeightedMSE(out, t.x0c, t.weights)
		}
		loss += float64(l.Value.Data[0]) / float64(cfg.GradAccumSteps)
		if cfg.GradAccumSteps > 1 {
			l = t.g.Scale(l, 1/float32(cfg.GradAccumSteps))
		}
		t.g.Backward(l)
	}
	t.g.Reset()
	gradNorm = cfg.ClipGrads(params)
	t.opt.Config.LR = cfg.LR * t.lr(t.step)
	t.opt.Step()
	ag.ZeroGrad(params)
	if t.ema != nil {
		t.ema.Step()
	}
	t.step++
	return loss, gradNorm
}

// logLine is one line of log.jsonl.
type logLine struct {
	Step     int     `json:"step"`
	Loss     float64 `json:"loss"`
	LR       float64 `json:"lr"`
	GradNorm float64 `json:"grad_norm"`
	EMADecay float64 `json:"ema_decay,omitempty"`
	Seconds  float64 `json:"seconds"`
}

// Run trains until cfg.Steps, checkpointing every CheckpointEvery steps,
// writing previews and the loss curve. When ctx is cancelled it saves a
// checkpoint after the current step and returns ErrInterrupted.
func (t *Trainer) Run(ctx context.Context) error {
	cfg := t.Cfg
	prec, err := gemm.ParsePrecision(cfg.Precision)
	if err != nil {
		return fmt.Errorf("precision: %w", err)
	}
	defer gemm.SetPrecision(prec)()
	err = runfolder.Loop(ctx, loopTrainer{t}, runfolder.LoopOptions{
		Steps: cfg.Steps, CheckpointEvery: cfg.CheckpointEvery, Folder: t.Folder, Log: t.Log, Label: "train",
		Logged: func(loss, gn float64, took time.Duration) error {
			line := logLine{Step: t.step, Loss: loss, LR: t.opt.Config.LR, GradNorm: gn, Seconds: took.Seconds()}
			if t.ema != nil {
				line.EMADecay = t.ema.LastDecay()
			}
			return t.Folder.Log(line)
		},
		After: func() error {
			if cfg.PreviewEvery > 0 && (t.step%cfg.PreviewEvery == 0 || t.step == cfg.Steps) {
				return t.Preview()
			}
			return nil
		},
	})
	if err != nil {
		return err
	}
	return t.Export(filepath.Join(t.Folder.Dir, "model"))
}

// loopTrainer is the Trainer of runfolder.Loop: a DDPM step cannot fail
// but by a non-finite loss, which Loop checks.
type loopTrainer struct{ *Trainer }

func (l loopTrainer) TrainStep() (loss, gradNorm float64, err error) {
	loss, gradNorm = l.Trainer.TrainStep()
	return loss, gradNorm, nil
}

// Export writes the model (the EMA weights when EMA is on) as a diffusers
// pipeline folder: unet/, scheduler/ and model_index.json, in float32.
func (t *Trainer) Export(dir string) error { return t.ExportAs(dir, "F32") }

// ExportAs is Export with the weights stored as dtype (F32, F16 or BF16).
func (t *Trainer) ExportAs(dir string, dtype safetensors.DType) error {
	if t.ema != nil {
		t.ema.Swap()
		defer t.ema.Swap()
	}
	if err := unet.Save(dir, t.Model, dtype); err != nil {
		return err
	}
	if err := unet.WritePipeline(dir, t.schCfg); err != nil {
		return err
	}
	if err := pairset.WriteFileAtomic(filepath.Join(dir, "training.yaml"), t.Cfg.YAML()); err != nil {
		return err
	}
	info, _ := json.MarshalIndent(map[string]any{
		"run": filepath.Base(t.Folder.Dir), "step": t.step,
		"notes": fmt.Sprintf("EMA weights after %d steps of degradiff train (settings in training.yaml)", t.step),
	}, "", "  ")
	return pairset.WriteFileAtomic(filepath.Join(dir, "info.json"), append(info, '\n'))
}

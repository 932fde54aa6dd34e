package srtrain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/engine/nn"
	"github.com/degradiff/degradiff/engine/optim"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/internal/plot"
	"github.com/degradiff/degradiff/internal/progress"
	"github.com/degradiff/degradiff/models/srnet"
	"github.com/degradiff/degradiff/pairset"
	"github.com/degradiff/degradiff/pairset/pairread"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
	"github.com/degradiff/degradiff/train/runfolder"
)

// ErrInterrupted is returned by Run when its context is cancelled; the
// trainer has saved a checkpoint first.
var ErrInterrupted = runfolder.ErrInterrupted

// Files of a run folder besides those of package runfolder.
const (
	ConfigFile = "config.yaml" // the settings, as run
	ModelDir   = "model"       // the final model, a model folder (package modeldir)
)

// Net is a network that Loop trains: Forward maps a batch x [N, C, h, w]
// in [0, 1] to its restoration [N, C, s*h, s*w] for the Task's channels C
// and scale s. Parameters are named as in a PyTorch state dict.
type Net interface {
	Params() []*ag.Var
	Forward(g *ag.Graph, x *ag.Var) *ag.Var
	// SetWeights copies values keyed by parameter name into the network.
	SetWeights(sd map[string]*tensor.Tensor) error
	// Save writes the network's model folder with the averaged weights
	// ema (nil: none).
	Save(dir string, ema map[string]*tensor.Tensor) error
	NumParams() int
}

// Task describes the network a Loop trains, beyond its training settings.
type Task struct {
	// Name labels the progress bar ("sr train").
	Name string
	// Chart is the title of loss.png.
	Chart string
	// Scale is the ratio of the output (HR) size to the input (LR) size,
	// and Channels the number of image planes.
	Scale, Channels int
	// Arch is the network's architecture, saved as "model" in the state
	// of every checkpoint so that a checkpoint loads on its own (LoadNet).
	Arch any
	// Settings are the whole settings as YAML, written to RUN/config.yaml
	// and beside the final model as training.yaml.
	Settings []byte
	// HFlip flips patches horizontally at random when Training's
	// RandomFlip and RandomRot90 are off (faces are left-right symmetric
	// but not upside down).
	HFlip bool
}

// Loop trains a network on a paired set in a run folder: random LR patches
// and their HR counterparts, random symmetries, an L1 or Charbonnier loss,
// AdamW, a learning-rate schedule, an EMA of the weights, a log, a loss
// curve, checkpoints, bit-for-bit resume and, at the end, the model folder.
// Trainer is the Loop of the super-resolution network.
type Loop[M Net] struct {
	Task   Task
	Cfg    Training
	Folder *runfolder.Run
	Model  M
	Data   *pairread.Set
	// Log receives the progress bar and messages (nil: none).
	Log io.Writer

	opt  *optim.AdamW
	ema  *optim.EMA
	lr   optim.Schedule
	g    *ag.Graph
	step int

	lrBatch, hrBatch *tensor.Tensor
	lrConst, hrConst *ag.Var // the batches as graph constants

	// The mean of the losses since the last log line, which a checkpoint
	// saves so that a resumed run logs the same lines.
	lossSum float64
	lossN   int
	normSum float64
	// The time of the steps of the interval run by this process.
	interval time.Duration
	timedN   int
}

// Trainer trains a srnet model on a paired set in a run folder.
type Trainer = Loop[*srnet.Model]

// New prepares a trainer with a freshly initialised model. It checks that
// every LR image of data holds a patch.
func New(cfg Config, run *runfolder.Run, data *pairread.Set, log io.Writer) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	task := Task{Name: "sr train", Chart: "super-resolution training loss", Scale: cfg.Model.Scale, Channels: cfg.Model.InChannels,
		Arch: cfg.Model, Settings: cfg.YAML()}
	if err := task.CheckData(cfg.Training, data); err != nil {
		return nil, err
	}
	model, err := srnet.New(cfg.Model, rng.New(cfg.Seed, "init"))
	if err != nil {
		return nil, err
	}
	ScaleInit(model.ConvUp.Params(), cfg.OutInitScale)
	return NewLoop(task, cfg.Training, model, run, data, log)
}

// ScaleInit multiplies the values of params by s (for an output layer
// initialised near zero, see Config.OutInitScale); 1 leaves them.
func ScaleInit(params []*ag.Var, s float64) {
	if s == 1 {
		return
	}
	for _, p := range params {
		for i := range p.Value.Data {
			p.Value.Data[i] *= float32(s)
		}
	}
}

// CheckData checks that data is opened at the task's scale and that every
// LR image holds a patch.
func (task Task) CheckData(cfg Training, data *pairread.Set) error {
	if data.Scale != task.Scale {
		return fmt.Errorf("pairs %s are opened at scale %d but the model is x%d", data.Dir, data.Scale, task.Scale)
	}
	for _, p := range data.Pairs {
		if p.LRW < cfg.PatchSize || p.LRH < cfg.PatchSize {
			return fmt.Errorf("pair %s: LR image %s is %dx%d, smaller than patch_size %d: lower patch_size or leave it out (--exclude)",
				p.Name, p.LRPath, p.LRW, p.LRH, cfg.PatchSize)
		}
	}
	return nil
}

// NewLoop prepares a loop that trains model, freshly initialised, with the
// settings cfg. It checks cfg and the data (Task.CheckData).
func NewLoop[M Net](task Task, cfg Training, model M, run *runfolder.Run, data *pairread.Set, log io.Writer) (*Loop[M], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := task.CheckData(cfg, data); err != nil {
		return nil, err
	}
	t := &Loop[M]{Task: task, Cfg: cfg, Folder: run, Model: model, Data: data, Log: log, g: ag.NewGraph(true)}
	var err error
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
	c, p, s := task.Channels, cfg.PatchSize, task.Scale
	t.lrBatch = tensor.New(cfg.BatchSize, c, p, p)
	t.hrBatch = tensor.New(cfg.BatchSize, c, p*s, p*s)
	t.lrConst, t.hrConst = ag.Const(t.lrBatch), ag.Const(t.hrBatch)
	return t, nil
}

// Step returns the number of optimisation steps done.
func (t *Loop[M]) Step() int { return t.step }

// trainerState is the JSON state saved with each checkpoint.
type trainerState struct {
	AdamStep int `json:"adam_step"`
	EMAStep  int `json:"ema_step"`
	// The partial log interval.
	LossSum float64 `json:"loss_sum"`
	LossN   int     `json:"loss_n"`
	NormSum float64 `json:"grad_norm_sum"`
	// The architecture, so that a checkpoint loads on its own.
	Model json.RawMessage `json:"model"`
	// The data, for a warning when a resumed run trains on other pairs.
	Pairs    string `json:"pairs"`
	NumPairs int    `json:"num_pairs"`
}

// Checkpoint saves the model, EMA, optimiser and step.
func (t *Loop[M]) Checkpoint() (string, error) {
	adamStep, opt := t.opt.State()
	ck := runfolder.Checkpoint{Step: t.step, Groups: map[string]map[string]*tensor.Tensor{
		"model":     nn.StateDict(t.Model.Params()),
		"optimizer": opt,
	}}
	arch, err := json.Marshal(t.Task.Arch)
	if err != nil {
		return "", err
	}
	st := trainerState{AdamStep: adamStep, Model: arch, LossSum: t.lossSum, LossN: t.lossN, NormSum: t.normSum,
		Pairs: t.Data.Dir, NumPairs: t.Data.Len()}
	if t.ema != nil {
		var shadow map[string]*tensor.Tensor
		st.EMAStep, shadow = t.ema.State()
		ck.Groups["ema"] = shadow
	}
	if ck.State, err = json.Marshal(st); err != nil {
		return "", err
	}
	return t.Folder.Save(ck)
}

// Resume loads a checkpoint folder into the trainer and drops the log lines
// after its step, so that the run continues as if it had never stopped.
func (t *Loop[M]) Resume(dir string) error {
	st, err := t.loadCheckpoint(dir)
	if err != nil {
		return err
	}
	if t.Log != nil && (st.Pairs != t.Data.Dir || st.NumPairs != t.Data.Len()) {
		fmt.Fprintf(t.Log, "warning: the checkpoint was trained on %d pairs of %s, now %d pairs of %s\n",
			st.NumPairs, st.Pairs, t.Data.Len(), t.Data.Dir)
	}
	return t.Folder.TruncateLog(t.step)
}

// LoadCheckpoint loads a checkpoint folder into the trainer.
func (t *Loop[M]) LoadCheckpoint(dir string) error {
	_, err := t.loadCheckpoint(dir)
	return err
}

func (t *Loop[M]) loadCheckpoint(dir string) (trainerState, error) {
	var st trainerState
	ck, err := runfolder.Load(dir)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(ck.State, &st); err != nil {
		return st, fmt.Errorf("checkpoint %s: state: %w", dir, err)
	}
	if err := t.Model.SetWeights(ck.Groups["model"]); err != nil {
		return st, fmt.Errorf("checkpoint %s: model weights do not fit the configured model: %w", dir, err)
	}
	if err := t.opt.LoadState(st.AdamStep, ck.Groups["optimizer"]); err != nil {
		return st, fmt.Errorf("checkpoint %s: optimizer: %w", dir, err)
	}
	if t.ema != nil {
		shadow, ok := ck.Groups["ema"]
		if !ok {
			return st, fmt.Errorf("checkpoint %s has no EMA weights but use_ema is on", dir)
		}
		if err := t.ema.LoadState(st.EMAStep, shadow); err != nil {
			return st, fmt.Errorf("checkpoint %s: EMA: %w", dir, err)
		}
	}
	t.step = ck.Step
	t.lossSum, t.lossN, t.normSum = st.LossSum, st.LossN, st.NormSum
	return st, nil
}

// fillBatch cuts the patches of the current step: for each sample a pair,
// a position and one of the square's symmetries, all drawn from the stream
// of (seed, step).
func (t *Loop[M]) fillBatch() error {
	cfg := t.Cfg
	r := rng.New(cfg.Seed, "batch", strconv.Itoa(t.step))
	type draw struct{ pair, y, x, sym int }
	draws := make([]draw, cfg.BatchSize)
	for i := range draws {
		d := &draws[i]
		d.pair = r.Intn(t.Data.Len())
		p := t.Data.Pairs[d.pair]
		d.y = r.Intn(p.LRH - cfg.PatchSize + 1)
		d.x = r.Intn(p.LRW - cfg.PatchSize + 1)
		switch {
		case cfg.RandomRot90:
			d.sym = r.Intn(8)
		case cfg.RandomFlip:
			d.sym = r.Intn(4)
		case t.Task.HFlip:
			d.sym = r.Intn(2)
		}
	}
	errs := make([]error, len(draws))
	lrN, hrN := len(t.lrBatch.Data)/cfg.BatchSize, len(t.hrBatch.Data)/cfg.BatchSize
	parallel.For(len(draws), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d := draws[i]
			hr, lr, err := t.Data.LoadPatch(d.pair, d.y, d.x, cfg.PatchSize, cfg.PatchSize)
			if err != nil {
				errs[i] = err
				continue
			}
			symmetry(t.lrBatch.Data[i*lrN:(i+1)*lrN], lr, d.sym)
			symmetry(t.hrBatch.Data[i*hrN:(i+1)*hrN], hr, d.sym)
		}
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// symmetry writes the square image m transformed by symmetry k of the
// square into dst: bit 0 flips horizontally, bit 1 vertically, bit 2
// transposes (after the flips).
func symmetry(dst []float32, m *raster.Image, k int) {
	n := m.W
	for c := 0; c < m.C; c++ {
		src := m.Pix[c*n*n : (c+1)*n*n]
		out := dst[c*n*n : (c+1)*n*n]
		for y := 0; y < n; y++ {
			sy := y
			if k&2 != 0 {
				sy = n - 1 - y
			}
			row := src[sy*n : sy*n+n]
			for x := 0; x < n; x++ {
				sx := x
				if k&1 != 0 {
					sx = n - 1 - x
				}
				if k&4 != 0 {
					out[x*n+y] = row[sx]
				} else {
					out[y*n+x] = row[sx]
				}
			}
		}
	}
}

// TrainStep runs one optimisation step and returns its loss and the
// gradient norm before clipping. A non-finite loss or gradient is an error
// and leaves the weights unchanged.
func (t *Loop[M]) TrainStep() (loss, gradNorm float64, err error) {
	cfg := t.Cfg
	if err := t.fillBatch(); err != nil {
		return 0, 0, fmt.Errorf("step %d: %w", t.step+1, err)
	}
	params := t.Model.Params()
	t.g.Reset()
	out := t.Model.Forward(t.g, t.lrConst)
	var l *ag.Var
	if cfg.Loss == "charbonnier" {
		l = t.g.Charbonnier(out, t.hrConst, float32(cfg.CharbonnierEps))
	} else {
		l = t.g.L1(out, t.hrConst)
	}
	loss = float64(l.Value.Data[0])
	t.g.Backward(l)
	t.g.Reset()
	gradNorm = cfg.ClipGrads(params)
	if bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }; bad(loss) || bad(gradNorm) {
		// Leave the weights as they were: the last checkpoint is sound.
		ag.ZeroGrad(params)
		return loss, gradNorm, fmt.Errorf("step %d: loss %v, gradient norm %v: training diverged (lower learning_rate?)", t.step+1, loss, gradNorm)
	}
	t.opt.Config.LR = cfg.LR * t.lr(t.step)
	t.opt.Step()
	ag.ZeroGrad(params)
	if t.ema != nil {
		t.ema.Step()
	}
	t.step++
	return loss, gradNorm, nil
}

// logLine is one line of log.jsonl: the means over the LogEvery steps that
// end at Step.
type logLine struct {
	Step       int     `json:"step"`
	Loss       float64 `json:"loss"`
	LR         float64 `json:"lr"`
	GradNorm   float64 `json:"grad_norm"`
	EMADecay   float64 `json:"ema_decay,omitempty"`
	Seconds    float64 `json:"seconds"`       // per step
	SamplesPer float64 `json:"samples_per_s"` // training throughput
}

// Run writes the settings (Task.Settings) to RUN/config.yaml, decodes the pairs into
// memory (when they fit the cache), trains until cfg.Steps, checkpointing
// every CheckpointEvery steps and at the end with the loss curve, and
// writes the final model to RUN/model. When ctx is cancelled it saves a
// checkpoint after the current step and returns ErrInterrupted.
func (t *Loop[M]) Run(ctx context.Context) error {
	cfg := t.Cfg
	prec, err := gemm.ParsePrecision(cfg.Precision)
	if err != nil {
		return fmt.Errorf("precision: %w", err)
	}
	defer gemm.SetPrecision(prec)()
	if err := pairset.WriteFileAtomic(filepath.Join(t.Folder.Dir, ConfigFile), t.Task.Settings); err != nil {
		return err
	}
	if t.step < cfg.Steps && t.Data.FitsCache() {
		// Decode every pair once, on all cores, rather than one by one
		// inside the first steps.
		var load *progress.Bar
		if t.Log != nil {
			load = progress.New(t.Log, t.Data.Len(), "loading pairs", "pair")
		}
		err := t.Data.Preload(ctx, runtime.NumCPU(), func() {
			if load != nil {
				load.Add(1)
			}
		})
		if load != nil {
			load.Finish()
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return ErrInterrupted
		}
		if err != nil {
			return err
		}
	}
	err = runfolder.Loop(ctx, t, runfolder.LoopOptions{
		Steps: cfg.Steps, CheckpointEvery: cfg.CheckpointEvery, Folder: t.Folder, Log: t.Log, Label: t.Task.Name,
		Logged: func(loss, gn float64, took time.Duration) error {
			t.interval += took
			t.timedN++
			t.lossSum += loss
			t.normSum += gn
			t.lossN++
			if t.step%cfg.LogEvery == 0 || t.step == cfg.Steps {
				return t.logInterval()
			}
			return nil
		},
	})
	if err != nil {
		return err
	}
	return t.Export(filepath.Join(t.Folder.Dir, ModelDir))
}

// logInterval writes the log line of the steps since the last one.
func (t *Loop[M]) logInterval() error {
	n := float64(t.lossN)
	line := logLine{Step: t.step, Loss: t.lossSum / n, LR: t.opt.Config.LR, GradNorm: t.normSum / n}
	if t.timedN > 0 && t.interval > 0 {
		// Steps before a resume are not timed.
		line.Seconds = t.interval.Seconds() / float64(t.timedN)
		line.SamplesPer = float64(t.timedN*t.Cfg.BatchSize) / t.interval.Seconds()
	}
	if t.ema != nil {
		line.EMADecay = t.ema.LastDecay()
	}
	t.lossSum, t.normSum, t.lossN, t.interval, t.timedN = 0, 0, 0, 0, 0
	return t.Folder.Log(line)
}

// LossCurve draws RUN/loss.png from the log, once it has a line.
func (t *Loop[M]) LossCurve() error {
	var s plot.Series
	s.Name = fmt.Sprintf("%s loss (mean of %d steps)", t.Cfg.Loss, t.Cfg.LogEvery)
	err := t.Folder.ReadLog(func(line []byte) error {
		var l logLine
		if err := json.Unmarshal(line, &l); err != nil || l.Step == 0 {
			return nil // other events
		}
		s.X, s.Y = append(s.X, float64(l.Step)), append(s.Y, l.Loss)
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(s.X) == 0) {
		return nil // nothing logged yet
	}
	if err != nil {
		return err
	}
	c := plot.Chart{Title: t.Task.Chart, XLabel: "step", YLabel: t.Cfg.Loss, LogY: true, Series: []plot.Series{s}}
	return plot.SavePNG(filepath.Join(t.Folder.Dir, "loss.png"), c.Draw(800, 400))
}

// Export writes the model folder dir: the trained weights, the averaged
// ones when EMA is on, config.json, and the training settings as
// training.yaml.
func (t *Loop[M]) Export(dir string) error {
	var shadow map[string]*tensor.Tensor
	if t.ema != nil {
		_, shadow = t.ema.State()
	}
	if err := t.Model.Save(dir, shadow); err != nil {
		return err
	}
	return pairset.WriteFileAtomic(filepath.Join(dir, "training.yaml"), t.Task.Settings)
}

// Command unetio is the Go side of the PyTorch yardstick scripts in bench/:
// it runs degradiff's UNet and img2img loop on tensors exchanged through
// safetensors files, and times them, so that the Python scripts can compare
// numbers and speed without any Go code of their own.
//
// Usage:
//
//	unetio kernel
//	unetio init    --preset NAME --seed N [--jitter S] --out DIR
//	unetio predict --model SPEC --in FILE --out FILE
//	unetio infer   --model SPEC --size S [--batch B] [--warmup W] [--reps R]
//	unetio pack    --out FILE PNG...
//	unetio sdedit  --model SPEC --in FILE --out FILE [--steps N]
//
// A model SPEC is "default" (the model built into degradiff), "preset:NAME"
// (a random model of a unet preset, seed 1) or a diffusers folder. Every
// command that measures prints one JSON object on stdout.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/degradiff/degradiff/diffusion/pipeline"
	"github.com/degradiff/degradiff/diffusion/sampler"
	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/models/unet"
	"github.com/degradiff/degradiff/rng"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: unetio kernel|init|predict|infer|pack|sdedit [flags]")
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{
		"kernel": cmdKernel, "init": cmdInit, "predict": cmdPredict,
		"infer": cmdInfer, "pack": cmdPack, "sdedit": cmdSDEdit,
	}
	run, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "unetio: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := run(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "unetio %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// emit prints v as one JSON line.
func emit(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Println(string(b))
	return err
}

// maxRSSKiB returns the peak resident set size of this process in KiB.
func maxRSSKiB() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return int64(ru.Maxrss) // KiB on Linux
}

func cmdKernel(args []string) error {
	fs := flag.NewFlagSet("kernel", flag.ExitOnError)
	fs.Parse(args)
	return emit(map[string]any{
		"kernel": gemm.Kernel(), "env": os.Getenv("DEGRADIFF_KERNEL"),
		"gomaxprocs": runtime.GOMAXPROCS(0), "go": runtime.Version(),
	})
}

// loadModel resolves a model SPEC to a model and its scheduler config.
func loadModel(spec string) (*unet.Model, []byte, error) {
	switch {
	case spec == "default":
		spec = "builtin"
	case strings.HasPrefix(spec, "preset:"):
		cfg, err := unet.Preset(strings.TrimPrefix(spec, "preset:"))
		if err != nil {
			return nil, nil, err
		}
		m, err := unet.New(cfg, rng.New(1, "unetio", spec))
		return m, schedule.DefaultDDPMFile(), err
	case spec == "":
		return nil, nil, errors.New("--model is required")
	}
	m, err := pipeline.Load(spec, false)
	if err != nil {
		return nil, nil, err
	}
	return m.UNet, m.SchedulerConfig, nil
}

// cmdInit writes a random model of a preset in diffusers layout
// (DIR/unet/...). --jitter adds Gaussian noise of that size to every
// parameter, as the diffusers fixtures do, so that the zero biases and unit
// norm weights of a fresh model take part in the comparison.
func cmdInit(args []string) error {
	fs := flag.NewFlagSet("init", flag.ExitOnError)
	preset := fs.String("preset", "cpu", "unet preset")
	seed := fs.Uint64("seed", 1, "random seed")
	jitter := fs.Float64("jitter", 0.05, "std of the noise added to every parameter")
	out := fs.String("out", "", "output folder")
	fs.Parse(args)
	if *out == "" {
		return errors.New("--out is required")
	}
	cfg, err := unet.Preset(*preset)
	if err != nil {
		return err
	}
	m, err := unet.New(cfg, rng.New(*seed, "unetio", "init"))
	if err != nil {
		return err
	}
	for _, p := range m.Params() {
		r := rng.New(*seed, "unetio", "jitter", p.Name)
		for i := range p.Value.Data {
			p.Value.Data[i] += float32(*jitter * r.Norm())
		}
	}
	if err := unet.Save(*out, m, safetensors.F32); err != nil {
		return err
	}
	return emit(map[string]any{"dir": *out, "params": m.NumParams()})
}

// readTensor reads a float32 tensor from an open safetensors file.
func readTensor(f *safetensors.File, name string) (*tensor.Tensor, error) {
	d, shape, err := f.Float32(name)
	if err != nil {
		return nil, err
	}
	return tensor.FromData(d, shape...), nil
}

func cmdPredict(args []string) error {
	fs := flag.NewFlagSet("predict", flag.ExitOnError)
	spec := fs.String("model", "", "model SPEC")
	in := fs.String("in", "", "input safetensors: x [N,C,H,W] and t [N] (F32)")
	out := fs.String("out", "", "output safetensors: y")
	fs.Parse(args)
	m, _, err := loadModel(*spec)
	if err != nil {
		return err
	}
	f, err := safetensors.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	x, err := readTensor(f, "x")
	if err != nil {
		return err
	}
	t, err := readTensor(f, "t")
	if err != nil {
		return err
	}
	start := time.Now()
	y := m.Predict(x, t.Data)
	sec := time.Since(start).Seconds()
	if err := safetensors.Write(*out, []safetensors.Tensor{{Name: "y", Shape: y.Shape, Data: y.Data}}, nil); err != nil {
		return err
	}
	return emit(map[string]any{"seconds": sec})
}

// cmdInfer times Predict on a random batch at timestep 500.
func cmdInfer(args []string) error {
	fs := flag.NewFlagSet("infer", flag.ExitOnError)
	spec := fs.String("model", "", "model SPEC")
	size := fs.Int("size", 128, "image height and width")
	batch := fs.Int("batch", 1, "batch size")
	warmup := fs.Int("warmup", 1, "untimed runs first")
	reps := fs.Int("reps", 3, "timed runs")
	precision := fs.String("precision", "fp32", "arithmetic of the products: fp32 or bf16")
	fs.Parse(args)
	prec, err := gemm.ParsePrecision(*precision)
	if err != nil {
		return fmt.Errorf("--precision: %w", err)
	}
	defer gemm.SetPrecision(prec)()
	m, _, err := loadModel(*spec)
	if err != nil {
		return err
	}
	x := tensor.New(*batch, m.Config().InChannels, *size, *size)
	rng.New(7, "unetio", "infer").FillNormal(x.Data, 1)
	t := []float32{500}
	for range *warmup {
		m.Predict(x, t)
	}
	var secs []float64
	for range *reps {
		start := time.Now()
		m.Predict(x, t)
		secs = append(secs, time.Since(start).Seconds())
	}
	return emit(map[string]any{"seconds": secs, "maxrss_kib": maxRSSKiB(), "params": m.NumParams()})
}

// cmdPack reads PNG (or any imageio) files of one size into x [P,3,H,W] in
// [0, 1], so that the Python side needs no image library.
func cmdPack(args []string) error {
	fs := flag.NewFlagSet("pack", flag.ExitOnError)
	out := fs.String("out", "", "output safetensors")
	fs.Parse(args)
	files := fs.Args()
	if len(files) == 0 || *out == "" {
		return errors.New("want --out FILE and at least one image")
	}
	var data []float32
	h, w := 0, 0
	for _, p := range files {
		im, _, err := imageio.Load(p, imageio.Options{})
		if err != nil {
			return err
		}
		if h == 0 {
			h, w = im.H, im.W
		}
		if im.H != h || im.W != w || im.C < 3 {
			return fmt.Errorf("%s: %dx%dx%d, want 3 channels of %dx%d like the first image", p, im.C, im.H, im.W, h, w)
		}
		data = append(data, im.Pix[:3*h*w]...)
	}
	return safetensors.Write(*out, []safetensors.Tensor{{Name: "x", Shape: []int{len(files), 3, h, w}, Data: data}}, nil)
}

// cmdSDEdit runs the img2img loop of synth (UniPC by default) on given
// initial images, noises and strengths, one pair at a time with batch 1,
// and reports the time of each pair (model and sampler only: no I/O).
func cmdSDEdit(args []string) error {
	fs := flag.NewFlagSet("sdedit", flag.ExitOnError)
	spec := fs.String("model", "default", "model SPEC")
	in := fs.String("in", "", "input safetensors: init, noise [P,3,H,W] in [-1,1] (F32), strength [P] (F64)")
	out := fs.String("out", "", "output safetensors: out [P,3,H,W]")
	steps := fs.Int("steps", 50, "inference steps")
	name := fs.String("sampler", "unipc", "sampler")
	fs.Parse(args)
	m, schedJSON, err := loadModel(*spec)
	if err != nil {
		return err
	}
	sc, err := schedule.ParseConfig(schedJSON)
	if err != nil {
		return err
	}
	f, err := safetensors.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	init, err := readTensor(f, "init")
	if err != nil {
		return err
	}
	noise, err := readTensor(f, "noise")
	if err != nil {
		return err
	}
	strength, _, err := f.Float64("strength")
	if err != nil {
		return err
	}
	if !slices.Equal(init.Shape, noise.Shape) || len(init.Shape) != 4 || init.Shape[0] != len(strength) {
		return fmt.Errorf("%s: init %v, noise %v, strength [%d] do not match", *in, init.Shape, noise.Shape, len(strength))
	}
	p, per := init.Shape[0], tensor.Numel(init.Shape[1:])
	shape1 := append([]int{1}, init.Shape[1:]...)
	result := tensor.New(init.Shape...)
	secs := make([]float64, p)
	evals := make([]int, p)
	ts := make([]float32, 1)
	for i := range p {
		count := 0
		model := func(x *tensor.Tensor, t int) (*tensor.Tensor, error) {
			count++
			ts[0] = float32(t)
			return m.Predict(x, ts), nil
		}
		x := tensor.FromData(init.Data[i*per:(i+1)*per], shape1...)
		n := tensor.FromData(noise.Data[i*per:(i+1)*per], shape1...)
		start := time.Now()
		s, err := sampler.New(*name, sc)
		if err != nil {
			return err
		}
		y, _, err := sampler.Img2Img(s, model, x, n, *steps, strength[i], nil)
		if err != nil {
			return err
		}
		secs[i], evals[i] = time.Since(start).Seconds(), count
		copy(result.Data[i*per:], y.Data)
	}
	if err := safetensors.Write(*out, []safetensors.Tensor{{Name: "out", Shape: result.Shape, Data: result.Data}}, nil); err != nil {
		return err
	}
	return emit(map[string]any{"seconds": secs, "evals": evals, "maxrss_kib": maxRSSKiB()})
}

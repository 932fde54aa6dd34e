package pipeline

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/models/defaultmodel"
	"github.com/degradiff/degradiff/models/unet"
	"github.com/degradiff/degradiff/rng"
)

func TestDiffusersVersionAgrees(t *testing.T) {
	if schedule.DiffusersVersion != unet.DiffusersVersion {
		t.Fatalf("schedule writes diffusers %s, unet %s", schedule.DiffusersVersion, unet.DiffusersVersion)
	}
}

func TestLoad(t *testing.T) {
	// "" and each built-in model's spec load that model.
	for spec, want := range map[string]defaultmodel.Model{"": defaultmodel.Natural, "builtin": defaultmodel.Natural, "builtin-face": defaultmodel.Face} {
		b, err := Load(spec, false)
		if err != nil {
			t.Fatal(err)
		}
		if b.ID.Name != want.Name || b.ID.SHA256 != want.SHA256() || len(b.SchedulerConfig) == 0 || b.Untrained {
			t.Fatalf("--model %q: %+v, want %s", spec, b.ID, want.Name)
		}
	}
	if defaultmodel.Natural.SHA256() == defaultmodel.Face.SHA256() {
		t.Fatal("the built-in models have the same weights")
	}
	// A bare UNet folder gets the default DDPM schedule.
	cfg, err := unet.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	net, err := unet.New(cfg, rng.New(1, "pipeline test"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := unet.Save(dir, net, safetensors.F32); err != nil {
		t.Fatal(err)
	}
	m, err := Load(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.SchedulerConfig, schedule.DefaultDDPMFile()) || m.ID.SHA256 == "" || m.Untrained {
		t.Fatalf("bare UNet folder: %+v, scheduler %s", m.ID, m.SchedulerConfig)
	}
	if _, err := Load(t.TempDir(), false); err == nil || !bytes.Contains([]byte(err.Error()), []byte("--model")) {
		t.Fatalf("empty folder: error %v does not name --model", err)
	}
	// The model runs img2img.
	p, err := New(m.Predict, m.SchedulerConfig, Options{Steps: 20})
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(1, 3, 16, 16)
	noise := tensor.New(1, 3, 16, 16)
	rng.New(2, "noise").FillNormal(noise.Data, 1)
	out, run, err := p.Tensor(x, noise, 0.25, nil)
	if err != nil || run.Steps != 5 || run.StartTimestep <= 0 || tensor.MaxAbsDiff(out, x) == 0 {
		t.Fatalf("img2img: run %+v, err %v", run, err)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	sched := schedule.DefaultDDPMFile()
	zero := func(x *tensor.Tensor, t []float32) *tensor.Tensor { return tensor.New(x.Shape...) }
	for _, tc := range []struct {
		opt  Options
		flag string
	}{
		{Options{Steps: 1001}, "steps"},
		{Options{Steps: -1}, "steps"},
		{Options{Tile: 16}, "tile"},
		{Options{Tile: 64, Overlap: 32}, "tile_overlap"},
		{Options{FinalSigmas: "one"}, "final_sigmas"},
		{Options{Sampler: "euler"}, "sampler"},
		{Options{Refine: "chroma"}, "refine"},
	} {
		_, err := New(zero, sched, tc.opt)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != tc.flag {
			t.Errorf("%+v: error %v is not about option %s", tc.opt, err, tc.flag)
		}
	}
	if _, err := New(zero, []byte("{"), Options{}); err == nil {
		t.Error("a broken scheduler config was accepted")
	}
}

func TestAbsSpec(t *testing.T) {
	for _, spec := range []string{"", "builtin", "builtin-face"} {
		if got, err := AbsSpec(spec); err != nil || got != spec {
			t.Errorf("AbsSpec(%q) = %q, %v: want it unchanged", spec, got, err)
		}
	}
	if got, err := AbsSpec("some/model"); err != nil || !filepath.IsAbs(got) || !strings.HasSuffix(got, filepath.Join("some", "model")) {
		t.Errorf("AbsSpec(some/model) = %q, %v: want an absolute path", got, err)
	}
}

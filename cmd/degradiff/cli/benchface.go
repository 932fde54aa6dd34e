package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/degradiff/degradiff/experiment/facebench"
	"github.com/degradiff/degradiff/internal/report"
)

// benchFaceHelp is the part of bench --help about --task face.
const benchFaceHelp = `

--task face runs the face bench instead (package facebench): GFPGAN's
degradation (source face: the degrade preset face at scale 1, the LQ face
resized back) against the method (source face+ddpm: the same initial LQ
faces refined by the face diffusion model --model, as degradiff synth
--preset face --model does), the same face restoration network (as
degradiff bfr train) trained with the same budget on each, with seeds
SEED..SEED+N-1 (--sr-seeds N, the config key seeds: 3 in the full
budget). A fraction of the aligned HQ faces (--hq) and real LQ faces
(--real-lq, such as a degradiff faces align output) is held out by a
keyed hash of their names (held_out, split_seed; OUT/split.json), and only
held-out faces are measured; they decide no setting. It reports:

  - on the held-out real LQ faces: the identity kept (cosine similarity of
    face-api recognition descriptors, input against restored face), the
    landmark distance between them, and KID, FD and the classifier test of
    the restored faces against the held-out real HQ faces;
  - on the held-out HQ faces degraded by a degradation neither source
    trains on (held_out_degradation: BSRGAN's at scale 4 by default):
    PSNR, SSIM and identity to the HQ face;
  - KID, FD and the classifier test of each source's LQ faces against the
    held-out real LQ faces;

with means, standard deviations and 95% intervals over seeds, and
face+ddpm against face. The sources calibrated and calibrated+ddpm start
from a face degradation fitted to real LQ faces instead (--calibration
FILE: the CAL/config.yaml of degradiff calibrate --preset face, fitted to
the training real LQ faces and HQ faces at the face size; kept as
OUT/calibration.yaml) and are compared with their own initial faces and
with face; they can be added to a finished bench. --face-models (the
face-api weights) is required with --task face and refused otherwise;
--test, --real-pairs, --val and --adapt-steps belong to --task sr.
--budget tiny, quick or full as above; every stage resumes.

  degradiff bench --task face --hq faces/hq --real-lq faces/real_lq_aligned \
    --model runs/face-ddpm/pipeline --face-models face-api/model --out runs/bench-face

--face-models: ` + faceModelsHelp

// addBenchFaceFlags registers --task and the flags of --task face.
func addBenchFaceFlags(fl *pflag.FlagSet, f *benchFlags) {
	fl.StringVar(&f.task, "task", "sr", "sr (super-resolution) or face (blind face restoration, see above)")
	fl.StringVar(&f.faceModels, "face-models", "", "with --task face: the model/ folder of @vladmandic/face-api 1.7.15 (required)")
}

// benchSROnly are the flags of --task sr alone.
var benchSROnly = []string{"test", "test-include", "test-exclude", "real-pairs", "real-pairs-include", "real-pairs-exclude", "val", "val-include", "val-exclude", "adapt-steps"}

// benchTask dispatches --task: it runs the face bench for face, and for
// sr only refuses the face flags, leaving the work to runBench (handled
// false).
func benchTask(cmd *cobra.Command, f benchFlags) (handled bool, err error) {
	changed := cmd.Flags().Changed
	switch f.task {
	case "sr":
		if changed("face-models") {
			return true, errors.New("--face-models: only with --task face (the SR bench measures no faces)")
		}
		return false, nil
	case "face":
		for _, fl := range benchSROnly {
			if changed(fl) {
				return true, fmt.Errorf("--%s: only with --task sr (the face bench does not use it)", fl)
			}
		}
		return true, runBenchFace(cmd, f)
	}
	return true, fmt.Errorf("--task: %q is not sr or face", f.task)
}

// benchFaceConfig builds the face bench settings from the budget, the
// --config file and the flags given.
func benchFaceConfig(cmd *cobra.Command, f benchFlags) (facebench.Config, error) {
	if f.budget != "" {
		if _, err := facebench.Default(f.budget); err != nil {
			return facebench.Config{}, fmt.Errorf("--budget: %w", err)
		}
	}
	cfg, err := facebench.Load(f.budget, f.config)
	if err != nil {
		return cfg, err
	}
	changed := cmd.Flags().Changed
	if changed("hq") {
		if len(f.hq) != 1 {
			return cfg, fmt.Errorf("--hq: --task face takes one folder of aligned HQ faces, not %d", len(f.hq))
		}
		cfg.HQ = f.hq[0]
	}
	for _, s := range []struct {
		flag string
		v    string
		dst  *string
	}{{"real-lq", f.realLQ, &cfg.RealLQ}, {"model", f.model, &cfg.Model}, {"face-models", f.faceModels, &cfg.FaceModels}, {"calibration", f.calibration, &cfg.Calibration}} {
		if changed(s.flag) {
			*s.dst = s.v
		}
	}
	if changed("ema") {
		cfg.ModelEMA = f.ema
	}
	if changed("seed") {
		cfg.Seed = f.seed
	}
	if changed("sr-seeds") && f.srSeeds != 0 { // 0: the config's, as for --task sr
		cfg.Seeds = f.srSeeds
	}
	if err := applyGlobs(changed, []globFlag{{"real-lq-include", f.realInclude, &cfg.RealLQInclude}, {"real-lq-exclude", f.realExclude, &cfg.RealLQExclude}}); err != nil {
		return cfg, err
	}
	if changed("sources") {
		cfg.Sources = splitSources(f.sources)
		if err := facebench.CheckSources(cfg.Sources); err != nil {
			return cfg, err
		}
	}
	cfg.Workers = f.workers
	cfg.Command = benchFaceCommand(cfg, f)
	return cfg, nil
}

// benchFaceCommand returns a command line that redoes the face bench.
func benchFaceCommand(c facebench.Config, f benchFlags) string {
	var b strings.Builder
	b.WriteString("degradiff bench --task face")
	arg := func(flag, v string) { fmt.Fprintf(&b, " \\\n  --%s %s", flag, report.ShellQuote(v)) }
	arg("hq", c.HQ)
	arg("real-lq", c.RealLQ)
	if len(c.RealLQInclude) > 0 {
		arg("real-lq-include", strings.Join(c.RealLQInclude, ","))
	}
	if len(c.RealLQExclude) > 0 {
		arg("real-lq-exclude", strings.Join(c.RealLQExclude, ","))
	}
	if c.Model != "" {
		arg("model", c.Model)
	}
	if c.ModelEMA {
		b.WriteString(" --ema")
	}
	if c.Calibration != "" {
		arg("calibration", c.Calibration)
	}
	arg("face-models", c.FaceModels)
	arg("out", f.out)
	arg("budget", c.Budget)
	if f.config != "" {
		arg("config", f.config)
	}
	arg("sources", strings.Join(c.Sources, ","))
	arg("sr-seeds", fmt.Sprint(c.Seeds))
	arg("seed", fmt.Sprint(c.Seed))
	return b.String()
}

func runBenchFace(cmd *cobra.Command, f benchFlags) error {
	stderr := cmd.ErrOrStderr()
	cfg, err := benchFaceConfig(cmd, f)
	if err != nil {
		return err
	}
	if f.printConfig {
		_, err := cmd.OutOrStdout().Write(cfg.YAML())
		return err
	}
	if f.out == "" {
		return errors.New("--out is required")
	}
	if err := cfg.Validate(); err != nil {
		if cfg.FaceModels == "" && strings.HasPrefix(err.Error(), "--face-models") {
			return fmt.Errorf("--face-models is required with --task face: %s", faceModelsHelp)
		}
		return err
	}
	if err := checkSeparate("--out", f.out, [][2]string{{"--hq", cfg.HQ}, {"--real-lq", cfg.RealLQ}}); err != nil {
		return err
	}
	// Load the face networks here, for the flag's usual error message.
	if cfg.Faces, err = loadFaceMeasurer(cfg.FaceModels); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "bench: task face, budget %s, sources %s, %d seed(s) from %d; output in %s\n",
		cfg.Budget, strings.Join(cfg.Sources, ","), cfg.Seeds, cfg.Seed, f.out)
	ctx, stop := signalContext()
	defer stop()
	res, err := facebench.Run(ctx, cfg, f.out, stderr)
	if errors.Is(err, facebench.ErrInterrupted) {
		return &exitError{code: interruptCode(), err: err}
	}
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "%d training HQ faces, %d held-out HQ faces, %d held-out real LQ faces (budget %s):\n\n", res.TrainFaces, res.HeldOutHQ, res.HeldOutRealLQ, res.Budget)
	if err := res.WriteTable(w); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "\nreport: %s (and report.html)\n", filepath.Join(f.out, facebench.ReportMD))
	return err
}

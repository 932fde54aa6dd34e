package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/internal/fixture"
)

// TestBenchTaskFlags checks the dispatch of --task and the flags that
// belong to one task only; none of it needs the face-api weights.
func TestBenchTaskFlags(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "out")
	face := []string{"bench", "--task", "face", "--hq", dir, "--real-lq", dir, "--model", dir, "--out", out}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown task", []string{"bench", "--task", "video", "--out", out}, `--task: "video" is not sr or face`},
		{"face flag with sr", []string{"bench", "--hq", dir, "--real-lq", dir, "--test", dir, "--out", out, "--face-models", dir}, "--face-models: only with --task face"},
		{"sr flag with face", append(face, "--test", dir), "--test: only with --task sr"},
		{"sr flag with face", append(face, "--adapt-steps", "3"), "--adapt-steps: only with --task sr"},
		{"no face models", face, "--face-models is required with --task face: the model/ folder of the npm package @vladmandic/face-api 1.7.15"},
		{"missing face models", append(face, "--face-models", filepath.Join(dir, "nope")), "--face-models " + filepath.Join(dir, "nope") + ":"},
		{"two HQ folders", append(face, "--hq", dir), "--hq: --task face takes one folder"},
		{"SR source", append(face, "--sources", "official"), `--sources: unknown source "official" for --task face`},
		{"no model", []string{"bench", "--task", "face", "--hq", dir, "--real-lq", dir, "--face-models", dir, "--out", out}, "--model: the source face+ddpm needs the face diffusion model"},
		{"bad budget", append(face, "--budget", "huge"), "--budget: unknown budget"},
		{"calibrated without calibration", append(face, "--face-models", dir, "--sources", "face,calibrated"), "--calibration: the source calibrated needs"},
	} {
		code, _, stderr := benchMain(t, tc.args...)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, want 1 and %q:\n%s", tc.name, code, tc.want, stderr)
		}
	}
	if fileExists(out) {
		t.Error("a refused bench created --out")
	}
	code, stdout, stderr := benchMain(t, "bench", "--task", "face", "--budget", "tiny", "--sr-seeds", "4", "--calibration", "cal.yaml", "--print-config")
	if code != 0 || !strings.Contains(stdout, "held_out_degradation:") || !strings.Contains(stdout, "seeds: 4") || !strings.Contains(stdout, "budget: tiny") ||
		!strings.Contains(stdout, "calibration: cal.yaml") {
		t.Errorf("--print-config: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

func TestBenchFaceTiny(t *testing.T) {
	root, _ := fixture.Root()
	models := filepath.Join(root, "models", "face-api")
	if _, err := os.Stat(filepath.Join(models, "face_recognition_model.bin")); err != nil {
		t.Skipf("face-api weights not found in %s (../shared/models/face-api): skipping, the face bench measures need them", models)
	}
	hq := makeHQ(t, 12, 64, 64)
	real := makeHQ(t, 12, 40, 40)
	cfg := filepath.Join(t.TempDir(), "face.yaml")
	if err := os.WriteFile(cfg, []byte("held_out: 0.4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "bench")
	args := []string{"bench", "--task", "face", "--hq", hq, "--real-lq", real, "--model", tinyModel(t), "--face-models", models,
		"--out", out, "--budget", "tiny", "--config", cfg, "--seed", "2", "--workers", "1"}
	code, stdout, stderr := benchMain(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"held-out real LQ faces", "identity kept (vs input)", "PSNR (Y, dB)", "face+ddpm ", "input (no network)", "report.md"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil || !bytes.Contains(md, []byte("degradiff bench --task face")) || !bytes.Contains(md, []byte("--seed 2")) || !bytes.Contains(md, []byte("--sr-seeds 2")) {
		t.Errorf("report.md lacks the command: %v\n%s", err, md)
	}
	// The rerun resumes every stage.
	code, _, stderr = benchMain(t, args...)
	if code != 0 || strings.Contains(stderr, "bench: pairs/face ...") || !strings.Contains(stderr, "bench: bfr/face+ddpm.seed1: done earlier, skipped") {
		t.Errorf("rerun: exit %d\n%s", code, stderr)
	}
}

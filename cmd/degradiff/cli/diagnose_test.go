package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDiagnose(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the diffusion model")
	}
	real := makeHQ(t, 6, 64, 64)
	hq := makeHQ(t, 3, 256, 256)
	model := tinyModel(t)
	out := filepath.Join(t.TempDir(), "diag")
	code, text := run(t, "diagnose", "--real-lq", real, "--hq", hq, "--model", model, "--out", out,
		"--strengths", "0.1,0.3", "--uniform", "0", "--steps", "10", "--no-c2st")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, text)
	}
	for _, want := range []string{"### Self-consistency: " + model, "reference (real vs real)", "### Realism–fidelity: " + model, "| 0.3 |", "noise_chroma"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	var res struct {
		Models []struct {
			SelfConsistency struct{ Points []json.RawMessage } `json:"self_consistency"`
			Curve           struct{ Points []json.RawMessage } `json:"realism_fidelity"`
		} `json:"models"`
	}
	b, err := os.ReadFile(filepath.Join(out, "diagnose.json"))
	if err != nil || json.Unmarshal(b, &res) != nil || len(res.Models) != 1 {
		t.Fatalf("diagnose.json: %v\n%s", err, b)
	}
	if m := res.Models[0]; len(m.SelfConsistency.Points) != 2 || len(m.Curve.Points) != 3 {
		t.Errorf("%d self-consistency and %d curve points, want 2 and 3", len(m.SelfConsistency.Points), len(m.Curve.Points))
	}
	for _, f := range []string{"report.md", "realism-fidelity-fd.png", "self-consistency-fd.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	// A second model joins the first run's report through --include.
	model2 := filepath.Join(t.TempDir(), "second")
	if err := os.CopyFS(model2, os.DirFS(model)); err != nil {
		t.Fatal(err)
	}
	common := []string{"diagnose", "--real-lq", real, "--hq", hq, "--strengths", "0.1,0.3", "--uniform", "0", "--steps", "10", "--no-c2st",
		"--include", filepath.Join(out, "diagnose.json")}
	code, text = run(t, append(common, "--model", model2, "--out", filepath.Join(t.TempDir(), "d2"))...)
	if code != 0 || !strings.Contains(text, "### Self-consistency: "+model) || !strings.Contains(text, "### Self-consistency: "+model2) {
		t.Errorf("--include: exit %d, want both models in the report:\n%s", code, text)
	}
	// --include alone measures nothing and redraws the report.
	code, text = run(t, append(common, "--out", filepath.Join(t.TempDir(), "d4"))...)
	if code != 0 || !strings.Contains(text, "### Self-consistency: "+model) || strings.Contains(text, "self-consistency "+model) {
		t.Errorf("--include alone: exit %d, want the earlier model's tables without measuring:\n%s", code, text)
	}
	code, text = run(t, append(common, "--model", model2, "--seed", "9", "--out", filepath.Join(t.TempDir(), "d3"))...)
	if code == 0 || !strings.Contains(text, "measured with other settings (options.seed, seed)") || strings.Contains(text, "self-consistency") {
		t.Errorf("--include with another seed: exit %d: %s", code, text)
	}
	bad := [][]string{
		{"--real-lq", real, "--out", filepath.Join(real, "diag")},
		{"--real-lq", real, "--out", out, "--strengths", "0.1,2"},
		{"--real-lq", real, "--out", out, "--model", filepath.Join(real, "none")},
		{"--real-lq", filepath.Join(real, "none"), "--out", out},
	}
	for _, args := range bad {
		if code, text := run(t, append([]string{"diagnose"}, args...)...); code == 0 {
			t.Errorf("%v: exit 0: %s", args, text)
		}
	}
}

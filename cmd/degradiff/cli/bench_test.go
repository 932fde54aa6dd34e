package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchMain runs the command line with the bench command attached
// (whether or not root.go registers it) and returns the exit status,
// stdout and stderr.
func benchMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := NewRoot(&stdout, &stderr)
	if c, _, err := root.Find([]string{"bench"}); err != nil || c == root {
		root.AddCommand(newBenchCmd())
	}
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		stderr.WriteString("degradiff: " + err.Error() + "\n")
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code, stdout.String(), stderr.String()
		}
		return 1, stdout.String(), stderr.String()
	}
	return 0, stdout.String(), stderr.String()
}

func TestBenchTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("trains networks")
	}
	hq := makeHQ(t, 2, 128, 160)
	real := makeHQ(t, 4, 48, 48)
	test := makeSRPairs(t, "Canon_001", "Canon_041", "Nikon_041")
	model := tinyModel(t)
	out := filepath.Join(t.TempDir(), "bench")
	// The model as given; package experiment tests the adaptation.
	args := []string{"bench", "--hq", hq, "--real-lq", real, "--test", test, "--test-include", "Canon_04*,Nikon_04*",
		"--model", model, "--out", out, "--budget", "tiny", "--sources", "official+ddpm, bicubic", "--seed", "3", "--workers", "1",
		"--adapt-steps", "0"}
	code, stdout, stderr := benchMain(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"LQ source", "C2ST accuracy [95% CI]", "bicubic ", "official+ddpm ", "bicubic upsampling (no network)", "2 test pairs", "report.md"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "realesrgan") {
		t.Errorf("ran a source not asked for:\n%s", stdout)
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil || !bytes.Contains(md, []byte("--sources official+ddpm,bicubic")) || !bytes.Contains(md, []byte("--seed 3")) || !bytes.Contains(md, []byte("--adapt-steps 0")) {
		t.Errorf("report.md lacks the command: %v\n%s", err, md)
	}
	name := filepath.Base(model)
	if !bytes.Contains(md, []byte("| diffusion model (official+ddpm) | "+name+" (sha256 ")) || !bytes.Contains(md, []byte("| model adaptation | none (adapt.steps 0)")) ||
		fileExists(filepath.Join(out, "adapt")) {
		t.Errorf("report.md: the model is not %s as given:\n%s", name, md)
	}
	// The rerun resumes every stage.
	code, _, stderr = benchMain(t, args...)
	if code != 0 || strings.Count(stderr, "done earlier") != 1+2*4+1 {
		t.Errorf("rerun: exit %d\n%s", code, stderr)
	}
	// Other settings are refused.
	for _, tc := range []struct{ flag, value, key string }{{"--seed", "4", "seed"}, {"--adapt-steps", "2", "adapt.steps"}} {
		if code, _, stderr := benchMain(t, withFlags(args, tc.flag, tc.value)...); code == 0 || !strings.Contains(stderr, "other settings ("+tc.key+" differ") {
			t.Errorf("other %s: exit %d\n%s", tc.key, code, stderr)
		}
	}
}

func TestBenchErrors(t *testing.T) {
	hq := makeHQ(t, 1, 128, 128)
	real := makeHQ(t, 2, 48, 48)
	test := makeSRPairs(t, "a")
	noLR := t.TempDir()
	os.MkdirAll(filepath.Join(noLR, "HR"), 0o755)
	out := filepath.Join(t.TempDir(), "o")
	base := []string{"bench", "--hq", hq, "--real-lq", real, "--test", test, "--out", out, "--budget", "tiny"}
	with := func(extra ...string) []string { return withFlags(base, extra...) }
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--real-lq", real, "--test", test, "--out", out}, "--hq: at least one"},
		{[]string{"bench", "--hq", hq, "--test", test, "--out", out}, "--real-lq: the folder"},
		{[]string{"bench", "--hq", hq, "--real-lq", real, "--out", out}, "--test: the folder"},
		{[]string{"bench", "--hq", hq, "--real-lq", real, "--test", test}, "--out is required"},
		{with("--budget", "huge"), `--budget: unknown budget "huge"`},
		{with("--sources", "bicubic,jpeg"), `--sources: unknown source "jpeg"`},
		{with("--test", noLR), "--test: " + noLR + " has no LR/ folder"},
		{with("--test-include", "x["), "--test-include"},
		{with("--hq", filepath.Join(hq, "missing")), "missing"},
		{with("--config", filepath.Join(hq, "none.yaml")), "none.yaml"},
		{with("--adapt-steps", "-1"), "adapt.steps: -1 must not be negative"},
	}
	for _, tc := range tests {
		code, _, stderr := benchMain(t, tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want an error mentioning %q:\n%s", tc.args[1:], code, tc.want, stderr)
		}
	}
	// --print-config shows the settings with the flags applied.
	code, stdout, _ := benchMain(t, with("--print-config", "--seed", "9", "--sources", "bsrgan")...)
	if code != 0 || !strings.Contains(stdout, "seed: 9") || !strings.Contains(stdout, "- bsrgan") || !strings.Contains(stdout, "budget: tiny") {
		t.Errorf("--print-config: exit %d\n%s", code, stdout)
	}
	// --adapt-steps sets adapt.steps, shortening a longer warm-up.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{with("--budget", "full", "--print-config"), "adapt:\n    steps: 1000\n    batch_size: 8\n    resolution: 64\n    learning_rate: 0.0001\n    warmup_steps: 100\n"},
		{with("--budget", "full", "--adapt-steps", "300", "--print-config"), "adapt:\n    steps: 300\n    batch_size: 8\n    resolution: 64\n    learning_rate: 0.0001\n    warmup_steps: 100\n"},
		{with("--budget", "full", "--adapt-steps", "50", "--print-config"), "    steps: 50\n    batch_size: 8\n    resolution: 64\n    learning_rate: 0.0001\n    warmup_steps: 5\n"},
		{with("--budget", "quick", "--adapt-steps", "0", "--print-config"), "adapt:\n    steps: 0\n"},
	} {
		if code, stdout, stderr := benchMain(t, tc.args...); code != 0 || !strings.Contains(stdout, tc.want) {
			t.Errorf("%v: exit %d, want %q in\n%s%s", tc.args[1:], code, tc.want, stdout, stderr)
		}
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/samples"
)

// run executes the command line in-process and returns its exit status
// and output.
func run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := Main(args, &out, &out)
	return code, out.String()
}

// makeHQ writes n generated HQ images of h x w into a new folder.
func makeHQ(t *testing.T, n, h, w int) string {
	t.Helper()
	dir := t.TempDir()
	for i := 0; i < n; i++ {
		name := samples.Names[i%len(samples.Names)]
		m, err := samples.Render(name, h, w, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if err := imageio.Save(filepath.Join(dir, name+string(rune('a'+i))+".png"), m, imageio.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// digest hashes every file of a folder (names and contents), skipping the
// run settings, which hold the version.
func digest(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "run.json" {
			return err
		}
		b, _ := os.ReadFile(p)
		s := sha256.Sum256(b)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = hex.EncodeToString(s[:8])
		return nil
	})
	return out
}

func sameTree(t *testing.T, a, b map[string]string) {
	t.Helper()
	if len(a) != len(b) {
		var only []string
		for k := range a {
			if _, ok := b[k]; !ok {
				only = append(only, "-"+k)
			}
		}
		for k := range b {
			if _, ok := a[k]; !ok {
				only = append(only, "+"+k)
			}
		}
		sort.Strings(only)
		t.Fatalf("%d files vs %d: %v", len(a), len(b), only)
	}
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if a[k] != b[k] {
			t.Fatalf("%s differs", k)
		}
	}
}

func TestDegradeDeterministicAcrossWorkers(t *testing.T) {
	hq := makeHQ(t, 4, 64, 72)
	o1, o3 := t.TempDir(), t.TempDir()
	if code, out := run(t, "degrade", "--hq", hq, "--out", o1, "--per-image", "2", "--seed", "9", "--workers", "1"); code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	old := runtime.GOMAXPROCS(3)
	code, out := run(t, "degrade", "--hq", hq, "--out", o3, "--per-image", "2", "--seed", "9", "--workers", "3")
	runtime.GOMAXPROCS(old)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	d1, d3 := digest(t, o1), digest(t, o3)
	sameTree(t, d1, d3)
	if _, ok := d1["LR/mandelbrotc_01.png"]; !ok {
		t.Fatalf("missing LR/mandelbrotc_01.png in %v", d1)
	}
	meta, _ := os.ReadFile(filepath.Join(o1, "meta_info.txt"))
	if lines := strings.Count(string(meta), "\n"); lines != 8 || !strings.HasPrefix(string(meta), "HR/landscaped.png, LR/landscaped_00.png\n") {
		t.Fatalf("meta_info.txt:\n%s", meta)
	}
}

func TestDegradeResumeAndSettingsCheck(t *testing.T) {
	hq := makeHQ(t, 2, 64, 64)
	out := t.TempDir()
	if code, msg := run(t, "degrade", "--hq", hq, "--out", out); code != 0 {
		t.Fatal(msg)
	}
	before := digest(t, out)
	// Remove one pair's HR: only that pair is redone.
	os.Remove(filepath.Join(out, "HR", "ringsb.png"))
	code, msg := run(t, "degrade", "--hq", hq, "--out", out)
	if code != 0 || !strings.Contains(msg, "1 written, 1 skipped") {
		t.Fatalf("resume: exit %d: %s", code, msg)
	}
	sameTree(t, before, digest(t, out))
	// Other settings into the same folder are refused.
	if code, msg := run(t, "degrade", "--hq", hq, "--out", out, "--seed", "2"); code == 0 || !strings.Contains(msg, "other settings") {
		t.Fatalf("different seed accepted: %d %s", code, msg)
	}
}

func TestDegradeBadInputs(t *testing.T) {
	hq := makeHQ(t, 2, 64, 64)
	// A truncated PNG, a text file named .jpg, an empty file, an image over
	// the pixel limit and an unreadable folder (when not root).
	good, _ := os.ReadFile(filepath.Join(hq, "shapesa.png"))
	os.WriteFile(filepath.Join(hq, "truncated.png"), good[:len(good)/2], 0o644)
	os.WriteFile(filepath.Join(hq, "text.jpg"), []byte("hello, not a JPEG"), 0o644)
	os.WriteFile(filepath.Join(hq, "empty.png"), nil, 0o644)
	big, _ := samples.Render("rings", 200, 200, 0)
	imageio.Save(filepath.Join(hq, "big.png"), big, imageio.SaveOptions{})
	locked := filepath.Join(hq, "locked")
	os.Mkdir(locked, 0o755)
	imageio.Save(filepath.Join(locked, "x.png"), big, imageio.SaveOptions{})
	os.Chmod(locked, 0)
	defer os.Chmod(locked, 0o755)

	out := t.TempDir()
	code, msg := run(t, "degrade", "--hq", hq, "--out", out, "--max-pixels", "20000")
	if code != 2 {
		t.Fatalf("exit %d, want 2:\n%s", code, msg)
	}
	for _, want := range []string{"truncated.png", "text.jpg", "empty.png", "big.png", "2 written"} {
		if !strings.Contains(msg, want) {
			t.Errorf("report lacks %q:\n%s", want, msg)
		}
	}
	if os.Geteuid() != 0 && !strings.Contains(msg, "locked") {
		t.Errorf("unreadable folder not reported:\n%s", msg)
	}
	for _, f := range []string{"HR/shapesa.png", "LR/shapesa_00.png", "HR/ringsb.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("good image not processed: %v", err)
		}
	}
	// --skip-bad: same report, exit 0.
	if code, msg := run(t, "degrade", "--hq", hq, "--out", out, "--max-pixels", "20000", "--skip-bad"); code != 0 {
		t.Fatalf("--skip-bad: exit %d\n%s", code, msg)
	}
}

func TestManifestReproducesPair(t *testing.T) {
	hq := makeHQ(t, 1, 64, 64)
	out := t.TempDir()
	if code, msg := run(t, "degrade", "--hq", hq, "--out", out, "--preset", "realesrgan", "--per-image", "2"); code != 0 {
		t.Fatal(msg)
	}
	manifest, _ := os.ReadFile(filepath.Join(out, "manifest.jsonl"))
	lines := strings.Split(strings.TrimSpace(string(manifest)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d manifest lines", len(lines))
	}
	replayed := filepath.Join(t.TempDir(), "replayed.png")
	code, msg := run(t, "replay", "--pairs", out, "--lr", "LR/shapesa_01.png", "--out", replayed)
	if code != 0 {
		t.Fatal(msg)
	}
	a, _, _ := imageio.Load(filepath.Join(out, "LR", "shapesa_01.png"), imageio.Options{})
	b, _, err := imageio.Load(replayed, imageio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Pix {
		if a.Pix[i] != b.Pix[i] {
			t.Fatalf("replayed pair differs at %d", i)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"--version"}, {"degrade", "--help"}, {"presets", "show", "official"}} {
		if code, out := run(t, args...); code != 0 || out == "" {
			t.Errorf("%v: exit %d, output %q", args, code, out)
		}
	}
	if code, out := run(t, "presets", "show", "nope"); code == 0 || !strings.Contains(out, "official") {
		t.Errorf("unknown preset: exit %d: %s", code, out)
	}
}

func TestGap(t *testing.T) {
	a := makeHQ(t, 4, 64, 64)
	b := t.TempDir()
	if code, out := run(t, "degrade", "--hq", a, "--out", b, "--preset", "bicubic", "--scale", "1"); code != 0 {
		t.Fatal(out)
	}
	code, out := run(t, "gap", a, filepath.Join(b, "LR"), "--no-c2st")
	if code != 0 || !strings.Contains(out, "KID") || !strings.Contains(out, "FD") {
		t.Fatalf("exit %d: %s", code, out)
	}
	if code, out := run(t, "gap", a, filepath.Join(b, "nope")); code == 0 || !strings.Contains(out, "nope") {
		t.Fatalf("missing folder: exit %d: %s", code, out)
	}
}

func TestRepeatedFlagRefused(t *testing.T) {
	code, out := run(t, "synth", "--hq", "a", "--hq", "b", "--out", "c")
	if code != 1 || !strings.Contains(out, `"--hq"`) || !strings.Contains(out, "more than once") {
		t.Fatalf("synth --hq twice: exit %d, %q; want 1 naming --hq", code, out)
	}
	code, out = run(t, "gap", "--seed=1", "--seed", "2", "x", "y")
	if code != 1 || !strings.Contains(out, `"--seed"`) {
		t.Fatalf("gap --seed twice: exit %d, %q", code, out)
	}
}

func TestRefuseRepeatsLeavesListsAndSwitches(t *testing.T) {
	cmd := &cobra.Command{Use: "x"}
	one := cmd.Flags().String("one", "", "")
	many := cmd.Flags().StringArray("many", nil, "")
	sw := cmd.Flags().Bool("sw", false, "")
	refuseRepeats(cmd)
	refuseRepeats(cmd) // idempotent: a value is wrapped once
	if err := cmd.ParseFlags([]string{"--one", "1", "--many", "a", "--many", "b", "--sw", "--sw"}); err != nil {
		t.Fatal(err)
	}
	if *one != "1" || strings.Join(*many, ",") != "a,b" || !*sw {
		t.Fatalf("got one %q many %q sw %v", *one, *many, *sw)
	}
	if got := cmd.Flags().Lookup("one").Value.Type(); got != "string" {
		t.Fatalf("wrapped flag type %q, want string (help shows it)", got)
	}
	if err := cmd.ParseFlags([]string{"--one", "2"}); err == nil || !strings.Contains(err.Error(), "more than once") {
		t.Fatalf("second --one: %v", err)
	}
}

// withFlags returns a copy of args with the flags of extra set: a flag
// followed by a value replaces that flag's value where args has it (a
// single-valued flag refuses a second value), and is appended otherwise;
// a flag without a value (a switch) is appended.
func withFlags(args []string, extra ...string) []string {
	out := append([]string(nil), args...)
	for i := 0; i < len(extra); i++ {
		flag := extra[i]
		if i+1 >= len(extra) || strings.HasPrefix(extra[i+1], "--") {
			out = append(out, flag)
			continue
		}
		value := extra[i+1]
		i++
		replaced := false
		for j := 0; j+1 < len(out); j++ {
			if out[j] == flag {
				out[j+1] = value
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, flag, value)
		}
	}
	return out
}

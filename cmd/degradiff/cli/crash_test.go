package cli

import (
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCrashConsistency runs synth, degrade and train (tiny settings) as
// subprocesses, SIGKILLs each at random moments several times, reruns it
// to the end, and compares every output byte with an uninterrupted run;
// after each kill no HR file may lack its LR file, and at the end no
// temporary file may be left (issue 12).
func TestCrashConsistency(t *testing.T) {
	if testing.Short() {
		t.Skip("runs subprocesses")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill times from seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	hq := makeHQ(t, 6, 48, 48)
	model := tinyModel(t)
	cfgFile := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfgFile, []byte("model: tiny\nresolution: 32\nbatch_size: 1\nsteps: 6\nwarmup_steps: 1\npreview_every: 0\ncheckpoint_every: 2\nkeep_checkpoints: 2\n"), 0o644)
	for _, tc := range []struct {
		name     string
		args     []string
		pairs    bool
		variants int
		// keep selects the files compared (train's log holds timings).
		keep func(rel string) bool
	}{
		{"degrade", []string{"degrade", "--hq", hq, "--per-image", "2", "--seed", "5", "--workers", "2"}, true, 2, nil},
		{"synth", []string{"synth", "--hq", hq, "--model", model, "--steps", "8", "--seed", "5", "--workers", "2", "--keep-init"}, true, 1, nil},
		{"train", []string{"train", "--lq", hq, "--config", cfgFile}, false, 0, func(rel string) bool {
			return strings.HasPrefix(rel, "model/") || strings.HasPrefix(rel, "checkpoints/")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := filepath.Join(t.TempDir(), "run") // same base name: train records it
			start := time.Now()
			if code, msg := run(t, append(tc.args, "--out", want)...); code != 0 {
				t.Fatalf("uninterrupted run: exit %d: %s", code, msg)
			}
			span := time.Since(start) + 100*time.Millisecond // and the subprocess's start
			out := filepath.Join(t.TempDir(), "run")
			rerun := func() []string {
				args := append(append([]string(nil), tc.args...), "--out", out)
				if !tc.pairs && fileExists(filepath.Join(out, "config.yaml")) {
					args = append(args, "--resume", "latest")
				}
				return args
			}
			for i := 0; i < 4; i++ {
				c := command(t, rerun()...)
				if err := c.Start(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Duration(r.Int64N(int64(span))))
				c.Process.Kill()
				c.Wait()
				if tc.pairs {
					checkNoOrphanHR(t, out, tc.variants)
				}
			}
			if code, msg := run(t, rerun()...); code != 0 {
				t.Fatalf("final rerun: exit %d: %s", code, msg)
			}
			got, ref := digest(t, out), digest(t, want)
			for rel := range got {
				if strings.Contains(filepath.Base(rel), ".tmp-") || strings.Contains(rel, "/.tmp-") {
					t.Errorf("temporary file %s left", rel)
				}
			}
			if tc.keep != nil {
				for _, d := range []map[string]string{got, ref} {
					for rel := range d {
						if !tc.keep(filepath.ToSlash(rel)) {
							delete(d, rel)
						}
					}
				}
			}
			sameTree(t, ref, got)
		})
	}
}

// checkNoOrphanHR fails if an HR file of the pair folder out lacks one of
// its variants' LR files.
func checkNoOrphanHR(t *testing.T, out string, variants int) {
	t.Helper()
	filepath.WalkDir(filepath.Join(out, "HR"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		rel, _ := filepath.Rel(filepath.Join(out, "HR"), p)
		name := strings.TrimSuffix(rel, ".png")
		for k := 0; k < variants; k++ {
			lr := filepath.Join(out, "LR", name+"_0"+string(rune('0'+k))+".png")
			if !fileExists(lr) {
				t.Fatalf("HR/%s exists without %s", rel, lr)
			}
		}
		return nil
	})
}

package pairset

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/raster"
)

func TestWriteCompleteRebuild(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	hr, lr := raster.New(3, 8, 8), raster.New(3, 2, 2)
	for _, name := range []string{"b", "sub/a"} {
		if w.Complete(name, 2) {
			t.Fatalf("%s complete before writing", name)
		}
		err := w.Write(name, hr, []Variant{
			{LR: lr, Record: map[string]any{"k": 0}},
			{LR: lr, Init: lr, Record: map[string]any{"k": 1}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if !w.Complete(name, 2) || w.Complete(name, 3) {
			t.Fatalf("%s: Complete wrong after writing", name)
		}
	}
	n, err := w.Finish()
	if err != nil || n != 4 {
		t.Fatalf("Finish: %d pairs, %v", n, err)
	}
	meta, _ := os.ReadFile(filepath.Join(dir, MetaFile))
	want := "HR/b.png, LR/b_00.png\nHR/b.png, LR/b_01.png\nHR/sub/a.png, LR/sub/a_00.png\nHR/sub/a.png, LR/sub/a_01.png\n"
	if string(meta) != want {
		t.Fatalf("meta_info:\n%s\nwant:\n%s", meta, want)
	}
	lines, err := ReadManifest(dir)
	if err != nil || len(lines) != 4 || !strings.Contains(string(lines[1]), `"k":1`) || !strings.Contains(string(lines[1]), `"lr":"LR/b_01.png"`) {
		t.Fatalf("manifest %s, %v", lines, err)
	}
	if _, err := os.Stat(filepath.Join(dir, InitDir, "b_01.png")); err != nil {
		t.Fatal("LR_init not written")
	}
	// A pair whose LR file disappeared drops out of the rebuilt lists.
	os.Remove(filepath.Join(dir, LRDir, "b_00.png"))
	if n, _ := Rebuild(dir); n != 3 {
		t.Fatalf("after removing an LR file: %d pairs", n)
	}
	// Temporary files never remain.
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if strings.Contains(p, ".tmp") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

// Issue 12 case 10: names that would break meta_info.txt are refused.
func TestValidName(t *testing.T) {
	for _, bad := range []string{"a\nb", "a, b", "x\r", "tab\there", ""} {
		if ValidName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, good := range []string{"a,b", "a b", "sub/0001", "été"} {
		if err := ValidName(good); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
	w, err := Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write("a\nb", raster.New(3, 8, 8), []Variant{{LR: raster.New(3, 2, 2)}}); err == nil {
		t.Fatal("Write accepted a name with a newline")
	}
}

// Issue 12 case 11: temporary files of killed writes are removed by the
// next Create.
func TestCreateRemovesStaleTemporaries(t *testing.T) {
	dir := t.TempDir()
	stale := []string{
		filepath.Join(dir, HRDir, ".x.png.tmp-123"),
		filepath.Join(dir, LRDir, "sub", ".x_00.png.tmp-9"),
		filepath.Join(dir, RecordDir, ".x_00.json.tmp-1"),
		filepath.Join(dir, ".meta_info.txt.tmp-5"),
	}
	keep := filepath.Join(dir, HRDir, "x.png")
	for _, p := range append(stale, keep) {
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("x"), 0o644)
	}
	if _, err := Create(dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range stale {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left", p)
		}
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("%s removed", keep)
	}
}

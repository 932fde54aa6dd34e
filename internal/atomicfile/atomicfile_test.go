package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileAndAbort(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.txt")
	if err := WriteFile(p, []byte("one")); err != nil {
		t.Fatal(err)
	}
	f, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("half-written"))
	// Before Commit the old content is intact; Abort leaves it so.
	if b, _ := os.ReadFile(p); string(b) != "one" {
		t.Fatalf("content %q before commit", b)
	}
	f.Abort()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary file left behind: %v", entries)
	}
	if err := WriteFile(p, []byte("two")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Fatalf("content %q", b)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", st.Mode())
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x"), nil); err == nil {
		t.Fatal("writing into a missing folder succeeded")
	}
}

func TestWriteReadJSON(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "v.json")
	in := map[string]int{"a": 1}
	if err := WriteJSON(p, in); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if string(b) != "{\n  \"a\": 1\n}\n" {
		t.Errorf("written %q", b)
	}
	var out map[string]int
	if err := ReadJSON(p, &out); err != nil || out["a"] != 1 {
		t.Errorf("read %v, %v", out, err)
	}
	os.WriteFile(p, []byte("{"), 0o644)
	if err := ReadJSON(p, &out); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("corrupt file: %v, want an error naming it", err)
	}
}

package progress

import (
	"bytes"
	"strings"
	"testing"
)

func TestPlainLines(t *testing.T) {
	var b bytes.Buffer
	bar := New(&b, 3, "work", "img")
	bar.SetDetail("loss 0.1")
	bar.Add(1)
	bar.Add(2)
	bar.Finish()
	out := b.String()
	if !strings.Contains(out, "work: 3/3 (100%)") || !strings.Contains(out, "img/s") || !strings.Contains(out, "loss 0.1") {
		t.Fatalf("progress output %q", out)
	}
	if IsTerminal(&b) {
		t.Fatal("a buffer is not a terminal")
	}
}

package kernel

import (
	"bytes"
	"strings"
	"testing"
)

func TestChoose(t *testing.T) {
	all := Available()
	if all[len(all)-1] != Generic {
		t.Fatalf("Available %v does not end with generic", all)
	}
	for _, tc := range []struct {
		want string
		path Path
		warn string
	}{
		{"", all[0], ""},
		{"generic", Generic, ""},
		{"sse", all[0], "unknown"},
	} {
		var w bytes.Buffer
		if got := Choose(tc.want, &w); got != tc.path || !strings.Contains(w.String(), tc.warn) || (tc.warn == "" && w.Len() > 0) {
			t.Errorf("Choose(%q) = %v, warning %q", tc.want, got, w.String())
		}
	}
	for _, p := range []Path{AVX2, AVX512} {
		var w bytes.Buffer
		got := Choose(p.String(), &w)
		if Supported(p) != (got == p) || Supported(p) == (w.Len() > 0) {
			t.Errorf("Choose(%v) = %v (supported %v), warning %q", p, got, Supported(p), w.String())
		}
	}
	if !Supported(Chosen()) {
		t.Errorf("Chosen %v is not supported", Chosen())
	}
}

func TestAMXAllowed(t *testing.T) {
	for _, c := range []struct {
		value string
		want  bool
		warns bool
	}{
		{"", true, false},
		{"on", true, false},
		{"off", false, false},
		{"0", true, true},
		{"OFF", true, true},
	} {
		var warn strings.Builder
		if got := AMXAllowed(c.value, &warn); got != c.want {
			t.Errorf("AMXAllowed(%q) = %v, want %v", c.value, got, c.want)
		}
		if warned := warn.Len() > 0; warned != c.warns {
			t.Errorf("AMXAllowed(%q) warned %q, want a warning: %v", c.value, warn.String(), c.warns)
		}
	}
}

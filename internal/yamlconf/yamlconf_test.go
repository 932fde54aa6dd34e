package yamlconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type settings struct {
	Steps int     `yaml:"steps"`
	LR    float64 `yaml:"learning_rate"`
}

func TestDecodeOverridesAndRefuses(t *testing.T) {
	s := settings{Steps: 10, LR: 0.1}
	if err := Decode([]byte("steps: 20\n"), &s); err != nil || s.Steps != 20 || s.LR != 0.1 {
		t.Fatalf("%+v %v", s, err)
	}
	if err := Decode(nil, &s); err != nil || s.Steps != 20 {
		t.Fatalf("empty document: %+v %v", s, err)
	}
	if err := Decode([]byte("stpes: 3\n"), &s); err == nil || !strings.Contains(err.Error(), "stpes") {
		t.Fatalf("unknown key: %v", err)
	}
	if err := Decode([]byte("steps: many\n"), &s); err == nil || !strings.Contains(err.Error(), "many") {
		t.Fatalf("wrong type: %v", err)
	}
	p := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(p, []byte("learning_rate: [1]\n"), 0o644)
	if err := DecodeFile(p, &s); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("file error should name the file: %v", err)
	}
	if !strings.Contains(string(Marshal(s)), "steps: 20") {
		t.Fatal("Marshal")
	}
}

func TestDecodeRefusesNonFinite(t *testing.T) {
	type inner struct {
		R [2]float64 `yaml:"r"`
	}
	type outer struct {
		In inner   `yaml:"in"`
		X  float64 `yaml:"x"`
	}
	for _, tc := range []struct{ text, key string }{
		{"in:\n  r: [0.1, .nan]\n", "in.r[1]"},
		{"x: .inf\n", "x"},
		{"x: -.Inf\n", "x"},
		{"in: {r: [.NaN, 2]}\n", "in.r[0]"},
	} {
		var o outer
		err := Decode([]byte(tc.text), &o)
		if err == nil || !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), "not a finite number") {
			t.Errorf("%q: %v, want an error naming %s", tc.text, err, tc.key)
		}
	}
	var o outer
	if err := Decode([]byte("x: 1.5e3\nin: {r: [1_000.5, 2]}\n"), &o); err != nil || o.X != 1500 || o.In.R[0] != 1000.5 {
		t.Fatalf("finite values: %+v %v", o, err)
	}
}

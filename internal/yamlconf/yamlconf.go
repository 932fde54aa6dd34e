// Package yamlconf reads degradiff's YAML settings files strictly: a key
// that the settings do not have, or a value of the wrong type, is an error
// whose message names the line and the key, and a file only overrides the
// keys it sets.
package yamlconf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Decode reads YAML text into v (a pointer to settings already holding
// their defaults), refusing unknown keys and numbers that are not finite
// (.nan, .inf, or too large for a float64). An empty document changes
// nothing.
func Decode(b []byte, v any) error {
	// Every settings file passes here, so this is the one place where NaN
	// and infinities are refused: range checks written as lo <= x && x <= hi
	// elsewhere would let a NaN through.
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return err
	}
	if err := checkFinite(&doc, ""); err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// checkFinite refuses float scalars under n that are NaN or infinite,
// naming their line and key path (a.b[1]).
func checkFinite(n *yaml.Node, key string) error {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if err := checkFinite(c, key); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if key != "" {
				k = key + "." + k
			}
			if err := checkFinite(n.Content[i+1], k); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if err := checkFinite(c, fmt.Sprintf("%s[%d]", key, i)); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		if n.ShortTag() != "!!float" {
			return nil
		}
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return nil
		}
		if key == "" {
			key = "value"
		}
		return fmt.Errorf("line %d: %s: %q is not a finite number", n.Line, key, n.Value)
	}
	return nil
}

// DecodeFile is Decode on the contents of path; errors name the file.
func DecodeFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if err := Decode(b, v); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// Marshal returns v as YAML text.
func Marshal(v any) []byte {
	b, err := yaml.Marshal(v)
	if err != nil {
		// Settings are plain structs; failing to marshal one is a bug.
		panic(fmt.Sprintf("yamlconf: %v", err))
	}
	return b
}

// Validator is a settings type that checks itself.
type Validator interface{ Validate() error }

// Parse reads YAML text on top of c and validates the result.
func Parse[C Validator](b []byte, c C) (C, error) {
	var zero C
	if err := Decode(b, &c); err != nil {
		return zero, err
	}
	if err := c.Validate(); err != nil {
		return zero, err
	}
	return c, nil
}

// Load reads the YAML file at path on top of defaults and validates the
// result; errors name the file.
func Load[C Validator](path string, defaults C) (C, error) {
	var zero C
	if err := DecodeFile(path, &defaults); err != nil {
		return zero, err
	}
	if err := defaults.Validate(); err != nil {
		return zero, fmt.Errorf("config %s: %w", path, err)
	}
	return defaults, nil
}

// DifferingKeys lists the keys whose values differ between two YAML (or
// JSON) documents, as dotted paths ("sr.steps").
func DifferingKeys(a, b []byte) []string {
	var ma, mb map[string]any
	yaml.Unmarshal(a, &ma)
	yaml.Unmarshal(b, &mb)
	var keys []string
	var walk func(prefix string, x, y map[string]any)
	walk = func(prefix string, x, y map[string]any) {
		seen := map[string]bool{}
		for _, m := range []map[string]any{x, y} {
			for k := range m {
				if seen[k] {
					continue
				}
				seen[k] = true
				xs, okx := x[k].(map[string]any)
				ys, oky := y[k].(map[string]any)
				if okx && oky {
					walk(prefix+k+".", xs, ys)
					continue
				}
				xv, inX := x[k]
				yv, inY := y[k]
				xb, _ := yaml.Marshal(xv)
				yb, _ := yaml.Marshal(yv)
				if inX != inY || !bytes.Equal(xb, yb) {
					keys = append(keys, prefix+k)
				}
			}
		}
	}
	walk("", ma, mb)
	sort.Strings(keys)
	return keys
}

// LoadBudget returns the settings of a budget, defaults(budget), with the
// keys of a YAML file on top (unknown keys refused, as Decode). An empty
// budget takes the file's "budget:" key, or fallback; setBudget records
// the budget used in the settings read from a file.
func LoadBudget[C any](budget, file, fallback string, defaults func(budget string) (C, error), setBudget func(c *C, budget string)) (C, error) {
	var zero C
	var b []byte
	if file != "" {
		var err error
		if b, err = os.ReadFile(file); err != nil {
			return zero, fmt.Errorf("config %s: %w", file, err)
		}
		if budget == "" {
			var head struct {
				Budget string `yaml:"budget"`
			}
			if err := yaml.Unmarshal(b, &head); err != nil {
				return zero, fmt.Errorf("config %s: %w", file, err)
			}
			budget = head.Budget
		}
	}
	if budget == "" {
		budget = fallback
	}
	c, err := defaults(budget)
	if err != nil {
		return zero, err
	}
	if b != nil {
		if err := Decode(b, &c); err != nil {
			return zero, fmt.Errorf("config %s: %w", file, err)
		}
		setBudget(&c, budget)
	}
	return c, nil
}

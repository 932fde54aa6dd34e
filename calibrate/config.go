package calibrate

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/degradiff/degradiff/degrade"
)

// roundTo rounds v to the given number of significant digits.
func roundTo(v float64, digits int) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', digits, 64), 64)
	return r
}

// Rounded returns c with the fitted values rounded to 4 significant
// digits (more where a range's ends would meet), still inside each knob's
// bounds and valid.
func (s *Space) Rounded(c degrade.Config) degrade.Config {
	c = cloneConfig(c)
	for _, k := range s.Knobs {
		v := k.get(&c)
		r := make([]float64, len(v))
		for digits := 4; ; digits++ {
			for i := range v {
				r[i] = min(max(roundTo(v[i], digits), k.Lo), k.Hi)
			}
			// A range whose ends rounding would join keeps more digits.
			if k.Kind != "range" || r[0] < r[1] || v[0] >= v[1] || digits >= 17 {
				break
			}
		}
		k.set(&c, r)
	}
	return c
}

// configKey is the key of a --config file that a knob sets (the two ends
// of a resize range set one key).
func (k Knob) configKey() string {
	return strings.TrimSuffix(strings.TrimSuffix(k.Key, ".down"), ".up")
}

// ConfigYAML returns a --config file that turns preset into c: "preset:
// NAME" and every key whose value differs from the preset's or that a
// knob fitted (so that the file shows every fitted range), in the order
// of degrade.Config. header, if not empty, is written first as comment
// lines.
func (s *Space) ConfigYAML(c degrade.Config, preset string, header string) ([]byte, error) {
	base, err := degrade.LoadPreset(preset)
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, k := range s.Knobs {
		keep[k.configKey()] = true
	}
	c.Preset, base.Preset = "", ""
	var have, ref yaml.Node
	if err := yaml.Unmarshal(c.YAML(), &have); err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(base.YAML(), &ref); err != nil {
		return nil, err
	}
	body := prune(have.Content[0], ref.Content[0], "", keep)
	if body == nil {
		body = &yaml.Node{Kind: yaml.MappingNode}
	}
	body.Content = append([]*yaml.Node{
		{Kind: yaml.ScalarNode, Value: "preset"}, {Kind: yaml.ScalarNode, Value: preset},
	}, body.Content...)
	var b bytes.Buffer
	for _, line := range strings.Split(strings.TrimRight(header, "\n"), "\n") {
		if header == "" {
			break
		}
		fmt.Fprintf(&b, "# %s\n", line)
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(body); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// prune returns the parts of the mapping have that differ from ref or
// whose path is in keep, or nil when none does; sequences of scalars are
// written on one line.
func prune(have, ref *yaml.Node, prefix string, keep map[string]bool) *yaml.Node {
	out := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(have.Content); i += 2 {
		k, v := have.Content[i], have.Content[i+1]
		path := prefix + k.Value
		var r *yaml.Node
		if ref != nil && ref.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(ref.Content); j += 2 {
				if ref.Content[j].Value == k.Value {
					r = ref.Content[j+1]
				}
			}
		}
		if v.Kind == yaml.MappingNode && !keep[path] {
			if sub := prune(v, r, path+".", keep); sub != nil {
				out.Content = append(out.Content, k, sub)
			}
			continue
		}
		if keep[path] || r == nil || !sameNode(v, r) {
			flow(v)
			out.Content = append(out.Content, k, v)
		}
	}
	if len(out.Content) == 0 {
		return nil
	}
	return out
}

func flow(n *yaml.Node) {
	if n.Kind == yaml.SequenceNode {
		n.Style = yaml.FlowStyle
	}
	for _, c := range n.Content {
		flow(c)
	}
}

func sameNode(a, b *yaml.Node) bool {
	ab, err1 := yaml.Marshal(a)
	bb, err2 := yaml.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ab, bb)
}

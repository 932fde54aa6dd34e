// Package layers states the order of degradiff's layers, which follows the
// data flow; its test checks that no package imports one of a higher
// layer, so that a reader can follow any parameter downwards.
package layers

import "strings"

// Order lists the layers from the ground up, each as the package paths
// (relative to the module, a trailing "/" for every package under a
// folder) that belong to it. A package may import its own layer and those
// below it.
var Order = []struct {
	Name     string
	Packages []string
}{
	{"ground", []string{"rng", "raster", "internal/kernel", "internal/parallel", "internal/atomicfile",
		"internal/progress", "internal/yamlconf", "internal/report", "internal/fixture", "internal/batch", "internal/layers"}},
	{"image I/O and pair folders", []string{"imageio", "pairset", "pairset/", "internal/plot", "samples"}},
	{"degradations", []string{"degrade", "degrade/"}},
	{"engine", []string{"engine/"}},
	{"models", []string{"models/"}},
	{"diffusion", []string{"diffusion/"}},
	{"training", []string{"train/"}},
	{"synthesis", []string{"synth"}},
	{"measurement", []string{"measure", "measure/"}},
	{"experiments", []string{"calibrate", "experiment", "experiment/"}},
	{"command line and tools", []string{"cmd/", "bench/", "scripts"}},
}

// Of returns the index in Order of a package (a path relative to the
// module), or -1 when no layer holds it.
func Of(pkg string) int {
	for i, l := range Order {
		for _, p := range l.Packages {
			if pkg == p || strings.HasSuffix(p, "/") && strings.HasPrefix(pkg, p) {
				return i
			}
		}
	}
	return -1
}

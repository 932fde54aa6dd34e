package synth

import "github.com/degradiff/degradiff/rng"

func rngFor(name string) *rng.Stream { return rng.New(1, name) }

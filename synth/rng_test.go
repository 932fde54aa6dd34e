package synth

import "github.com/degradiff/degradiff/internal/rng"

func rngFor(name string) *rng.Stream { return rng.New(1, name) }

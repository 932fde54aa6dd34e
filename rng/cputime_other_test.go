//go:build !unix

package rng

import "time"

// cpuTime returns 0 where getrusage is not available; benchmarks then omit
// the CPU-time metric.
func cpuTime() time.Duration { return 0 }

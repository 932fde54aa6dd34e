//go:build unix

package rng

import (
	"syscall"
	"time"
)

// cpuTime returns the user plus system CPU time of the process so far.
// Benchmarks report CPU time per item because wall-clock time is unreliable
// on a loaded machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

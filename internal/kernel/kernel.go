// Package kernel chooses the instruction set of degradiff's assembly
// kernels, once for every package that has them (engine/gemm, engine/ag,
// degrade/blur, rng): AVX-512, AVX2 with FMA, or Go.
//
// The environment variable DEGRADIFF_KERNEL=generic|avx2|avx512 forces a
// path; a path this build or CPU lacks falls back to the fastest one it
// has, with a one-line warning on standard error. Each package keeps a Go
// implementation of every kernel, so a build without assembly (another
// architecture, or the noasm tag) computes the same things.
package kernel

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// Path is an instruction set the kernels are written for.
type Path int

// The paths, slowest first.
const (
	Generic Path = iota // Go
	AVX2                // amd64 with AVX2 and FMA
	AVX512              // amd64 with AVX-512 F and VL
)

// Env is the environment variable that forces a path.
const Env = "DEGRADIFF_KERNEL"

var names = [...]string{"generic", "avx2", "avx512"}

// String returns the path's DEGRADIFF_KERNEL name.
func (p Path) String() string {
	if p < 0 || int(p) >= len(names) {
		return fmt.Sprintf("Path(%d)", int(p))
	}
	return names[p]
}

// Available returns the paths this build and CPU run, fastest first; the
// generic path is last.
func Available() []Path {
	var ps []Path
	if hasAVX512 {
		ps = append(ps, AVX512)
	}
	if hasAVX2 {
		ps = append(ps, AVX2)
	}
	return append(ps, Generic)
}

// Supported reports whether this build and CPU run path p.
func Supported(p Path) bool {
	for _, q := range Available() {
		if q == p {
			return true
		}
	}
	return false
}

// BF16 reports whether the bf16 kernels (AVX512_BF16: vdpbf16ps and
// vcvtne2ps2bf16) run here: the CPU has them and the chosen path is
// AVX512, so that DEGRADIFF_KERNEL=avx2 or generic turns them off as well.
func BF16() bool { return hasBF16 && Chosen() == AVX512 }

// AMX reports whether the bf16 products may run on the AMX tile unit
// (AMX-BF16 and AMX-TILE, with the operating system's leave to use the
// tile registers, asked for once): as BF16, and unless AMXEnv is "off".
// Its sums round differently from vdpbf16ps's (see engine/gemm).
func AMX() bool {
	amxOnce.Do(func() { amxOK = hasAMX && AMXAllowed(os.Getenv(AMXEnv), os.Stderr) && requestAMX() })
	return amxOK && BF16()
}

// AMXEnv is the environment variable that turns the AMX kernels off
// (DEGRADIFF_AMX=off), for the AVX512_BF16 kernels' bits on a machine
// that has both.
const AMXEnv = "DEGRADIFF_AMX"

// AMXAllowed reports whether AMXEnv's value lets the AMX kernels run: ""
// or "on" does, "off" does not; any other value is named on warn and
// ignored.
func AMXAllowed(value string, warn io.Writer) bool {
	switch value {
	case "", "on":
		return true
	case "off":
		return false
	}
	fmt.Fprintf(warn, "degradiff: unknown %s=%q (want on or off); using on\n", AMXEnv, value)
	return true
}

var (
	amxOnce sync.Once
	amxOK   bool
)

var (
	once   sync.Once
	chosen Path
)

// Chosen returns the path every kernel uses: the one DEGRADIFF_KERNEL
// names, or the fastest available. It warns once about a name that is
// unknown or not available here.
func Chosen() Path {
	once.Do(func() { chosen = Choose(os.Getenv(Env), os.Stderr) })
	return chosen
}

// Choose returns the path named want ("" for the fastest), writing a
// warning to warn when want is unknown or not available here.
func Choose(want string, warn io.Writer) Path {
	all := Available()
	if want == "" {
		return all[0]
	}
	for _, p := range all {
		if p.String() == want {
			return p
		}
	}
	for _, n := range names {
		if n == want {
			fmt.Fprintf(warn, "degradiff: %s=%s is not supported on this machine; using %s\n", Env, want, all[0])
			return all[0]
		}
	}
	fmt.Fprintf(warn, "degradiff: unknown %s=%q (want generic, avx2 or avx512); using %s\n", Env, want, all[0])
	return all[0]
}

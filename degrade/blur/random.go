package blur

import (
	"fmt"
	"math"
	"slices"

	"github.com/degradiff/degradiff/rng"
)

// Mixed holds the arguments of BasicSR's random_mixed_kernels (without
// noise_range, which Real-ESRGAN leaves at None). Kinds names kernel types
// (TypeIso ... TypePlateauAniso) and Probs their relative weights. Ranges
// are [lo, hi] pairs drawn uniformly.
type Mixed struct {
	Kinds    []string
	Probs    []float64
	SigmaX   [2]float64
	SigmaY   [2]float64
	Rotation [2]float64 // radians
	BetaG    [2]float64 // generalized Gaussian shape
	BetaP    [2]float64 // plateau shape
}

// Bounds of the sigma and beta ranges that Validate accepts.
const (
	MinSigma = 1e-6
	MaxSigma = 100.0
	MaxBeta  = 100.0
)

var mixedKinds = []string{TypeIso, TypeAniso, TypeGeneralizedIso, TypeGeneralizedAniso, TypePlateauIso, TypePlateauAniso}

// Validate reports whether m can be sampled: known kinds, one weight per
// kind with a positive total, and ranges with lo < hi where BasicSR asserts
// it (sigma ranges, and the rotation and sigma_y ranges when an anisotropic
// kind is listed).
func (m Mixed) Validate() error {
	if len(m.Kinds) == 0 || len(m.Kinds) != len(m.Probs) {
		return fmt.Errorf("blur: kernel_list has %d entries and kernel_prob %d", len(m.Kinds), len(m.Probs))
	}
	total := 0.0
	aniso := false
	for i, k := range m.Kinds {
		if !slices.Contains(mixedKinds, k) {
			return fmt.Errorf("blur: kernel_list entry %q is not one of %v", k, mixedKinds)
		}
		if p := m.Probs[i]; !(p >= 0) || math.IsInf(p, 0) {
			return fmt.Errorf("blur: kernel_prob[%d] = %v is not a finite weight >= 0", i, p)
		}
		total += m.Probs[i]
		aniso = aniso || k == TypeAniso || k == TypeGeneralizedAniso || k == TypePlateauAniso
	}
	if !(total > 0) {
		return fmt.Errorf("blur: kernel_prob %v sums to %v", m.Probs, total)
	}
	check := func(name string, r [2]float64) error {
		if !(r[0] < r[1]) || math.IsInf(r[1], 0) || math.IsInf(r[0], 0) {
			return fmt.Errorf("blur: %s %v: want finite lo < hi", name, r)
		}
		return nil
	}
	// Sigmas are squared when the kernel is built: outside these bounds the
	// square overflows or underflows and the weights become NaN. Kernels
	// are at most a few dozen pixels wide, so larger sigmas add nothing.
	sigma := func(name string, r [2]float64) error {
		if err := check(name, r); err != nil {
			return err
		}
		if !(r[0] >= MinSigma && r[1] <= MaxSigma) {
			return fmt.Errorf("blur: %s %v: want values in [%g, %g]", name, r, MinSigma, MaxSigma)
		}
		return nil
	}
	if err := sigma("sigma_x range", m.SigmaX); err != nil {
		return err
	}
	if aniso {
		if err := sigma("sigma_y range", m.SigmaY); err != nil {
			return err
		}
		if err := check("rotation range", m.Rotation); err != nil {
			return err
		}
	}
	for _, b := range []struct {
		name string
		r    [2]float64
	}{{"betag_range", m.BetaG}, {"betap_range", m.BetaP}} {
		if slices.ContainsFunc(m.Kinds, func(k string) bool { return kindBeta(k) == b.name }) && !(b.r[0] > 0 && b.r[1] > 0 && b.r[0] <= MaxBeta && b.r[1] <= MaxBeta) {
			return fmt.Errorf("blur: %s %v: want values in (0, %g]", b.name, b.r, MaxBeta)
		}
	}
	return nil
}

func kindBeta(kind string) string {
	switch kind {
	case TypeGeneralizedIso, TypeGeneralizedAniso:
		return "betag_range"
	case TypePlateauIso, TypePlateauAniso:
		return "betap_range"
	}
	return ""
}

// Sample draws a kernel of the given odd size as random_mixed_kernels does:
// the type by weight; sigma_x uniform in SigmaX; for anisotropic types
// sigma_y uniform in SigmaY and then the rotation uniform in Rotation
// (isotropic types set sigma_y = sigma_x and rotation 0); for generalized
// and plateau types, with probability ½ beta uniform in [lo, 1), otherwise
// in [1, hi) (BasicSR assumes lo < 1 < hi; the formula lo + (1-lo)·u is
// used as is when that does not hold, as numpy does).
func (m Mixed) Sample(s *rng.Stream, size int) (Kernel, Params, error) {
	if err := m.Validate(); err != nil {
		return Kernel{}, Params{}, err
	}
	if size <= 0 || size%2 == 0 {
		return Kernel{}, Params{}, fmt.Errorf("blur: kernel size %d is not a positive odd number", size)
	}
	kind := m.Kinds[s.Choice(m.Probs)]
	p := Params{Type: kind, Size: size}
	p.SigmaX = s.Uniform(m.SigmaX[0], m.SigmaX[1])
	switch kind {
	case TypeAniso, TypeGeneralizedAniso, TypePlateauAniso:
		p.SigmaY = s.Uniform(m.SigmaY[0], m.SigmaY[1])
		p.Theta = s.Uniform(m.Rotation[0], m.Rotation[1])
	default:
		p.SigmaY = p.SigmaX
	}
	if kb := kindBeta(kind); kb != "" {
		br := m.BetaG
		if kb == "betap_range" {
			br = m.BetaP
		}
		if s.Float64() < 0.5 {
			p.Beta = s.Uniform(br[0], 1)
		} else {
			p.Beta = s.Uniform(1, br[1])
		}
	}
	k, err := Build(p)
	return k, p, err
}

// DefaultKernelRange is Real-ESRGAN's list of kernel sizes, 7, 9, ..., 21.
var DefaultKernelRange = []int{7, 9, 11, 13, 15, 17, 19, 21}

// DefaultPadTo is the size Real-ESRGAN pads every kernel to.
const DefaultPadTo = 21

// Spec configures the blur kernel of one Real-ESRGAN degradation stage, as
// the kernel_list, kernel_prob, blur_sigma, betag_range, betap_range and
// sinc_prob options of RealESRGANDataset (or their "2" variants). An empty
// KernelRange means DefaultKernelRange, and PadTo 0 means DefaultPadTo.
type Spec struct {
	KernelList  []string   `json:"kernel_list" yaml:"kernel_list"`
	KernelProb  []float64  `json:"kernel_prob" yaml:"kernel_prob"`
	BlurSigma   [2]float64 `json:"blur_sigma" yaml:"blur_sigma"`
	BetagRange  [2]float64 `json:"betag_range" yaml:"betag_range"`
	BetapRange  [2]float64 `json:"betap_range" yaml:"betap_range"`
	SincProb    float64    `json:"sinc_prob" yaml:"sinc_prob"`
	KernelRange []int      `json:"kernel_range,omitempty" yaml:"kernel_range,omitempty"`
	PadTo       int        `json:"pad_to,omitempty" yaml:"pad_to,omitempty"`
}

func (sp Spec) mixed() Mixed {
	return Mixed{
		Kinds: sp.KernelList, Probs: sp.KernelProb,
		SigmaX: sp.BlurSigma, SigmaY: sp.BlurSigma,
		Rotation: [2]float64{-math.Pi, math.Pi},
		BetaG:    sp.BetagRange, BetaP: sp.BetapRange,
	}
}

func sizesAndPad(sizes []int, padTo int) ([]int, int, error) {
	if len(sizes) == 0 {
		sizes = DefaultKernelRange
	}
	if padTo == 0 {
		padTo = DefaultPadTo
	}
	if padTo < 0 || padTo%2 == 0 {
		return nil, 0, fmt.Errorf("blur: pad_to %d is not a positive odd number", padTo)
	}
	for _, n := range sizes {
		if n <= 0 || n%2 == 0 || n > padTo {
			return nil, 0, fmt.Errorf("blur: kernel_range entry %d is not an odd size in [1, pad_to=%d]", n, padTo)
		}
	}
	return sizes, padTo, nil
}

// Validate reports whether sp can be sampled.
func (sp Spec) Validate() error {
	if !(sp.SincProb >= 0 && sp.SincProb <= 1) {
		return fmt.Errorf("blur: sinc_prob %v is not in [0, 1]", sp.SincProb)
	}
	if _, _, err := sizesAndPad(sp.KernelRange, sp.PadTo); err != nil {
		return err
	}
	return sp.mixed().Validate()
}

// Sample draws one stage kernel as RealESRGANDataset.__getitem__ does: the
// size uniformly from KernelRange; then with probability SincProb a sinc
// kernel with omega_c uniform in [π/3, π) for sizes below 13 and in
// [π/5, π) otherwise, else a Mixed kernel with sigma_x and sigma_y in
// BlurSigma and rotation in [-π, π); then zero-padding to PadTo.
func (sp Spec) Sample(s *rng.Stream) (Kernel, Params, error) {
	if err := sp.Validate(); err != nil {
		return Kernel{}, Params{}, err
	}
	sizes, padTo, _ := sizesAndPad(sp.KernelRange, sp.PadTo)
	size := sizes[s.Intn(len(sizes))]
	var p Params
	if s.Float64() < sp.SincProb {
		lo := math.Pi / 3
		if size >= 13 {
			lo = math.Pi / 5
		}
		p = Params{Type: TypeSinc, Size: size, OmegaC: s.Uniform(lo, math.Pi)}
	} else {
		var err error
		if _, p, err = sp.mixed().Sample(s, size); err != nil {
			return Kernel{}, Params{}, err
		}
	}
	p.PadTo = padTo
	k, err := Build(p)
	return k, p, err
}

// FinalSinc configures Real-ESRGAN's final sinc filter: with probability
// Prob a sinc kernel, otherwise the identity pulse. Empty KernelRange and
// zero PadTo mean the defaults, as in Spec; an empty Omega means
// Real-ESRGAN's cutoffs [π/3, π).
type FinalSinc struct {
	Prob        float64   `json:"final_sinc_prob" yaml:"final_sinc_prob"`
	KernelRange []int     `json:"kernel_range,omitempty" yaml:"kernel_range,omitempty"`
	PadTo       int       `json:"pad_to,omitempty" yaml:"pad_to,omitempty"`
	Omega       []float64 `json:"omega,omitempty" yaml:"omega,omitempty"`
}

// Range returns the cutoff range, checked: two values in (0, π] in order.
func (f FinalSinc) Range() ([2]float64, error) {
	if len(f.Omega) == 0 {
		return [2]float64{math.Pi / 3, math.Pi}, nil
	}
	if len(f.Omega) != 2 || !(f.Omega[0] > 0 && f.Omega[0] <= f.Omega[1] && f.Omega[1] <= math.Pi) {
		return [2]float64{}, fmt.Errorf("blur: final sinc omega %v is not a range [lo, hi] with 0 < lo <= hi <= π (radians per pixel)", f.Omega)
	}
	return [2]float64{f.Omega[0], f.Omega[1]}, nil
}

// CheckSizes reports whether KernelRange and PadTo are usable.
func (f FinalSinc) CheckSizes() error {
	_, _, err := sizesAndPad(f.KernelRange, f.PadTo)
	return err
}

// Sample draws the final filter as RealESRGANDataset does: a uniform number
// is compared with Prob; on success the size is drawn from KernelRange and
// omega_c uniformly from Omega, and the sinc kernel is padded to PadTo;
// otherwise the result is the PadTo x PadTo pulse.
func (f FinalSinc) Sample(s *rng.Stream) (Kernel, Params, error) {
	if !(f.Prob >= 0 && f.Prob <= 1) {
		return Kernel{}, Params{}, fmt.Errorf("blur: final_sinc_prob %v is not in [0, 1]", f.Prob)
	}
	sizes, padTo, err := sizesAndPad(f.KernelRange, f.PadTo)
	if err != nil {
		return Kernel{}, Params{}, err
	}
	omega, err := f.Range()
	if err != nil {
		return Kernel{}, Params{}, err
	}
	var p Params
	if s.Float64() < f.Prob {
		size := sizes[s.Intn(len(sizes))]
		p = Params{Type: TypeSinc, Size: size, OmegaC: s.Uniform(omega[0], omega[1]), PadTo: padTo}
	} else {
		p = Params{Type: TypePulse, Size: padTo}
	}
	k, err := Build(p)
	return k, p, err
}

package blur

import (
	"fmt"
	"math"
)

// Kernel types, as named in BasicSR's kernel_list (the first six), plus the
// sinc filter, the identity pulse and KAIR's two BSRGAN kernels.
const (
	TypeIso              = "iso"               // isotropic Gaussian (SigmaX)
	TypeAniso            = "aniso"             // anisotropic Gaussian (SigmaX, SigmaY, Theta)
	TypeGeneralizedIso   = "generalized_iso"   // generalized Gaussian (SigmaX, Beta)
	TypeGeneralizedAniso = "generalized_aniso" // generalized Gaussian (SigmaX, SigmaY, Theta, Beta)
	TypePlateauIso       = "plateau_iso"       // plateau (SigmaX, Beta)
	TypePlateauAniso     = "plateau_aniso"     // plateau (SigmaX, SigmaY, Theta, Beta)
	TypeSinc             = "sinc"              // circular low-pass (OmegaC)
	TypePulse            = "pulse"             // identity
	TypeKAIRAniso        = "kair_aniso"        // KAIR anisotropic_Gaussian (Theta, L1, L2)
	TypeKAIRGaussian     = "kair_gaussian"     // KAIR fspecial('gaussian') (SigmaX)
)

// Params records every value that determines a sampled kernel, so that a
// manifest can log it and Build can rebuild the kernel exactly. Size is the
// generated kernel's size before zero-padding to PadTo (0: no padding).
// Fields a type does not use are zero. For the isotropic BasicSR types
// SigmaY repeats SigmaX and Theta is 0, as BasicSR sets them.
type Params struct {
	Type   string  `json:"type" yaml:"type"`
	Size   int     `json:"size" yaml:"size"`
	SigmaX float64 `json:"sigma_x,omitempty" yaml:"sigma_x,omitempty"`
	SigmaY float64 `json:"sigma_y,omitempty" yaml:"sigma_y,omitempty"`
	Theta  float64 `json:"theta,omitempty" yaml:"theta,omitempty"`
	Beta   float64 `json:"beta,omitempty" yaml:"beta,omitempty"`
	OmegaC float64 `json:"omega_c,omitempty" yaml:"omega_c,omitempty"`
	L1     float64 `json:"l1,omitempty" yaml:"l1,omitempty"` // KAIR eigenvalue (variance) along Theta
	L2     float64 `json:"l2,omitempty" yaml:"l2,omitempty"` // KAIR eigenvalue across Theta
	PadTo  int     `json:"pad_to,omitempty" yaml:"pad_to,omitempty"`
}

// MaxKernelSize bounds the side of the kernels Build makes (the pipelines
// use 41 at most).
const MaxKernelSize = 255

// Build returns the kernel that p describes. It reports an error for an
// unknown type, a size that is not a positive odd number, an even PadTo
// larger than Size, or a non-positive or non-finite scale parameter.
func Build(p Params) (Kernel, error) {
	if p.Size <= 0 || p.Size%2 == 0 {
		return Kernel{}, fmt.Errorf("blur: kernel %q: size %d is not a positive odd number", p.Type, p.Size)
	}
	// Sizes come from files too (replayed records): bound them before
	// allocating Size² weights.
	if p.Size > MaxKernelSize || p.PadTo > MaxKernelSize {
		return Kernel{}, fmt.Errorf("blur: kernel %q: size %d / pad_to %d above %d", p.Type, p.Size, p.PadTo, MaxKernelSize)
	}
	if p.PadTo > p.Size && p.PadTo%2 == 0 {
		return Kernel{}, fmt.Errorf("blur: kernel %q: pad_to %d is even", p.Type, p.PadTo)
	}
	pos := func(name string, v float64) error {
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("blur: kernel %q: %s = %v, want a finite value > 0", p.Type, name, v)
		}
		return nil
	}
	for _, v := range []float64{p.SigmaX, p.SigmaY, p.Theta, p.Beta, p.OmegaC, p.L1, p.L2} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Kernel{}, fmt.Errorf("blur: kernel %q: parameter %v is not finite", p.Type, v)
		}
	}
	var k Kernel
	var err error
	switch p.Type {
	case TypeIso, TypeAniso, TypeGeneralizedIso, TypeGeneralizedAniso, TypePlateauIso, TypePlateauAniso:
		iso := p.Type == TypeIso || p.Type == TypeGeneralizedIso || p.Type == TypePlateauIso
		if err = pos("sigma_x", p.SigmaX); err != nil {
			return Kernel{}, err
		}
		if !iso {
			if err = pos("sigma_y", p.SigmaY); err != nil {
				return Kernel{}, err
			}
		}
		switch p.Type {
		case TypeIso, TypeAniso:
			k = Gaussian(p.Size, p.SigmaX, p.SigmaY, p.Theta, iso)
		case TypeGeneralizedIso, TypeGeneralizedAniso:
			if err = pos("beta", p.Beta); err != nil {
				return Kernel{}, err
			}
			k = GeneralizedGaussian(p.Size, p.SigmaX, p.SigmaY, p.Theta, p.Beta, iso)
		default:
			if err = pos("beta", p.Beta); err != nil {
				return Kernel{}, err
			}
			k = Plateau(p.Size, p.SigmaX, p.SigmaY, p.Theta, p.Beta, iso)
		}
	case TypeSinc:
		if err = pos("omega_c", p.OmegaC); err != nil {
			return Kernel{}, err
		}
		k = CircularLowpass(p.OmegaC, p.Size, 0)
	case TypePulse:
		k = Pulse(p.Size)
	case TypeKAIRAniso:
		if err = pos("l1", p.L1); err != nil {
			return Kernel{}, err
		}
		if err = pos("l2", p.L2); err != nil {
			return Kernel{}, err
		}
		k = AnisotropicGaussianKAIR(p.Size, p.Theta, p.L1, p.L2)
	case TypeKAIRGaussian:
		if err = pos("sigma_x", p.SigmaX); err != nil {
			return Kernel{}, err
		}
		k = FspecialGaussian(p.Size, p.SigmaX)
	default:
		return Kernel{}, fmt.Errorf("blur: unknown kernel type %q", p.Type)
	}
	// Extreme parameters (a sigma whose square overflows or underflows)
	// give NaN or infinite weights, which would poison every pixel.
	sum := 0.0
	for _, v := range k.W {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Kernel{}, fmt.Errorf("blur: kernel %q with %+v has non-finite weights", p.Type, p)
		}
		sum += math.Abs(v)
	}
	if p.Type != TypePulse && !(sum > 0) {
		return Kernel{}, fmt.Errorf("blur: kernel %q with %+v has no weight", p.Type, p)
	}
	if p.PadTo > p.Size {
		k = k.Pad(p.PadTo)
	}
	return k, nil
}

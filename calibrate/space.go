package calibrate

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/degrade/blur"
)

// Groups lists the parameter groups that a fit can select, in order.
var Groups = []string{"blur", "kernel", "resize", "noise", "jpeg", "second", "sinc"}

// A Knob is one setting of a degradation config that the fit moves: a
// range, a probability, a set of probabilities or a kernel size. It maps
// Dim unconstrained coordinates to values that are always valid (inside
// Lo..Hi), so that the optimiser can move freely:
//
//   - a range [a, b] inside [Lo, Hi] is its centre and half-width in a
//     transformed space (log for scales, log(1+v) for noise levels,
//     linear for JPEG qualities): the centre is Lo + (Hi−Lo)·σ(x₁), the
//     half-width σ(x₂) times the distance from the centre to the nearer
//     bound (σ the logistic function); a range narrower than
//     2·MinWidth·(Hi−Lo) is widened to that, so that it never collapses
//     to a point (blur sigma ranges must have min < max);
//   - a single value in [Lo, Hi] (a probability, one end of a resize range
//     that must contain 1): Lo + (Hi−Lo)·σ(x) in the transformed space;
//   - three probabilities that sum to 1 (resize up, down, keep): the
//     softmax of (x₁, x₂, 0);
//   - a kernel size list: the odd sizes from the preset's smallest up to
//     a largest one, Lo + 2·round(σ(x)·(Hi−Lo)/2).
type Knob struct {
	// Key is the config key, as in a --config file
	// ("realesrgan.kernels.blur_sigma").
	Key string `json:"key"`
	// Group is one of Groups.
	Group string `json:"group"`
	// Kind is range, value, simplex or oddmax.
	Kind string `json:"kind"`
	// Scale is the transformed space: linear, log or log1p.
	Scale string `json:"scale"`
	// Lo and Hi bound the values.
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`

	get func(c *degrade.Config) []float64
	set func(c *degrade.Config, v []float64)
}

// Dim returns the number of coordinates of the knob.
func (k Knob) Dim() int {
	switch k.Kind {
	case "range", "simplex":
		return 2
	}
	return 1
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// MinWidth is the smallest half-width of a fitted range, as a fraction of
// its bounds' span in the transformed space. Only points far out in the
// coordinates (|x| of about 7 and more) come near it.
const MinWidth = 1e-3

func logit(p float64) float64 {
	p = min(max(p, 1e-3), 1-1e-3)
	return math.Log(p / (1 - p))
}

func (k Knob) fwd(v float64) float64 {
	switch k.Scale {
	case "log":
		return math.Log(v)
	case "log1p":
		return math.Log1p(v)
	}
	return v
}

func (k Knob) inv(t float64) float64 {
	switch k.Scale {
	case "log":
		return math.Exp(t)
	case "log1p":
		return math.Expm1(t)
	}
	return t
}

// decode maps the knob's coordinates to its values.
func (k Knob) decode(x []float64) []float64 {
	tl, th := k.fwd(k.Lo), k.fwd(k.Hi)
	clampV := func(v float64) float64 { return min(max(v, k.Lo), k.Hi) }
	switch k.Kind {
	case "range":
		c := tl + (th-tl)*sigmoid(x[0])
		h := sigmoid(x[1]) * min(c-tl, th-c)
		lo, hi := c-h, c+h
		if m := MinWidth * (th - tl); hi-lo < 2*m {
			lo = min(max(c-m, tl), th-2*m)
			hi = lo + 2*m
		}
		return []float64{clampV(k.inv(lo)), clampV(k.inv(hi))}
	case "value":
		return []float64{clampV(k.inv(tl + (th-tl)*sigmoid(x[0])))}
	case "simplex":
		e := []float64{math.Exp(min(x[0], 50)), math.Exp(min(x[1], 50)), 1}
		s := e[0] + e[1] + e[2]
		return []float64{e[0] / s, e[1] / s, e[2] / s}
	case "oddmax":
		steps := math.Round(sigmoid(x[0]) * (k.Hi - k.Lo) / 2)
		return []float64{k.Lo + 2*steps}
	}
	panic("calibrate: unknown knob kind " + k.Kind)
}

// encode maps values to coordinates that decode to them (or to the
// nearest values the coordinates can reach: a probability of 0 becomes
// 0.001).
func (k Knob) encode(v []float64) []float64 {
	tl, th := k.fwd(k.Lo), k.fwd(k.Hi)
	frac := func(t float64) float64 { return (t - tl) / (th - tl) }
	switch k.Kind {
	case "range":
		a, b := k.fwd(min(max(v[0], k.Lo), k.Hi)), k.fwd(min(max(v[1], k.Lo), k.Hi))
		c := (a + b) / 2
		// Keep the centre off the bounds, where no width is left.
		margin := 1e-3 * (th - tl)
		c = min(max(c, tl+margin), th-margin)
		w := (b - a) / 2 / min(c-tl, th-c)
		return []float64{logit(frac(c)), logit(w)}
	case "value":
		return []float64{logit(frac(k.fwd(min(max(v[0], k.Lo), k.Hi))))}
	case "simplex":
		p := []float64{max(v[0], 1e-3), max(v[1], 1e-3), max(v[2], 1e-3)}
		return []float64{math.Log(p[0] / p[2]), math.Log(p[1] / p[2])}
	case "oddmax":
		if k.Hi == k.Lo {
			return []float64{0}
		}
		return []float64{logit(min(max((v[0]-k.Lo)/(k.Hi-k.Lo), 0.02), 0.98))}
	}
	panic("calibrate: unknown knob kind " + k.Kind)
}

// Space is the set of knobs a fit moves, for one base config.
type Space struct {
	Base  degrade.Config
	Knobs []Knob
}

// Dim returns the number of coordinates.
func (s *Space) Dim() int {
	n := 0
	for _, k := range s.Knobs {
		n += k.Dim()
	}
	return n
}

// Decode returns the base config with the knobs set from x.
func (s *Space) Decode(x []float64) degrade.Config {
	c := cloneConfig(s.Base)
	i := 0
	for _, k := range s.Knobs {
		n := k.Dim()
		k.set(&c, k.decode(x[i:i+n]))
		i += n
	}
	return c
}

// Encode returns the coordinates of the knobs' values in c.
func (s *Space) Encode(c degrade.Config) []float64 {
	var x []float64
	for _, k := range s.Knobs {
		x = append(x, k.encode(k.get(&c))...)
	}
	return x
}

// startLimit bounds the starting coordinates of ranges and single values:
// logit(0.95). Near the ends of a knob's bounds the logistic map is flat,
// and a range that fills its bounds (Real-ESRGAN's final sinc cutoffs
// [π/3, π), noise levels [1, 30]) or a probability of 0 would start on a
// plateau where neither optimiser's steps change anything.
const startLimit = 2.944

// Start returns the coordinates the fit starts from: c's, with ranges and
// values pulled in from the ends of their bounds to at most startLimit.
func (s *Space) Start(c degrade.Config) []float64 {
	x := s.Encode(c)
	i := 0
	for _, k := range s.Knobs {
		if k.Kind == "range" || k.Kind == "value" {
			for j := i; j < i+k.Dim(); j++ {
				x[j] = min(max(x[j], -startLimit), startLimit)
			}
		}
		i += k.Dim()
	}
	return x
}

// Values returns each knob's values in c, in knob order.
func (s *Space) Values(c degrade.Config) [][]float64 {
	out := make([][]float64, len(s.Knobs))
	for i, k := range s.Knobs {
		out[i] = k.get(&c)
	}
	return out
}

// cloneConfig copies c deeply enough that setting knobs on the copy leaves
// c alone (the kernel lists are slices).
func cloneConfig(c degrade.Config) degrade.Config {
	cp := func(s blur.Spec) blur.Spec {
		s.KernelList = slices.Clone(s.KernelList)
		s.KernelProb = slices.Clone(s.KernelProb)
		s.KernelRange = slices.Clone(s.KernelRange)
		return s
	}
	c.RealESRGAN.Kernels = cp(c.RealESRGAN.Kernels)
	c.RealESRGAN.Kernels2 = cp(c.RealESRGAN.Kernels2)
	c.RealESRGAN.FinalSincOmega = slices.Clone(c.RealESRGAN.FinalSincOmega)
	c.RealESRGAN.FinalSincKernelRange = slices.Clone(c.RealESRGAN.FinalSincKernelRange)
	c.Face.KernelList = slices.Clone(c.Face.KernelList)
	c.Face.KernelProb = slices.Clone(c.Face.KernelProb)
	return c
}

// NewSpace returns the knobs of base's pipeline in the given groups (all
// of Groups when empty). It fails for a pipeline without ranges to fit
// (bicubic) or a group the pipeline does not have.
func NewSpace(base degrade.Config, groups []string) (*Space, error) {
	if err := base.Validate(); err != nil {
		return nil, err
	}
	for _, g := range groups {
		if !slices.Contains(Groups, g) {
			return nil, fmt.Errorf("--fit: unknown group %q (want some of %s)", g, strings.Join(Groups, ","))
		}
	}
	var all []Knob
	switch base.Type {
	case "realesrgan":
		all = realesrganKnobs(base)
	case "bsrgan":
		all = bsrganKnobs()
	case "face":
		all = faceKnobs()
	default:
		return nil, fmt.Errorf("--preset: the %s pipeline has no ranges to fit (want a realesrgan, bsrgan or face pipeline)", base.Type)
	}
	s := &Space{Base: cloneConfig(base)}
	have := map[string]bool{}
	for _, k := range all {
		have[k.Group] = true
		if len(groups) == 0 || slices.Contains(groups, k.Group) {
			s.Knobs = append(s.Knobs, k)
		}
	}
	for _, g := range groups {
		if !have[g] {
			return nil, fmt.Errorf("--fit: the %s pipeline has no %s settings", base.Type, g)
		}
	}
	return s, nil
}

func pair(a [2]float64) []float64 { return []float64{a[0], a[1]} }
func arr(v []float64) [2]float64  { return [2]float64{v[0], v[1]} }

// oddMaxKnob fits the largest kernel size of a spec: its kernel_range
// becomes the odd sizes from the smallest given up to it.
func oddMaxKnob(key, group string, spec func(c *degrade.Config) *blur.Spec, base degrade.Config) Knob {
	sp := spec(&base)
	sizes := sp.KernelRange
	if len(sizes) == 0 {
		sizes = blur.DefaultKernelRange
	}
	pad := sp.PadTo
	if pad == 0 {
		pad = blur.DefaultPadTo
	}
	lo := float64(slices.Min(sizes))
	return Knob{Key: key, Group: group, Kind: "oddmax", Scale: "linear", Lo: lo, Hi: float64(pad),
		get: func(c *degrade.Config) []float64 {
			s := spec(c)
			if len(s.KernelRange) == 0 {
				return []float64{float64(slices.Max(blur.DefaultKernelRange))}
			}
			return []float64{float64(slices.Max(s.KernelRange))}
		},
		set: func(c *degrade.Config, v []float64) {
			var r []int
			for n := int(lo); n <= int(v[0]); n += 2 {
				r = append(r, n)
			}
			spec(c).KernelRange = r
		},
	}
}

func realesrganKnobs(base degrade.Config) []Knob {
	type r = degrade.RealESRGANConfig
	rg := func(c *degrade.Config) *r { return &c.RealESRGAN }
	rangeKnob := func(key, group, scale string, lo, hi float64, f func(*r) *[2]float64) Knob {
		return Knob{Key: "realesrgan." + key, Group: group, Kind: "range", Scale: scale, Lo: lo, Hi: hi,
			get: func(c *degrade.Config) []float64 { return pair(*f(rg(c))) },
			set: func(c *degrade.Config, v []float64) { *f(rg(c)) = arr(v) }}
	}
	probKnob := func(key, group string, f func(*r) *float64) Knob {
		return Knob{Key: "realesrgan." + key, Group: group, Kind: "value", Scale: "linear", Lo: 0, Hi: 1,
			get: func(c *degrade.Config) []float64 { return []float64{*f(rg(c))} },
			set: func(c *degrade.Config, v []float64) { *f(rg(c)) = v[0] }}
	}
	// A resize range must contain 1: its ends move separately.
	endKnob := func(key string, end int, lo, hi float64, f func(*r) *[2]float64) Knob {
		name := []string{"down", "up"}[end]
		return Knob{Key: "realesrgan." + key + "." + name, Group: "resize", Kind: "value", Scale: "log", Lo: lo, Hi: hi,
			get: func(c *degrade.Config) []float64 { return []float64{f(rg(c))[end]} },
			set: func(c *degrade.Config, v []float64) { f(rg(c))[end] = v[0] }}
	}
	simplexKnob := func(key string, f func(*r) *[3]float64) Knob {
		return Knob{Key: "realesrgan." + key, Group: "resize", Kind: "simplex", Scale: "linear", Lo: 0, Hi: 1,
			get: func(c *degrade.Config) []float64 { p := f(rg(c)); return []float64{p[0], p[1], p[2]} },
			set: func(c *degrade.Config, v []float64) { *f(rg(c)) = [3]float64{v[0], v[1], v[2]} }}
	}
	spec1 := func(c *degrade.Config) *blur.Spec { return &c.RealESRGAN.Kernels }
	spec2 := func(c *degrade.Config) *blur.Spec { return &c.RealESRGAN.Kernels2 }
	return []Knob{
		rangeKnob("kernels.blur_sigma", "blur", "log", 0.1, 6, func(c *r) *[2]float64 { return &c.Kernels.BlurSigma }),
		oddMaxKnob("realesrgan.kernels.kernel_range", "kernel", spec1, base),
		simplexKnob("resize_prob", func(c *r) *[3]float64 { return &c.ResizeProb }),
		endKnob("resize_range", 0, 0.1, 1, func(c *r) *[2]float64 { return &c.ResizeRange }),
		endKnob("resize_range", 1, 1, 2, func(c *r) *[2]float64 { return &c.ResizeRange }),
		probKnob("gaussian_noise_prob", "noise", func(c *r) *float64 { return &c.GaussianNoiseProb }),
		rangeKnob("noise_range", "noise", "log1p", 0, 30, func(c *r) *[2]float64 { return &c.NoiseRange }),
		rangeKnob("poisson_scale_range", "noise", "log1p", 0, 4, func(c *r) *[2]float64 { return &c.PoissonScaleRange }),
		probKnob("gray_noise_prob", "noise", func(c *r) *float64 { return &c.GrayNoiseProb }),
		rangeKnob("jpeg_range", "jpeg", "linear", 10, 100, func(c *r) *[2]float64 { return &c.JPEGRange }),
		probKnob("second_blur_prob", "second", func(c *r) *float64 { return &c.SecondBlurProb }),
		rangeKnob("kernels2.blur_sigma", "blur", "log", 0.1, 6, func(c *r) *[2]float64 { return &c.Kernels2.BlurSigma }),
		oddMaxKnob("realesrgan.kernels2.kernel_range", "kernel", spec2, base),
		simplexKnob("resize_prob2", func(c *r) *[3]float64 { return &c.ResizeProb2 }),
		endKnob("resize_range2", 0, 0.1, 1, func(c *r) *[2]float64 { return &c.ResizeRange2 }),
		endKnob("resize_range2", 1, 1, 2, func(c *r) *[2]float64 { return &c.ResizeRange2 }),
		probKnob("gaussian_noise_prob2", "noise", func(c *r) *float64 { return &c.GaussianNoiseProb2 }),
		rangeKnob("noise_range2", "noise", "log1p", 0, 30, func(c *r) *[2]float64 { return &c.NoiseRange2 }),
		rangeKnob("poisson_scale_range2", "noise", "log1p", 0, 4, func(c *r) *[2]float64 { return &c.PoissonScaleRange2 }),
		probKnob("gray_noise_prob2", "noise", func(c *r) *float64 { return &c.GrayNoiseProb2 }),
		rangeKnob("jpeg_range2", "jpeg", "linear", 10, 100, func(c *r) *[2]float64 { return &c.JPEGRange2 }),
		probKnob("final_sinc_prob", "sinc", func(c *r) *float64 { return &c.FinalSincProb }),
		// The cutoff of the final sinc, at the LR size: real cameras
		// keep the low frequencies and lose the high ones steeply
		// (docs/RESULTS.md), which a Gaussian blur cannot mimic.
		{Key: "realesrgan.final_sinc_omega", Group: "sinc", Kind: "range", Scale: "linear", Lo: math.Pi / 5, Hi: math.Pi,
			get: func(c *degrade.Config) []float64 {
				if o := c.RealESRGAN.FinalSincOmega; len(o) == 2 {
					return slices.Clone(o)
				}
				return []float64{math.Pi / 3, math.Pi}
			},
			set: func(c *degrade.Config, v []float64) { c.RealESRGAN.FinalSincOmega = []float64{v[0], v[1]} }},
	}
}

func bsrganKnobs() []Knob {
	type b = degrade.BSRGANConfig
	bs := func(c *degrade.Config) *b { return &c.BSRGAN }
	prob := func(key, group string, f func(*b) *float64) Knob {
		return Knob{Key: "bsrgan." + key, Group: group, Kind: "value", Scale: "linear", Lo: 0, Hi: 1,
			get: func(c *degrade.Config) []float64 { return []float64{*f(bs(c))} },
			set: func(c *degrade.Config, v []float64) { *f(bs(c)) = v[0] }}
	}
	intRange := func(key, group, scale string, lo, hi float64, f func(*b) *[2]int) Knob {
		return Knob{Key: "bsrgan." + key, Group: group, Kind: "range", Scale: scale, Lo: lo, Hi: hi,
			get: func(c *degrade.Config) []float64 { r := f(bs(c)); return []float64{float64(r[0]), float64(r[1])} },
			set: func(c *degrade.Config, v []float64) {
				*f(bs(c)) = [2]int{int(math.Round(v[0])), int(math.Round(v[1]))}
			}}
	}
	return []Knob{
		prob("scale2_prob", "resize", func(c *b) *float64 { return &c.Scale2Prob }),
		intRange("noise_level", "noise", "log1p", 0, 50, func(c *b) *[2]int { return &c.NoiseLevel }),
		prob("poisson_prob", "noise", func(c *b) *float64 { return &c.PoissonProb }),
		prob("speckle_prob", "noise", func(c *b) *float64 { return &c.SpeckleProb }),
		intRange("jpeg_quality", "jpeg", "linear", 10, 100, func(c *b) *[2]int { return &c.JPEGQuality }),
		prob("jpeg_prob", "jpeg", func(c *b) *float64 { return &c.JPEGProb }),
	}
}

func faceKnobs() []Knob {
	type f = degrade.FaceConfig
	fc := func(c *degrade.Config) *f { return &c.Face }
	rangeKnob := func(key, group, scale string, lo, hi float64, g func(*f) *[2]float64) Knob {
		return Knob{Key: "face." + key, Group: group, Kind: "range", Scale: scale, Lo: lo, Hi: hi,
			get: func(c *degrade.Config) []float64 { return pair(*g(fc(c))) },
			set: func(c *degrade.Config, v []float64) { *g(fc(c)) = arr(v) }}
	}
	return []Knob{
		rangeKnob("blur_sigma", "blur", "log", 0.1, 20, func(c *f) *[2]float64 { return &c.BlurSigma }),
		{Key: "face.blur_kernel_size", Group: "kernel", Kind: "oddmax", Scale: "linear", Lo: 3, Hi: 101,
			get: func(c *degrade.Config) []float64 { return []float64{float64(c.Face.BlurKernelSize)} },
			set: func(c *degrade.Config, v []float64) { c.Face.BlurKernelSize = int(v[0]) }},
		rangeKnob("downsample_range", "resize", "log", 0.8, 16, func(c *f) *[2]float64 { return &c.DownsampleRange }),
		rangeKnob("noise_range", "noise", "log1p", 0, 50, func(c *f) *[2]float64 { return &c.NoiseRange }),
		rangeKnob("jpeg_range", "jpeg", "linear", 10, 100, func(c *f) *[2]float64 { return &c.JPEGRange }),
	}
}

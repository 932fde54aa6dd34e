package color

import (
	"fmt"
	"math"

	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// Names of the jitter operations, as they appear in JitterOp.Op.
const (
	OpBrightness = "brightness"
	OpContrast   = "contrast"
	OpSaturation = "saturation"
	OpHue        = "hue"
)

// JitterRanges holds the factor ranges of GFPGAN's color_jitter_pt. A nil
// range disables that operation, like None in the reference.
type JitterRanges struct {
	Brightness *[2]float64 `json:"brightness,omitempty" yaml:"brightness,omitempty"`
	Contrast   *[2]float64 `json:"contrast,omitempty" yaml:"contrast,omitempty"`
	Saturation *[2]float64 `json:"saturation,omitempty" yaml:"saturation,omitempty"`
	Hue        *[2]float64 `json:"hue,omitempty" yaml:"hue,omitempty"`
}

// DefaultJitterRanges returns GFPGAN's defaults: brightness and contrast in
// [0.5, 1.5], saturation in [0, 1.5], hue in [-0.1, 0.1].
func DefaultJitterRanges() JitterRanges {
	return JitterRanges{
		Brightness: &[2]float64{0.5, 1.5},
		Contrast:   &[2]float64{0.5, 1.5},
		Saturation: &[2]float64{0, 1.5},
		Hue:        &[2]float64{-0.1, 0.1},
	}
}

// Validate reports whether every range is ordered and inside the domain that
// torchvision accepts (non-negative factors, hue in [-0.5, 0.5]).
func (r JitterRanges) Validate() error {
	check := func(name string, rg *[2]float64) error {
		if rg == nil {
			return nil
		}
		lo, hi := rg[0], rg[1]
		if !(lo <= hi) {
			return fmt.Errorf("color: %s range [%g, %g] is not ordered", name, lo, hi)
		}
		if err := checkFactor(name, lo); err != nil {
			return err
		}
		return checkFactor(name, hi)
	}
	for _, c := range []struct {
		name string
		rg   *[2]float64
	}{{OpBrightness, r.Brightness}, {OpContrast, r.Contrast}, {OpSaturation, r.Saturation}, {OpHue, r.Hue}} {
		if err := check(c.name, c.rg); err != nil {
			return err
		}
	}
	return nil
}

// checkFactor reports whether f is a valid factor for the named operation.
func checkFactor(op string, f float64) error {
	switch op {
	case OpHue:
		if !(f >= -0.5 && f <= 0.5) {
			return fmt.Errorf("color: hue factor %g outside [-0.5, 0.5]", f)
		}
	case OpBrightness, OpContrast, OpSaturation:
		if !(f >= 0) || math.IsInf(f, 0) {
			return fmt.Errorf("color: %s factor %g is not a non-negative finite number", op, f)
		}
	default:
		return fmt.Errorf("color: unknown jitter operation %q", op)
	}
	return nil
}

// JitterOp is one step of a colour jitter: an operation name (OpBrightness,
// OpContrast, OpSaturation or OpHue) and its factor.
type JitterOp struct {
	Op     string  `json:"op"`
	Factor float64 `json:"factor"`
}

// JitterParams lists the jitter steps in the order they are applied.
type JitterParams struct {
	Ops []JitterOp `json:"ops"`
}

// Validate reports whether every step names a known operation with a factor
// in its domain, for parameters read back from a manifest.
func (p JitterParams) Validate() error {
	for _, op := range p.Ops {
		if err := checkFactor(op.Op, op.Factor); err != nil {
			return err
		}
	}
	return nil
}

// SampleJitter draws the parameters of GFPGAN's color_jitter_pt: a uniformly
// random order of the four operations, then, in that order, a factor uniform
// in the range of each enabled operation (rounded to float32, as the
// reference draws it into a float32 tensor). It panics if r does not pass
// Validate.
func SampleJitter(s *rng.Stream, r JitterRanges) JitterParams {
	if err := r.Validate(); err != nil {
		panic("color.SampleJitter: " + err.Error())
	}
	order := [4]int{0, 1, 2, 3}
	s.Shuffle(4, func(i, j int) { order[i], order[j] = order[j], order[i] })
	ranges := [4]*[2]float64{r.Brightness, r.Contrast, r.Saturation, r.Hue}
	names := [4]string{OpBrightness, OpContrast, OpSaturation, OpHue}
	var p JitterParams
	for _, k := range order {
		rg := ranges[k]
		if rg == nil {
			continue
		}
		f := float64(float32(s.Uniform(rg[0], rg[1])))
		p.Ops = append(p.Ops, JitterOp{Op: names[k], Factor: f})
	}
	return p
}

// ApplyJitter applies the steps of p in order and returns the result. It
// panics on an invalid step (see JitterParams.Validate).
func ApplyJitter(img *raster.Image, p JitterParams) *raster.Image {
	out := img
	for _, op := range p.Ops {
		switch op.Op {
		case OpBrightness:
			out = AdjustBrightness(out, op.Factor)
		case OpContrast:
			out = AdjustContrast(out, op.Factor)
		case OpSaturation:
			out = AdjustSaturation(out, op.Factor)
		case OpHue:
			out = AdjustHue(out, op.Factor)
		default:
			panic(fmt.Sprintf("color.ApplyJitter: unknown operation %q", op.Op))
		}
	}
	if out == img {
		out = img.Clone()
	}
	return out
}

func mustFactor(fn, op string, f float64) {
	if err := checkFactor(op, f); err != nil {
		panic(fn + ": " + err.Error())
	}
}

// blendInto writes clamp(ratio*a + (1-ratio)*b, 0, 1) into dst, in float32
// like torchvision's _blend; b is broadcast when it has one element.
func blendInto(dst, a, b []float32, ratio float64) {
	r := float32(ratio)
	q := float32(1 - ratio)
	if len(b) == 1 {
		bb := float32(q * b[0])
		for i, v := range a {
			dst[i] = clamp01(float32(r*v) + bb)
		}
		return
	}
	b = b[:len(a)]
	for i, v := range a {
		dst[i] = clamp01(float32(r*v) + float32(q*b[i]))
	}
}

// AdjustBrightness returns clamp(factor*img, 0, 1), torchvision's
// adjust_brightness. It panics if factor is negative.
func AdjustBrightness(img *raster.Image, factor float64) *raster.Image {
	mustFactor("color.AdjustBrightness", OpBrightness, factor)
	out := raster.New(img.C, img.H, img.W)
	zero := []float32{0}
	blendInto(out.Pix, img.Pix, zero, factor)
	return out
}

// AdjustContrast blends img with the mean of its grayscale version (the
// mean of the single plane for a 1-plane image), torchvision's
// adjust_contrast. It panics if factor is negative.
func AdjustContrast(img *raster.Image, factor float64) *raster.Image {
	mustFactor("color.AdjustContrast", OpContrast, factor)
	src := img.Pix
	if img.C == 3 {
		src = Gray(img).Pix
	} else if img.C != 1 {
		panic(fmt.Sprintf("color.AdjustContrast: image has %d planes, want 1 or 3", img.C))
	}
	sum := 0.0
	for _, v := range src {
		sum += float64(v)
	}
	mean := []float32{float32(sum / float64(len(src)))}
	out := raster.New(img.C, img.H, img.W)
	blendInto(out.Pix, img.Pix, mean, factor)
	return out
}

// AdjustSaturation blends img with its grayscale version, torchvision's
// adjust_saturation: factor 0 gives the grayscale image, 1 the input. A
// 1-plane image is returned unchanged (copied). It panics if factor is
// negative.
func AdjustSaturation(img *raster.Image, factor float64) *raster.Image {
	mustFactor("color.AdjustSaturation", OpSaturation, factor)
	if img.C == 1 {
		return img.Clone()
	}
	if img.C != 3 {
		panic(fmt.Sprintf("color.AdjustSaturation: image has %d planes, want 1 or 3", img.C))
	}
	g := Gray(img).Pix
	out := raster.New(3, img.H, img.W)
	for c := 0; c < 3; c++ {
		blendInto(out.Plane(c), img.Plane(c), g, factor)
	}
	return out
}

// AdjustHue rotates the hue of every pixel by factor (a fraction of a turn,
// in [-0.5, 0.5]) through torchvision's RGB->HSV->RGB conversion. A 1-plane
// image is returned unchanged (copied). It panics if factor is outside
// [-0.5, 0.5].
func AdjustHue(img *raster.Image, factor float64) *raster.Image {
	mustFactor("color.AdjustHue", OpHue, factor)
	if img.C == 1 {
		return img.Clone()
	}
	if img.C != 3 {
		panic(fmt.Sprintf("color.AdjustHue: image has %d planes, want 1 or 3", img.C))
	}
	out := raster.New(3, img.H, img.W)
	n := img.H * img.W
	hf := float32(factor)
	parallel.For(n, 16384, func(lo, hi int) {
		r, g, b := img.Pix[lo:hi], img.Pix[n+lo:n+hi], img.Pix[2*n+lo:2*n+hi]
		or, og, ob := out.Pix[lo:hi], out.Pix[n+lo:n+hi], out.Pix[2*n+lo:2*n+hi]
		for i := range r {
			h, s, v := rgbToHSV(r[i], g[i], b[i])
			h = mod1(h + hf)
			or[i], og[i], ob[i] = hsvToRGB(h, s, v)
		}
	})
	return out
}

// rgbToHSV is torchvision's _rgb2hsv for one pixel, in float32.
func rgbToHSV(r, g, b float32) (h, s, v float32) {
	maxc := max(r, g, b)
	minc := min(r, g, b)
	eqc := maxc == minc
	cr := maxc - minc
	sd, crd := maxc, cr
	if eqc {
		sd, crd = 1, 1
	}
	s = cr / sd
	rc := (maxc - r) / crd
	gc := (maxc - g) / crd
	bc := (maxc - b) / crd
	var hr, hg, hb float32
	if maxc == r {
		hr = bc - gc
	}
	if maxc == g && maxc != r {
		hg = float32(2+rc) - bc
	}
	if maxc != g && maxc != r {
		hb = float32(4+gc) - rc
	}
	h = float32(hr+hg) + hb
	h = float32(math.Mod(float64(float32(h/6)+1), 1))
	return h, s, maxc
}

// mod1 is Python's x % 1.0 in float32: the result has the sign of the
// divisor, so it lies in [0, 1).
func mod1(x float32) float32 {
	m := float32(math.Mod(float64(x), 1))
	if m != 0 && m < 0 {
		m = m + 1
	}
	return m
}

// hsvToRGB is torchvision's _hsv2rgb for one pixel, in float32.
func hsvToRGB(h, s, v float32) (r, g, b float32) {
	h6 := h * 6
	fi := float32(math.Floor(float64(h6)))
	f := h6 - fi
	i := int32(fi)
	p := clamp01(v * (1 - s))
	q := clamp01(v * float32(1-float32(s*f)))
	t := clamp01(v * float32(1-float32(s*float32(1-f))))
	i %= 6
	if i < 0 {
		i += 6
	}
	switch i {
	case 0:
		return v, t, p
	case 1:
		return q, v, p
	case 2:
		return p, v, t
	case 3:
		return p, q, v
	case 4:
		return t, p, v
	default:
		return v, p, q
	}
}

package degrade

import (
	"embed"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/degradiff/degradiff/internal/yamlconf"

	"go.yaml.in/yaml/v3"

	"github.com/degradiff/degradiff/degrade/blur"
)

//go:embed presets/*.yaml
var presetFS embed.FS

// Config selects a degradation pipeline and its parameters. It is read from
// YAML: a preset file, optionally overridden key by key by a user file.
type Config struct {
	// Preset names the preset a user file starts from (user files only).
	Preset string `yaml:"preset,omitempty" json:"preset,omitempty"`
	// Type is the pipeline: bicubic, realesrgan, bsrgan or face.
	Type string `yaml:"type" json:"type"`
	// Scale is the downscaling factor from HR to LR.
	Scale int `yaml:"scale" json:"scale"`
	// ResizeBack resizes the LR image back to the HR size.
	ResizeBack bool `yaml:"resize_back" json:"resize_back"`

	Bicubic    BicubicConfig    `yaml:"bicubic,omitempty" json:"bicubic,omitempty"`
	RealESRGAN RealESRGANConfig `yaml:"realesrgan,omitempty" json:"realesrgan,omitempty"`
	BSRGAN     BSRGANConfig     `yaml:"bsrgan,omitempty" json:"bsrgan,omitempty"`
	Face       FaceConfig       `yaml:"face,omitempty" json:"face,omitempty"`
}

// BicubicConfig configures the bicubic pipeline.
type BicubicConfig struct {
	// Method is matlab (antialiased imresize), torch or opencv.
	Method string `yaml:"method" json:"method"`
}

// RealESRGANConfig holds the options of the Real-ESRGAN second-order
// pipeline, named as in BasicSR's option files.
type RealESRGANConfig struct {
	USMSharpen       bool    `yaml:"usm_sharpen" json:"usm_sharpen"`
	ColorJitterProb  float64 `yaml:"color_jitter_prob" json:"color_jitter_prob"`
	ColorJitterShift float64 `yaml:"color_jitter_shift" json:"color_jitter_shift"`
	GrayProb         float64 `yaml:"gray_prob" json:"gray_prob"`

	Kernels       blur.Spec `yaml:"kernels" json:"kernels"`
	Kernels2      blur.Spec `yaml:"kernels2" json:"kernels2"`
	FinalSincProb float64   `yaml:"final_sinc_prob" json:"final_sinc_prob"`
	// FinalSincKernelRange and FinalSincOmega narrow the final sinc
	// filter, which acts at the LR size: its sizes (Real-ESRGAN's 7..21
	// when empty) and the range of its cutoff omega_c in radians per LR
	// pixel ([π/3, π) when empty). A camera's response, measured on real
	// pairs, is such a low-pass with a steep edge (docs/RESULTS.md).
	FinalSincKernelRange []int     `yaml:"final_sinc_kernel_range,omitempty" json:"final_sinc_kernel_range,omitempty"`
	FinalSincOmega       []float64 `yaml:"final_sinc_omega,omitempty" json:"final_sinc_omega,omitempty"`

	ResizeProb        [3]float64 `yaml:"resize_prob" json:"resize_prob"`
	ResizeRange       [2]float64 `yaml:"resize_range" json:"resize_range"`
	GaussianNoiseProb float64    `yaml:"gaussian_noise_prob" json:"gaussian_noise_prob"`
	NoiseRange        [2]float64 `yaml:"noise_range" json:"noise_range"`
	PoissonScaleRange [2]float64 `yaml:"poisson_scale_range" json:"poisson_scale_range"`
	GrayNoiseProb     float64    `yaml:"gray_noise_prob" json:"gray_noise_prob"`
	JPEGRange         [2]float64 `yaml:"jpeg_range" json:"jpeg_range"`

	SecondBlurProb     float64    `yaml:"second_blur_prob" json:"second_blur_prob"`
	ResizeProb2        [3]float64 `yaml:"resize_prob2" json:"resize_prob2"`
	ResizeRange2       [2]float64 `yaml:"resize_range2" json:"resize_range2"`
	GaussianNoiseProb2 float64    `yaml:"gaussian_noise_prob2" json:"gaussian_noise_prob2"`
	NoiseRange2        [2]float64 `yaml:"noise_range2" json:"noise_range2"`
	PoissonScaleRange2 [2]float64 `yaml:"poisson_scale_range2" json:"poisson_scale_range2"`
	GrayNoiseProb2     float64    `yaml:"gray_noise_prob2" json:"gray_noise_prob2"`
	JPEGRange2         [2]float64 `yaml:"jpeg_range2" json:"jpeg_range2"`

	// JPEGMode is diffjpeg (BasicSR's DiffJPEG, exact parity) or real (an
	// actual encode/decode round trip).
	JPEGMode string `yaml:"jpeg_mode" json:"jpeg_mode"`
}

// BSRGANConfig holds the options of KAIR's BSRGAN degradation.
type BSRGANConfig struct {
	Plus        bool    `yaml:"plus" json:"plus"`
	Scale2Prob  float64 `yaml:"scale2_prob" json:"scale2_prob"`
	JPEGProb    float64 `yaml:"jpeg_prob" json:"jpeg_prob"`
	ShuffleProb float64 `yaml:"shuffle_prob" json:"shuffle_prob"`
	PoissonProb float64 `yaml:"poisson_prob" json:"poisson_prob"`
	SpeckleProb float64 `yaml:"speckle_prob" json:"speckle_prob"`
	SharpenHR   bool    `yaml:"sharpen_hr" json:"sharpen_hr"`
	NoiseLevel  [2]int  `yaml:"noise_level" json:"noise_level"`
	JPEGQuality [2]int  `yaml:"jpeg_quality" json:"jpeg_quality"`
}

// FaceConfig holds the options of GFPGAN's face degradation.
type FaceConfig struct {
	BlurKernelSize    int        `yaml:"blur_kernel_size" json:"blur_kernel_size"`
	KernelList        []string   `yaml:"kernel_list" json:"kernel_list"`
	KernelProb        []float64  `yaml:"kernel_prob" json:"kernel_prob"`
	BlurSigma         [2]float64 `yaml:"blur_sigma" json:"blur_sigma"`
	DownsampleRange   [2]float64 `yaml:"downsample_range" json:"downsample_range"`
	NoiseRange        [2]float64 `yaml:"noise_range" json:"noise_range"`
	JPEGRange         [2]float64 `yaml:"jpeg_range" json:"jpeg_range"`
	ColorJitterProb   float64    `yaml:"color_jitter_prob" json:"color_jitter_prob"`
	ColorJitterShift  float64    `yaml:"color_jitter_shift" json:"color_jitter_shift"`
	ColorJitterPtProb float64    `yaml:"color_jitter_pt_prob" json:"color_jitter_pt_prob"`
	GrayProb          float64    `yaml:"gray_prob" json:"gray_prob"`
	GTGray            bool       `yaml:"gt_gray" json:"gt_gray"`
	// DegradeSize is the face size, in pixels, the ranges above are meant
	// for (GFPGAN's 512). A face of another size is resized (bicubic) so
	// that its shorter side is DegradeSize, degraded and resized back to
	// that size as GFPGAN does, then resized (area) to the output size, so
	// that a 128-pixel face loses what a 512-pixel face loses, not four
	// times more. 0 degrades every face at its own size.
	DegradeSize int `yaml:"degrade_size" json:"degrade_size,omitempty"`
}

// Presets returns the names of the shipped presets, sorted.
func Presets() []string {
	entries, _ := presetFS.ReadDir("presets")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// PresetYAML returns the YAML text of a shipped preset.
func PresetYAML(name string) ([]byte, error) {
	b, err := presetFS.ReadFile(path.Join("presets", name+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("unknown preset %q (available: %s)", name, strings.Join(Presets(), ", "))
	}
	return b, nil
}

// LoadPreset returns the configuration of a shipped preset.
func LoadPreset(name string) (Config, error) {
	b, err := PresetYAML(name)
	if err != nil {
		return Config{}, err
	}
	var c Config
	if err := yamlconf.Decode(b, &c); err != nil {
		return Config{}, fmt.Errorf("preset %s: %w", name, err)
	}
	return c, c.Validate()
}

// Load builds a configuration from a preset name and an optional user YAML
// file whose keys override the preset's. A user file may name its own base
// with "preset:"; it wins over presetName when presetName is empty.
func Load(presetName, userFile string) (Config, error) {
	return LoadOr(presetName, userFile, "official")
}

// LoadOr is Load with fallback as the preset when neither presetName nor
// the file names one (the face bench falls back on face).
func LoadOr(presetName, userFile, fallback string) (Config, error) {
	var user []byte
	if userFile != "" {
		b, err := os.ReadFile(userFile)
		if err != nil {
			return Config{}, fmt.Errorf("config %s: %w", userFile, err)
		}
		user = b
		if presetName == "" {
			var head struct {
				Preset string `yaml:"preset"`
			}
			if err := yaml.Unmarshal(b, &head); err != nil {
				return Config{}, fmt.Errorf("config %s: %w", userFile, err)
			}
			presetName = head.Preset
		}
	}
	if presetName == "" {
		presetName = fallback
	}
	c, err := LoadPreset(presetName)
	if err != nil {
		return Config{}, err
	}
	if user != nil {
		if err := yamlconf.Decode(user, &c); err != nil {
			return Config{}, fmt.Errorf("config %s: %w", userFile, err)
		}
		c.Preset = presetName
		if err := c.Validate(); err != nil {
			return Config{}, fmt.Errorf("config %s: %w", userFile, err)
		}
	}
	c.Preset = presetName
	return c, nil
}

// Parse reads a configuration from YAML text on top of base.
func Parse(text []byte, base Config) (Config, error) {
	c := base
	if err := yamlconf.Decode(text, &c); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// YAML returns the configuration as YAML text (for logs and run folders).
func (c Config) YAML() []byte { return yamlconf.Marshal(c) }

// Validate checks every key of the active pipeline and names the first bad
// one.
func (c Config) Validate() error {
	if c.Scale < 1 || c.Scale > 16 {
		return fmt.Errorf("scale: %d is outside 1..16", c.Scale)
	}
	switch c.Type {
	case "bicubic":
		switch c.Bicubic.Method {
		case "matlab", "torch", "opencv":
		default:
			return fmt.Errorf("bicubic.method: %q is not one of matlab, torch, opencv", c.Bicubic.Method)
		}
	case "realesrgan":
		return c.RealESRGAN.validate("realesrgan.")
	case "bsrgan":
		return c.BSRGAN.validate("bsrgan.")
	case "face":
		return c.Face.validate("face.")
	default:
		return fmt.Errorf("type: %q is not one of bicubic, realesrgan, bsrgan, face", c.Type)
	}
	return nil
}

// checker accumulates the first validation error with its key.
type checker struct {
	prefix string
	err    error
}

func (k *checker) fail(key, format string, args ...any) {
	if k.err == nil {
		k.err = fmt.Errorf("%s%s: %s", k.prefix, key, fmt.Sprintf(format, args...))
	}
}

func (k *checker) prob(key string, p float64) {
	if !(p >= 0 && p <= 1) {
		k.fail(key, "probability %g is outside [0, 1]", p)
	}
}

func (k *checker) probs(key string, ps []float64) {
	if len(ps) == 0 {
		k.fail(key, "empty list")
		return
	}
	sum := 0.0
	for _, p := range ps {
		if !(p >= 0 && p <= 1) {
			k.fail(key, "probability %g is outside [0, 1]", p)
			return
		}
		sum += p
	}
	if sum <= 0 {
		k.fail(key, "probabilities sum to 0")
	}
}

func (k *checker) rng(key string, r [2]float64, lo, hi float64) {
	switch {
	case r[0] > r[1]:
		k.fail(key, "min %g > max %g", r[0], r[1])
	case !(r[0] >= lo && r[1] <= hi): // also refuses NaN

		k.fail(key, "range [%g, %g] is outside [%g, %g]", r[0], r[1], lo, hi)
	}
}

func (k *checker) spec(key string, s blur.Spec) {
	if err := s.Validate(); err != nil {
		k.fail(key, "%v", err)
	}
}

// finalSinc returns the final sinc filter's settings.
func (r RealESRGANConfig) finalSinc() blur.FinalSinc {
	return blur.FinalSinc{Prob: r.FinalSincProb, KernelRange: r.FinalSincKernelRange, Omega: r.FinalSincOmega}
}

func (r RealESRGANConfig) validate(prefix string) error {
	k := &checker{prefix: prefix}
	k.prob("color_jitter_prob", r.ColorJitterProb)
	k.rng("color_jitter_shift", [2]float64{0, r.ColorJitterShift}, 0, 255)
	k.prob("gray_prob", r.GrayProb)
	k.spec("kernels", r.Kernels)
	k.spec("kernels2", r.Kernels2)
	k.prob("final_sinc_prob", r.FinalSincProb)
	if err := r.finalSinc().CheckSizes(); err != nil {
		k.fail("final_sinc_kernel_range", "%v", err)
	}
	if _, err := r.finalSinc().Range(); err != nil {
		k.fail("final_sinc_omega", "%v", err)
	}
	k.probs("resize_prob", r.ResizeProb[:])
	k.rng("resize_range", r.ResizeRange, 1e-3, 16)
	if r.ResizeRange[0] > 1 || r.ResizeRange[1] < 1 {
		k.fail("resize_range", "[%g, %g] must contain 1 (down below 1, up above)", r.ResizeRange[0], r.ResizeRange[1])
	}
	k.prob("gaussian_noise_prob", r.GaussianNoiseProb)
	k.rng("noise_range", r.NoiseRange, 0, 255)
	k.rng("poisson_scale_range", r.PoissonScaleRange, 0, 100)
	k.prob("gray_noise_prob", r.GrayNoiseProb)
	k.rng("jpeg_range", r.JPEGRange, 1, 100)
	k.prob("second_blur_prob", r.SecondBlurProb)
	k.probs("resize_prob2", r.ResizeProb2[:])
	k.rng("resize_range2", r.ResizeRange2, 1e-3, 16)
	if r.ResizeRange2[0] > 1 || r.ResizeRange2[1] < 1 {
		k.fail("resize_range2", "[%g, %g] must contain 1 (down below 1, up above)", r.ResizeRange2[0], r.ResizeRange2[1])
	}
	k.prob("gaussian_noise_prob2", r.GaussianNoiseProb2)
	k.rng("noise_range2", r.NoiseRange2, 0, 255)
	k.rng("poisson_scale_range2", r.PoissonScaleRange2, 0, 100)
	k.prob("gray_noise_prob2", r.GrayNoiseProb2)
	k.rng("jpeg_range2", r.JPEGRange2, 1, 100)
	switch r.JPEGMode {
	case "diffjpeg", "real":
	default:
		k.fail("jpeg_mode", "%q is not one of diffjpeg, real", r.JPEGMode)
	}
	return k.err
}

func (b BSRGANConfig) validate(prefix string) error {
	k := &checker{prefix: prefix}
	k.prob("scale2_prob", b.Scale2Prob)
	k.prob("jpeg_prob", b.JPEGProb)
	k.prob("shuffle_prob", b.ShuffleProb)
	k.prob("poisson_prob", b.PoissonProb)
	k.prob("speckle_prob", b.SpeckleProb)
	k.rng("noise_level", [2]float64{float64(b.NoiseLevel[0]), float64(b.NoiseLevel[1])}, 0, 255)
	k.rng("jpeg_quality", [2]float64{float64(b.JPEGQuality[0]), float64(b.JPEGQuality[1])}, 1, 100)
	return k.err
}

func (f FaceConfig) validate(prefix string) error {
	k := &checker{prefix: prefix}
	if f.BlurKernelSize < 1 || f.BlurKernelSize%2 == 0 || f.BlurKernelSize > 101 {
		k.fail("blur_kernel_size", "%d must be odd and in 1..101", f.BlurKernelSize)
	}
	if len(f.KernelList) != len(f.KernelProb) {
		k.fail("kernel_prob", "%d probabilities for %d kernels in kernel_list", len(f.KernelProb), len(f.KernelList))
	}
	for _, name := range f.KernelList {
		if name != "iso" && name != "aniso" {
			k.fail("kernel_list", "%q is not one of iso, aniso", name)
		}
	}
	k.probs("kernel_prob", f.KernelProb)
	k.rng("blur_sigma", f.BlurSigma, 1e-6, 100)
	if k.err == nil {
		// What Sample draws from must be drawable (BasicSR asserts lo < hi).
		if err := f.mixed().Validate(); err != nil {
			k.fail("blur_sigma", "%v", err)
		}
	}
	k.rng("downsample_range", f.DownsampleRange, 0.1, 64)
	k.rng("noise_range", f.NoiseRange, 0, 255)
	k.rng("jpeg_range", f.JPEGRange, 1, 100)
	k.prob("color_jitter_prob", f.ColorJitterProb)
	k.rng("color_jitter_shift", [2]float64{0, f.ColorJitterShift}, 0, 255)
	k.prob("color_jitter_pt_prob", f.ColorJitterPtProb)
	k.prob("gray_prob", f.GrayProb)
	if f.DegradeSize != 0 && (f.DegradeSize < 16 || f.DegradeSize > 4096) {
		k.fail("degrade_size", "%d must be 0 (each face at its own size) or in 16..4096", f.DegradeSize)
	}
	return k.err
}

package unet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Block type names, as spelled in diffusers configs.
const (
	DownBlock2D     = "DownBlock2D"
	AttnDownBlock2D = "AttnDownBlock2D"
	UpBlock2D       = "UpBlock2D"
	AttnUpBlock2D   = "AttnUpBlock2D"
)

// ClassName is the diffusers class this package implements.
const ClassName = "UNet2DModel"

// DiffusersVersion is the diffusers release whose behaviour this package
// reproduces and whose version Save writes.
const DiffusersVersion = "0.21.1"

// Config is the configuration of a diffusers UNet2DModel, with the keys of
// its config.json. Start from DefaultConfig (diffusers' defaults) or a
// preset; ParseConfig fills absent keys with the defaults.
type Config struct {
	ClassName            string     // "_class_name"
	DiffusersVersion     string     // "_diffusers_version"
	SampleSize           SampleSize // "sample_size"; informational
	InChannels           int        // "in_channels"
	OutChannels          int        // "out_channels"
	CenterInputSample    bool       // "center_input_sample": x -> 2x-1 first
	TimeEmbeddingType    string     // "time_embedding_type": "positional" only
	FreqShift            float64    // "freq_shift"
	FlipSinToCos         bool       // "flip_sin_to_cos"
	DownBlockTypes       []string   // "down_block_types"
	UpBlockTypes         []string   // "up_block_types"
	BlockOutChannels     []int      // "block_out_channels"
	LayersPerBlock       int        // "layers_per_block"
	MidBlockScaleFactor  float64    // "mid_block_scale_factor"
	DownsamplePadding    int        // "downsample_padding"
	DownsampleType       string     // "downsample_type": "conv" only
	UpsampleType         string     // "upsample_type": "conv" only
	Dropout              float64    // "dropout"
	ActFn                string     // "act_fn": "silu" (or its alias "swish")
	AttentionHeadDim     *int       // "attention_head_dim"; nil: one head per block
	NormNumGroups        int        // "norm_num_groups"
	NormEps              float64    // "norm_eps"
	ResnetTimeScaleShift string     // "resnet_time_scale_shift": "default" only
	AddAttention         bool       // "add_attention": attention in the mid block
	ClassEmbedType       *string    // "class_embed_type": must be nil
	NumClassEmbeds       *int       // "num_class_embeds": must be nil
}

// SampleSize is the training resolution recorded in a config: diffusers
// writes an int, a [height, width] pair or null (the zero value).
type SampleSize struct{ H, W int }

// MarshalJSON writes null, an int when square, or [H, W].
func (s SampleSize) MarshalJSON() ([]byte, error) {
	switch {
	case s.H == 0 && s.W == 0:
		return []byte("null"), nil
	case s.H == s.W:
		return json.Marshal(s.H)
	}
	return json.Marshal([]int{s.H, s.W})
}

// UnmarshalJSON accepts null, an int or a [height, width] list.
func (s *SampleSize) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*s = SampleSize{}
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		*s = SampleSize{n, n}
		return nil
	}
	var hw []int
	if err := json.Unmarshal(b, &hw); err != nil || len(hw) != 2 {
		return fmt.Errorf("sample_size: want an int or [height, width], got %s", b)
	}
	*s = SampleSize{hw[0], hw[1]}
	return nil
}

func intPtr(v int) *int { return &v }

// DefaultConfig returns diffusers' UNet2DModel defaults (v0.21.1).
func DefaultConfig() Config {
	return Config{
		ClassName:            ClassName,
		DiffusersVersion:     DiffusersVersion,
		InChannels:           3,
		OutChannels:          3,
		TimeEmbeddingType:    "positional",
		FlipSinToCos:         true,
		DownBlockTypes:       []string{DownBlock2D, AttnDownBlock2D, AttnDownBlock2D, AttnDownBlock2D},
		UpBlockTypes:         []string{AttnUpBlock2D, AttnUpBlock2D, AttnUpBlock2D, UpBlock2D},
		BlockOutChannels:     []int{224, 448, 672, 896},
		LayersPerBlock:       2,
		MidBlockScaleFactor:  1,
		DownsamplePadding:    1,
		DownsampleType:       "conv",
		UpsampleType:         "conv",
		ActFn:                "silu",
		AttentionHeadDim:     intPtr(8),
		NormNumGroups:        32,
		NormEps:              1e-5,
		ResnetTimeScaleShift: "default",
		AddAttention:         true,
	}
}

// TinyConfig returns the small model of the test fixtures: channels
// 32-64-64, one layer per block, attention at the middle level, 8 groups.
func TinyConfig() Config {
	c := DefaultConfig()
	c.SampleSize = SampleSize{32, 32}
	c.BlockOutChannels = []int{32, 64, 64}
	c.LayersPerBlock = 1
	c.DownBlockTypes = []string{DownBlock2D, AttnDownBlock2D, DownBlock2D}
	c.UpBlockTypes = []string{UpBlock2D, AttnUpBlock2D, UpBlock2D}
	c.NormNumGroups = 8
	return c
}

// ReferenceConfig returns the model of the official train_ddpm.py of Yang
// et al. (about 101M parameters): channels 128-256-512-512, two layers per
// block, attention at the third level.
func ReferenceConfig() Config {
	c := DefaultConfig()
	c.SampleSize = SampleSize{256, 256}
	c.BlockOutChannels = []int{128, 256, 512, 512}
	c.DownBlockTypes = []string{DownBlock2D, DownBlock2D, AttnDownBlock2D, DownBlock2D}
	c.UpBlockTypes = []string{UpBlock2D, AttnUpBlock2D, UpBlock2D, UpBlock2D}
	return c
}

// CPUConfig returns the configuration of degradiff's default model, trained
// on 2 CPU cores (8.6M parameters): channels 64-128-128-192, one layer per
// block, attention (heads of 32 channels) at the third level and in the
// middle. The fourth level was narrowed from 256 to 192 channels to stay
// under about 10M parameters; most of the compute is at the first two
// levels, which keep their width.
func CPUConfig() Config {
	c := DefaultConfig()
	c.SampleSize = SampleSize{128, 128}
	c.BlockOutChannels = []int{64, 128, 128, 192}
	c.LayersPerBlock = 1
	c.DownBlockTypes = []string{DownBlock2D, DownBlock2D, AttnDownBlock2D, DownBlock2D}
	c.UpBlockTypes = []string{UpBlock2D, AttnUpBlock2D, UpBlock2D, UpBlock2D}
	c.AttentionHeadDim = intPtr(32)
	return c
}

// SmallConfig returns the configuration of degradiff's built-in face
// model (3.5M parameters): channels 32-64-96-128, one layer per
// block, attention only in the middle. It costs about a quarter of the cpu
// preset per pixel, and without attention at the third level its cost
// grows linearly with the image, so 256x256 faces refine quickly on 2
// cores.
func SmallConfig() Config {
	c := DefaultConfig()
	c.SampleSize = SampleSize{64, 64}
	c.BlockOutChannels = []int{32, 64, 96, 128}
	c.LayersPerBlock = 1
	c.DownBlockTypes = []string{DownBlock2D, DownBlock2D, DownBlock2D, DownBlock2D}
	c.UpBlockTypes = []string{UpBlock2D, UpBlock2D, UpBlock2D, UpBlock2D}
	c.AttentionHeadDim = intPtr(32)
	return c
}

// Presets lists the names Preset accepts.
var Presets = []string{"tiny", "small", "cpu", "reference"}

// Preset returns the configuration named name: "tiny", "small", "cpu" or
// "reference".
func Preset(name string) (Config, error) {
	switch name {
	case "tiny":
		return TinyConfig(), nil
	case "small":
		return SmallConfig(), nil
	case "reference":
		return ReferenceConfig(), nil
	case "cpu":
		return CPUConfig(), nil
	}
	return Config{}, fmt.Errorf("unet: unknown preset %q (want one of %s)", name, strings.Join(Presets, ", "))
}

// configJSON mirrors Config with the diffusers keys. Pointers distinguish
// an absent key (keep the default) from a value.
type configJSON struct {
	ClassName            *string     `json:"_class_name"`
	DiffusersVersion     *string     `json:"_diffusers_version"`
	SampleSize           *SampleSize `json:"sample_size"`
	InChannels           *int        `json:"in_channels"`
	OutChannels          *int        `json:"out_channels"`
	CenterInputSample    *bool       `json:"center_input_sample"`
	TimeEmbeddingType    *string     `json:"time_embedding_type"`
	FreqShift            *float64    `json:"freq_shift"`
	FlipSinToCos         *bool       `json:"flip_sin_to_cos"`
	DownBlockTypes       []string    `json:"down_block_types"`
	UpBlockTypes         []string    `json:"up_block_types"`
	BlockOutChannels     []int       `json:"block_out_channels"`
	LayersPerBlock       *int        `json:"layers_per_block"`
	MidBlockScaleFactor  *float64    `json:"mid_block_scale_factor"`
	DownsamplePadding    *int        `json:"downsample_padding"`
	DownsampleType       *string     `json:"downsample_type"`
	UpsampleType         *string     `json:"upsample_type"`
	Dropout              *float64    `json:"dropout"`
	ActFn                *string     `json:"act_fn"`
	NormNumGroups        *int        `json:"norm_num_groups"`
	NormEps              *float64    `json:"norm_eps"`
	ResnetTimeScaleShift *string     `json:"resnet_time_scale_shift"`
	AddAttention         *bool       `json:"add_attention"`
}

// nullable lists the keys that may be null; a null anywhere else is refused
// rather than silently replaced by the default.
var nullable = map[string]bool{
	"sample_size": true, "attention_head_dim": true, "class_embed_type": true, "num_class_embeds": true,
	"_class_name": true, "_diffusers_version": true,
}

// ParseConfig decodes a diffusers UNet2DModel config.json. Absent keys take
// diffusers' defaults and unknown keys are ignored, as diffusers does. The
// result is validated: unsupported values are refused with an error naming
// the key.
func ParseConfig(data []byte) (Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Config{}, fmt.Errorf("unet: config: %w", err)
	}
	for k, v := range raw {
		if !nullable[k] && bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			if _, known := configKeys[k]; known {
				return Config{}, fmt.Errorf("unet: config: %s: null is not supported", k)
			}
		}
	}
	var j configJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return Config{}, fmt.Errorf("unet: config: %w", err)
	}
	c := DefaultConfig()
	setS := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	setI := func(dst *int, src *int) {
		if src != nil {
			*dst = *src
		}
	}
	setF := func(dst *float64, src *float64) {
		if src != nil {
			*dst = *src
		}
	}
	setB := func(dst *bool, src *bool) {
		if src != nil {
			*dst = *src
		}
	}
	setS(&c.ClassName, j.ClassName)
	setS(&c.DiffusersVersion, j.DiffusersVersion)
	if j.SampleSize != nil {
		c.SampleSize = *j.SampleSize
	}
	setI(&c.InChannels, j.InChannels)
	setI(&c.OutChannels, j.OutChannels)
	setB(&c.CenterInputSample, j.CenterInputSample)
	setS(&c.TimeEmbeddingType, j.TimeEmbeddingType)
	setF(&c.FreqShift, j.FreqShift)
	setB(&c.FlipSinToCos, j.FlipSinToCos)
	if j.DownBlockTypes != nil {
		c.DownBlockTypes = j.DownBlockTypes
	}
	if j.UpBlockTypes != nil {
		c.UpBlockTypes = j.UpBlockTypes
	}
	if j.BlockOutChannels != nil {
		c.BlockOutChannels = j.BlockOutChannels
	}
	setI(&c.LayersPerBlock, j.LayersPerBlock)
	setF(&c.MidBlockScaleFactor, j.MidBlockScaleFactor)
	setI(&c.DownsamplePadding, j.DownsamplePadding)
	setS(&c.DownsampleType, j.DownsampleType)
	setS(&c.UpsampleType, j.UpsampleType)
	setF(&c.Dropout, j.Dropout)
	setS(&c.ActFn, j.ActFn)
	// A JSON null leaves a pointer field nil, like an absent key: read the
	// nullable keys from the raw map instead.
	if v, ok := raw["attention_head_dim"]; ok {
		if isNull(v) {
			c.AttentionHeadDim = nil
		} else {
			var d int
			if err := json.Unmarshal(v, &d); err != nil {
				return Config{}, fmt.Errorf("unet: config: attention_head_dim: want an int or null, got %s", v)
			}
			c.AttentionHeadDim = &d
		}
	}
	setI(&c.NormNumGroups, j.NormNumGroups)
	setF(&c.NormEps, j.NormEps)
	setS(&c.ResnetTimeScaleShift, j.ResnetTimeScaleShift)
	setB(&c.AddAttention, j.AddAttention)
	if v, ok := raw["class_embed_type"]; ok && !isNull(v) {
		var str string
		if err := json.Unmarshal(v, &str); err != nil {
			return Config{}, fmt.Errorf("unet: config: class_embed_type: want a string or null, got %s", v)
		}
		c.ClassEmbedType = &str
	}
	if v, ok := raw["num_class_embeds"]; ok && !isNull(v) {
		var n int
		if err := json.Unmarshal(v, &n); err != nil {
			return Config{}, fmt.Errorf("unet: config: num_class_embeds: want an int or null, got %s", v)
		}
		c.NumClassEmbeds = &n
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func isNull(b []byte) bool { return bytes.Equal(bytes.TrimSpace(b), []byte("null")) }

// configKeys is the set of keys of a UNet2DModel config, from configJSON's
// tags.
var configKeys = func() map[string]struct{} {
	m := map[string]struct{}{}
	b, _ := json.Marshal(DefaultConfig())
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(b, &raw)
	for k := range raw {
		m[k] = struct{}{}
	}
	return m
}()

// MarshalJSON writes the config with diffusers' keys, sorted as diffusers
// sorts them.
func (c Config) MarshalJSON() ([]byte, error) {
	var head any
	if c.AttentionHeadDim != nil {
		head = *c.AttentionHeadDim
	}
	var classType any
	if c.ClassEmbedType != nil {
		classType = *c.ClassEmbedType
	}
	var numClass any
	if c.NumClassEmbeds != nil {
		numClass = *c.NumClassEmbeds
	}
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	blocks := c.BlockOutChannels
	if blocks == nil {
		blocks = []int{}
	}
	// A map marshals with sorted keys.
	m := map[string]any{
		"_class_name":             c.ClassName,
		"_diffusers_version":      c.DiffusersVersion,
		"sample_size":             c.SampleSize,
		"in_channels":             c.InChannels,
		"out_channels":            c.OutChannels,
		"center_input_sample":     c.CenterInputSample,
		"time_embedding_type":     c.TimeEmbeddingType,
		"freq_shift":              c.FreqShift,
		"flip_sin_to_cos":         c.FlipSinToCos,
		"down_block_types":        nonNil(c.DownBlockTypes),
		"up_block_types":          nonNil(c.UpBlockTypes),
		"block_out_channels":      blocks,
		"layers_per_block":        c.LayersPerBlock,
		"mid_block_scale_factor":  c.MidBlockScaleFactor,
		"downsample_padding":      c.DownsamplePadding,
		"downsample_type":         c.DownsampleType,
		"upsample_type":           c.UpsampleType,
		"dropout":                 c.Dropout,
		"act_fn":                  c.ActFn,
		"attention_head_dim":      head,
		"norm_num_groups":         c.NormNumGroups,
		"norm_eps":                c.NormEps,
		"resnet_time_scale_shift": c.ResnetTimeScaleShift,
		"add_attention":           c.AddAttention,
		"class_embed_type":        classType,
		"num_class_embeds":        numClass,
	}
	return json.Marshal(m)
}

// blockKind strips the "UNetRes" prefix that diffusers' get_down_block and
// get_up_block also strip.
func blockKind(s string) string { return strings.TrimPrefix(s, "UNetRes") }

// Validate reports the first unsupported or inconsistent setting, naming its
// key.
func (c Config) Validate() error {
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("unet: config: %s: %s", key, fmt.Sprintf(format, args...))
	}
	if c.ClassName != "" && c.ClassName != ClassName {
		return bad("_class_name", "%q is not supported (want %s)", c.ClassName, ClassName)
	}
	if c.InChannels <= 0 {
		return bad("in_channels", "%d must be positive", c.InChannels)
	}
	if c.OutChannels <= 0 {
		return bad("out_channels", "%d must be positive", c.OutChannels)
	}
	switch c.TimeEmbeddingType {
	case "positional":
	case "fourier":
		return bad("time_embedding_type", `"fourier" (Gaussian Fourier projection) is not supported; use "positional"`)
	default:
		return bad("time_embedding_type", "%q is not supported; use \"positional\"", c.TimeEmbeddingType)
	}
	n := len(c.BlockOutChannels)
	if n == 0 {
		return bad("block_out_channels", "empty")
	}
	for i, ch := range c.BlockOutChannels {
		if ch <= 0 {
			return bad("block_out_channels", "entry %d is %d; channels must be positive", i, ch)
		}
	}
	// Bounds on the sizes, checked before anything is allocated: a config
	// file is outside input, and a huge size would otherwise end in "out of
	// memory" while the UNet is built, before the weights file is compared.
	if n > MaxBlocks {
		return bad("block_out_channels", "%d blocks; at most %d are supported", n, MaxBlocks)
	}
	for i, ch := range c.BlockOutChannels {
		if ch > MaxChannels {
			return bad("block_out_channels", "entry %d is %d; at most %d channels are supported", i, ch, MaxChannels)
		}
	}
	if c.InChannels > MaxChannels {
		return bad("in_channels", "%d; at most %d are supported", c.InChannels, MaxChannels)
	}
	if c.OutChannels > MaxChannels {
		return bad("out_channels", "%d; at most %d are supported", c.OutChannels, MaxChannels)
	}
	if c.LayersPerBlock > MaxLayersPerBlock {
		return bad("layers_per_block", "%d; at most %d are supported", c.LayersPerBlock, MaxLayersPerBlock)
	}
	if len(c.DownBlockTypes) != n {
		return bad("down_block_types", "%d entries for %d block_out_channels", len(c.DownBlockTypes), n)
	}
	if len(c.UpBlockTypes) != n {
		return bad("up_block_types", "%d entries for %d block_out_channels", len(c.UpBlockTypes), n)
	}
	for i, t := range c.DownBlockTypes {
		if k := blockKind(t); k != DownBlock2D && k != AttnDownBlock2D {
			return bad("down_block_types", "entry %d: %q is not supported (want %s or %s)", i, t, DownBlock2D, AttnDownBlock2D)
		}
	}
	for i, t := range c.UpBlockTypes {
		if k := blockKind(t); k != UpBlock2D && k != AttnUpBlock2D {
			return bad("up_block_types", "entry %d: %q is not supported (want %s or %s)", i, t, UpBlock2D, AttnUpBlock2D)
		}
	}
	if c.LayersPerBlock < 1 {
		return bad("layers_per_block", "%d must be at least 1", c.LayersPerBlock)
	}
	if !(c.MidBlockScaleFactor > 0) {
		return bad("mid_block_scale_factor", "%g must be positive", c.MidBlockScaleFactor)
	}
	if c.DownsamplePadding < 0 || c.DownsamplePadding > 1 {
		return bad("downsample_padding", "%d is not supported (want 0 or 1)", c.DownsamplePadding)
	}
	if c.DownsampleType != "conv" {
		return bad("downsample_type", "%q is not supported (want \"conv\")", c.DownsampleType)
	}
	if c.UpsampleType != "conv" {
		return bad("upsample_type", "%q is not supported (want \"conv\")", c.UpsampleType)
	}
	if !(c.Dropout >= 0 && c.Dropout < 1) {
		return bad("dropout", "%g must be in [0, 1)", c.Dropout)
	}
	if c.ActFn != "silu" && c.ActFn != "swish" {
		return bad("act_fn", "%q is not supported (want \"silu\")", c.ActFn)
	}
	if c.AttentionHeadDim != nil && *c.AttentionHeadDim <= 0 {
		return bad("attention_head_dim", "%d must be positive (or null)", *c.AttentionHeadDim)
	}
	if c.NormNumGroups <= 0 {
		return bad("norm_num_groups", "%d must be positive", c.NormNumGroups)
	}
	if !(c.NormEps > 0) {
		return bad("norm_eps", "%g must be positive", c.NormEps)
	}
	switch c.ResnetTimeScaleShift {
	case "default":
	case "scale_shift":
		return bad("resnet_time_scale_shift", `"scale_shift" is not supported (want "default")`)
	default:
		return bad("resnet_time_scale_shift", "%q is not supported (want \"default\")", c.ResnetTimeScaleShift)
	}
	if c.ClassEmbedType != nil {
		return bad("class_embed_type", "%q: class conditioning is not supported (want null)", *c.ClassEmbedType)
	}
	if c.NumClassEmbeds != nil {
		return bad("num_class_embeds", "%d: class conditioning is not supported (want null)", *c.NumClassEmbeds)
	}
	// The layout check finds group counts that do not divide a layer's
	// channels and attention heads that do not fit.
	lay, err := c.layout()
	if err != nil {
		return err
	}
	if n := lay.numParams(c); n > MaxParams {
		return bad("block_out_channels", "the network would have about %d parameters; at most %d are supported", n, MaxParams)
	}
	return nil
}

// Limits of Validate. The reference configuration (101M parameters) has 6
// blocks of up to 512 channels and 2 layers per block.
const (
	MaxBlocks         = 8
	MaxChannels       = 8192
	MaxLayersPerBlock = 16
	MaxParams         = 1 << 30
)

// numParams estimates the parameter count of the layout from its largest
// terms (convolutions, attention projections, time embedding), to bound
// memory before the model is built.
func (l *layoutSpec) numParams(c Config) int64 {
	c0 := int64(c.BlockOutChannels[0])
	temb := 4 * c0
	n := 9*int64(c.InChannels)*c0 + 9*c0*int64(c.OutChannels) + c0*temb + temb*temb
	level := func(lv *levelSpec) {
		for _, r := range lv.resnets {
			in, out := int64(r.in), int64(r.out)
			n += 9*in*out + 9*out*out + temb*out + in*out
		}
		for _, a := range lv.attns {
			ch := int64(a.ch)
			n += 4 * ch * ch
		}
		if lv.resize {
			n += 9 * int64(lv.ch) * int64(lv.ch)
		}
	}
	for i := range l.down {
		level(&l.down[i])
	}
	level(&l.mid)
	for i := range l.up {
		level(&l.up[i])
	}
	return n
}

// SizeMultiple returns the number that Forward's input height and width
// must be multiples of: 2 to the number of downsamplers.
func (c Config) SizeMultiple() int { return 1 << max(len(c.BlockOutChannels)-1, 0) }

// Package features computes a fixed vector of image statistics that
// respond to the degradations of real low-quality images: noise, blur,
// JPEG blocking, spectral fall-off, colour and local structure. Package
// measure compares the distributions of these vectors over real and over
// synthetic images (KID and Fréchet distance, package measure/gap).
//
// # Patches
//
// Images of different sizes are compared fairly by describing each with
// the same number of square crops of the same size (Options: 8 crops of
// 64x64 by default). Crop positions are drawn from an rng stream
// keyed by the seed and the image's name, so they are the same on every
// run, and they are multiples of 8 so that a JPEG block grid anchored at
// the image origin stays aligned in the crop. Before measuring, values are
// clamped to [0, 1] and rounded to 8 bits (as any saved image is), then
// scaled to 0..255 and converted to full-range BT.601 YCbCr as JPEG does
// (Y = 0.299 R + 0.587 G + 0.114 B). One-plane images count as gray.
//
// # The features
//
// Dim values per patch, in this order (Names gives the short names):
//
// Noise (2): Immerkær's fast noise estimate (1996): σ = √(π/2)/(6(W−2)(H−2))
// Σ|I∗N| with N the 3x3 difference of two Laplacians, which cancels
// locally planar signal. On Y (noise_luma) and averaged over Cb and Cr
// (noise_chroma); both as log10(1+σ). Real photographs carry sensor and
// compression noise whose level and colour (luma or chroma) differ from a
// synthetic pipeline's Gaussian or Poisson noise.
//
// Sharpness (3): the variance of the 4-neighbour Laplacian of Y
// (laplacian_var, log10(1+v)) and the mean squared Sobel gradient
// magnitude (gradient_energy, log10(1+v)), which fall with blur and rise
// with noise and over-sharpening; and the blur estimate of Crété-Roffet et
// al. (2007; blur_crete, in [0, 1]): the share of the horizontal or
// vertical variation of Y that a further 9-tap box blur removes (the larger
// of the two directions), which is contrast-invariant and rises with
// blur. A patch without variation counts as fully blurred (1).
//
// JPEG (1): blockiness, the log of the mean absolute difference of Y across
// the boundaries of the 8x8 grid over that inside the blocks, horizontal
// and vertical together: about 0 without blocking, positive with it.
//
// Spectrum (6): the radially averaged power spectrum of Y (mean removed,
// Hann window) in six bands of radial frequency (cycles per pixel):
// [0, 1/16), [1/16, 1/8), [1/8, 1/4), [1/4, 3/8), [3/8, 1/2), [1/2, √2/2],
// DC excluded, each as log10 of the band's share of the mean power. The
// shape of the spectrum (not its level, which std_luma gives) shows the
// high-frequency fall-off of blur and downsampling, the flat floor of
// noise and the missing high band of strong JPEG compression.
//
// Colour (5): mean_luma and std_luma (exposure and contrast); Hasler and
// Süsstrunk's colourfulness (2003) of the opponent channels R−G and
// (R+G)/2−B; the mean HSV saturation (max−min)/max; and chroma_detail,
// log10 of the mean squared gradient of Cb and Cr over that of Y, which
// falls with chroma subsampling and colour bleeding and rises with colour
// noise.
//
// Local statistics (2 x 18): the BRISQUE features of Mittal et al. (2012)
// on Y at full and at half resolution (2x2 averages; suffix _s2).
// MSCN coefficients (Y−μ)/(σ+1), with μ and σ the local mean and standard
// deviation under a 7x7 Gaussian window (σ = 7/6, mirrored edges), follow
// a near-Gaussian law for pristine images that every degradation changes
// in its own way. The features are the shape and variance of a generalised
// Gaussian fitted to the MSCN coefficients (mscn_shape, mscn_var), and the
// shape, mean and left and right variances of an asymmetric generalised
// Gaussian fitted to the products of horizontal, vertical and both
// diagonal neighbours (pair_h_*, pair_v_*, pair_d1_*, pair_d2_*), by
// BRISQUE's moment matching; shapes are solved exactly (bisection) and
// limited to BRISQUE's range [0.2, 10]; a patch without variation gets the
// lower limit.
//
// Logarithms tame the heavy tails of the energy-like features, so that the
// Gaussian model of the Fréchet distance fits them better. Features have
// different units: compare them after z-scoring (gap.Standardize), as
// package measure does.
package features

import (
	"fmt"
	"math/bits"

	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// Dim is the length of a feature vector.
const Dim = len(names)

var names = [...]string{
	"noise_luma", "noise_chroma",
	"laplacian_var", "gradient_energy", "blur_crete",
	"blockiness",
	"spectrum_0", "spectrum_1", "spectrum_2", "spectrum_3", "spectrum_4", "spectrum_5",
	"mean_luma", "std_luma", "colourfulness", "saturation", "chroma_detail",
	"mscn_shape", "mscn_var",
	"pair_h_shape", "pair_h_mean", "pair_h_lvar", "pair_h_rvar",
	"pair_v_shape", "pair_v_mean", "pair_v_lvar", "pair_v_rvar",
	"pair_d1_shape", "pair_d1_mean", "pair_d1_lvar", "pair_d1_rvar",
	"pair_d2_shape", "pair_d2_mean", "pair_d2_lvar", "pair_d2_rvar",
	"mscn_shape_s2", "mscn_var_s2",
	"pair_h_shape_s2", "pair_h_mean_s2", "pair_h_lvar_s2", "pair_h_rvar_s2",
	"pair_v_shape_s2", "pair_v_mean_s2", "pair_v_lvar_s2", "pair_v_rvar_s2",
	"pair_d1_shape_s2", "pair_d1_mean_s2", "pair_d1_lvar_s2", "pair_d1_rvar_s2",
	"pair_d2_shape_s2", "pair_d2_mean_s2", "pair_d2_lvar_s2", "pair_d2_rvar_s2",
}

// Names returns the short names of the features, in vector order.
func Names() []string { return append([]string(nil), names[:]...) }

// Options selects the crops that describe an image.
type Options struct {
	// PatchSize is the side of the square crops: a power of two from 32 to
	// 512. 0 means 64.
	PatchSize int `json:"patch_size" yaml:"patch_size"`
	// Patches is the number of crops per image. 0 means 8.
	Patches int `json:"patches" yaml:"patches"`
	// Seed keys the crop positions, together with the image name.
	Seed uint64 `json:"seed" yaml:"seed"`
}

// WithDefaults returns o with zero fields replaced by their defaults.
func (o Options) WithDefaults() Options {
	if o.PatchSize == 0 {
		o.PatchSize = 64
	}
	if o.Patches == 0 {
		o.Patches = 8
	}
	return o
}

// Validate reports an invalid patch size or count.
func (o Options) Validate() error {
	o = o.WithDefaults()
	if o.PatchSize < 32 || o.PatchSize > 512 || bits.OnesCount(uint(o.PatchSize)) != 1 {
		return fmt.Errorf("features: patch size %d is not a power of two from 32 to 512", o.PatchSize)
	}
	if o.Patches < 1 {
		return fmt.Errorf("features: %d patches per image, want at least 1", o.Patches)
	}
	return nil
}

// Crops returns the top-left corners (y, x) of the crops of an h x w image
// named name: opt.Patches positions, multiples of 8, drawn uniformly (with
// replacement) from the stream keyed by opt.Seed and name. It returns an
// error if the image is smaller than a patch.
func Crops(h, w int, name string, opt Options) ([][2]int, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	opt = opt.WithDefaults()
	s := opt.PatchSize
	if h < s || w < s {
		return nil, fmt.Errorf("features: image %q is %dx%d, smaller than a %dx%d patch", name, w, h, s, s)
	}
	r := rng.New(opt.Seed, "measure/features", "crops", name)
	out := make([][2]int, opt.Patches)
	for i := range out {
		out[i] = [2]int{8 * r.Intn((h-s)/8+1), 8 * r.Intn((w-s)/8+1)}
	}
	return out, nil
}

// Image returns the feature vectors of the crops of img (see Crops). The
// name keys the crop positions, so an image keeps its crops whatever else
// is measured with it. img must have 1 or 3 planes.
func Image(img *raster.Image, name string, opt Options) ([][]float64, error) {
	if img.C != 1 && img.C != 3 {
		return nil, fmt.Errorf("features: image %q has %d planes, want 1 or 3", name, img.C)
	}
	crops, err := Crops(img.H, img.W, name, opt)
	if err != nil {
		return nil, err
	}
	s := opt.WithDefaults().PatchSize
	out := make([][]float64, len(crops))
	parallel.For(len(crops), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = patchAt(img, crops[i][0], crops[i][1], s)
		}
	})
	return out, nil
}

// Patch returns the feature vector of a whole image, which must be square
// with a power-of-two side from 32 to 512 and have 1 or 3 planes (a crop,
// typically); it panics otherwise.
func Patch(p *raster.Image) []float64 {
	if p.H != p.W || p.H < 32 || p.H > 512 || bits.OnesCount(uint(p.H)) != 1 || (p.C != 1 && p.C != 3) {
		panic(fmt.Sprintf("features.Patch: %dx%dx%d image, want 1 or 3 planes, square, power-of-two side 32..512", p.C, p.H, p.W))
	}
	return patchAt(p, 0, 0, p.H)
}

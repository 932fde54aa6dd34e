// Command pairblur measures which isotropic Gaussian blur, applied to the HR
// image before MATLAB's antialiased bicubic downscaling, best explains the
// LR images of a folder of real pairs (RealSR's cameras, for example).
//
// It is a check of degradiff calibrate, which fits the blur from unpaired
// LR images alone: the blur sigmas it fits should fall where the real pairs
// put them. For each sigma it prints the mean Y-channel PSNR between the
// degraded HR image and the real LR image (border of the scale cropped,
// BasicSR's convention), then the quartiles of the best sigma per pair.
//
// It also checks how much of the misfit at one sigma (--tone-sigma) is
// global tone: each pair's mean offset and least-squares contrast gain
// between the real LR image and the degraded HR image. The offset does
// not depend on the blur; the gain does (a wider blur lowers the degraded
// image's contrast), so compare gains at several sigmas before reading one
// as a tone curve.
//
// With --max-shift it sweeps again with each pair's degraded image shifted
// by whole HR pixels to where it fits best: a least-squares blur fit
// absorbs misregistration, so a wider best sigma without the shifts would
// be the registration's, not the lens's.
//
// With --kernel it fits a free linear filter (LR pixels, least squares over
// all pairs) from the HR images downscaled without blur to the real LR
// images, and prints its frequency response beside the filter that gives a
// Gaussian blur (--kernel-ref) and, with --degrade, beside the filter
// fitted to each degradation's first LR variants: which frequencies the
// cameras keep, boost or lose, whatever the shape of their blur, and
// which a degradation keeps.
//
// With --linear-sr it fits the simplest restorer each source can train, a
// linear x4 upscaler (an LR neighbourhood per HR phase, least squares on
// the luma), to the real LR images and to each degradation's LR images of
// the same HR images, and prints how well each restores the real LR images:
// a stand-in, in a minute, for the hour-long SR training of the bench.
//
// With --degrade it also degrades each HR image with degradation presets or
// config files (draws variants each, as degradiff degrade would) and prints
// the mean Y-PSNR of their LR images against the real ones, plain and after
// a Gaussian low-pass of sigma 1.5 LR pixels that ignores noise and
// compression: how well each degradation's blur and resizing match the
// cameras'.
//
//	go run ./bench/pairblur --pairs ../shared/data/real_pairs/RealSR_V3 \
//	    --exclude 'Canon_04[1-9]*,Canon_050*,Nikon_04[1-9]*,Nikon_050*' \
//	    --degrade bicubic,official,CAL/config.yaml
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/degrade/blur"
	"github.com/degradiff/degradiff/degrade/resize"
	"github.com/degradiff/degradiff/measure/fidelity"
	"github.com/degradiff/degradiff/measure/response"
	"github.com/degradiff/degradiff/pairset/pairread"
	"github.com/degradiff/degradiff/raster"
)

func main() {
	pairs := flag.String("pairs", "", "paired folder (HR/ and LR/, or meta_info.txt)")
	include := flag.String("include", "", "comma-separated globs of HR names to keep")
	exclude := flag.String("exclude", "", "comma-separated globs of HR names to leave out")
	scale := flag.Int("scale", 4, "HR size over LR size")
	sigmaList := flag.String("sigmas", "0,0.4,0.6,0.8,1,1.2,1.5,1.75,2,2.5,3", "Gaussian sigmas to try, in HR pixels (0: no blur)")
	degradeList := flag.String("degrade", "", "comma-separated degradation presets or config files to compare with the real LR images")
	draws := flag.Int("draws", 4, "LR variants per HR image and degradation (1..64)")
	seed := flag.Uint64("seed", 1, "seed of the degradations")
	toneSigma := flag.Float64("tone-sigma", 1.75, "blur sigma (HR px) of the tone check: how much of the misfit is a brightness offset or contrast gain per image (negative: no check)")
	maxShift := flag.Int("max-shift", 0, "also sweep with each pair's degraded image shifted by up to this many whole HR pixels each way, to where it fits best (0: no aligned sweep; at most 8)")
	kernelSize := flag.Int("kernel", 0, "also fit a free linear filter of this odd size (LR px) from the HR images downscaled without blur to the real LR images, and print its frequency response next to that of the filter giving --kernel-ref blur (0: no fit; at most 15)")
	kernelRef := flag.Float64("kernel-ref", 1.75, "Gaussian sigma (HR px) of the reference for --kernel")
	linearSize := flag.Int("linear-sr", 0, "also fit a linear upscaler with this odd LR neighbourhood to the real LR images and to each --degrade's, and print each one's Y-PSNR on the real LR images (0: none; at most 9)")
	flag.Parse()
	if err := run(*pairs, *include, *exclude, *scale, *sigmaList, *degradeList, *draws, *seed, *toneSigma, *maxShift, *kernelSize, *kernelRef, *linearSize); err != nil {
		fmt.Fprintln(os.Stderr, "pairblur:", err)
		os.Exit(1)
	}
}

func run(dir, include, exclude string, scale int, sigmaList, degradeList string, draws int, seed uint64, toneSigma float64, maxShift, kernelSize int, kernelRef float64, linearSize int) error {
	if dir == "" {
		return fmt.Errorf("--pairs is required")
	}
	if scale < 1 || scale > 8 {
		return fmt.Errorf("--scale %d is outside 1..8", scale)
	}
	if draws < 1 || draws > 64 {
		return fmt.Errorf("--draws %d is outside 1..64", draws)
	}
	if maxShift < 0 || maxShift > 8 {
		return fmt.Errorf("--max-shift %d is outside 0..8", maxShift)
	}
	if kernelSize < 0 || kernelSize > 15 || kernelSize > 0 && kernelSize%2 == 0 {
		return fmt.Errorf("--kernel %d is not an odd size in 1..15 (or 0)", kernelSize)
	}
	if linearSize < 0 || linearSize > 9 || linearSize > 0 && linearSize%2 == 0 {
		return fmt.Errorf("--linear-sr %d is not an odd size in 1..9 (or 0)", linearSize)
	}
	if !(kernelRef >= 0 && kernelRef <= 20) {
		return fmt.Errorf("--kernel-ref: %v is not a sigma in [0, 20]", kernelRef)
	}
	var pipes []degrade.Pipeline
	var pipeNames []string
	for _, d := range strings.Split(degradeList, ",") {
		if d = strings.TrimSpace(d); d == "" {
			continue
		}
		var c degrade.Config
		var err error
		if _, statErr := os.Stat(d); statErr == nil {
			c, err = degrade.Load("", d)
		} else {
			c, err = degrade.LoadPreset(d)
		}
		if err != nil {
			return fmt.Errorf("--degrade %s: %w", d, err)
		}
		if c.Scale != scale || c.ResizeBack {
			return fmt.Errorf("--degrade %s: scale %d (resize back %v), want %d without resizing back", d, c.Scale, c.ResizeBack, scale)
		}
		p, err := degrade.New(c)
		if err != nil {
			return fmt.Errorf("--degrade %s: %w", d, err)
		}
		pipes, pipeNames = append(pipes, p), append(pipeNames, d)
	}
	sigmas, err := parseSigmas(sigmaList)
	if err != nil {
		return err
	}
	opt := pairread.Options{Scale: scale}
	if opt.Include, err = pairread.ParseGlobs(include); err != nil {
		return fmt.Errorf("--include: %w", err)
	}
	if opt.Exclude, err = pairread.ParseGlobs(exclude); err != nil {
		return fmt.Errorf("--exclude: %w", err)
	}
	set, err := pairread.OpenWith(dir, opt)
	if err != nil {
		return err
	}
	if set.Len() == 0 {
		return fmt.Errorf("--pairs %s: no pair selected", dir)
	}
	if !(toneSigma <= 20) {
		return fmt.Errorf("--tone-sigma: %v is not a sigma up to 20", toneSigma)
	}
	res, err := measure(set, sigmas, pipes, pipeNames, draws, seed, toneSigma, maxShift, kernelSize, kernelRef)
	if err != nil {
		return err
	}
	fmt.Printf("%d pairs of %s, x%d\n\nsigma (HR px)  mean Y-PSNR of blur+bicubic against the real LR (dB), plain and after a low-pass of sigma 1.5 LR px\n", set.Len(), dir, scale)
	for _, f := range res.Sigmas {
		fmt.Printf("%13.2f  %.2f  %.2f\n", f.Sigma, f.PSNR, f.LowPSNR)
	}
	best := res.BestSigmas
	q := func(f float64) float64 { return best[int(f*float64(len(best)-1)+0.5)] }
	fmt.Printf("\nbest sigma per pair: min %.2f, quartiles %.2f / %.2f / %.2f, max %.2f\n", best[0], q(0.25), q(0.5), q(0.75), best[len(best)-1])
	if t := res.Tone; t != nil {
		fmt.Printf("\ntone at sigma %.2f: real minus degraded mean Y %+.2f grey levels (sd over pairs %.2f, mean absolute %.2f; R %+.2f, G %+.2f, B %+.2f), gain %.3f\n",
			t.Sigma, t.Offset, t.OffsetSD, t.AbsOffset, t.ChannelOffset[0], t.ChannelOffset[1], t.ChannelOffset[2], t.Gain)
		fmt.Printf("Y-PSNR %.2f dB; %.2f after removing each pair's offset; %.2f after each pair's gain and offset\n", t.PSNR, t.Shifted, t.Linear)
	}
	if a := res.Aligned; a != nil {
		fmt.Printf("\naligned: each pair's degraded image shifted by up to %d HR px each way (border of %d HR px left out)\nsigma (HR px)  mean Y-PSNR at each pair's best shift, plain and low-passed\n", a.MaxShift, a.margin(scale))
		for _, f := range a.Sigmas {
			fmt.Printf("%13.2f  %.2f  %.2f\n", f.Sigma, f.PSNR, f.LowPSNR)
		}
		b := a.BestSigmas
		q := func(f float64) float64 { return b[int(f*float64(len(b)-1)+0.5)] }
		fmt.Printf("best sigma per pair, aligned: min %.2f, quartiles %.2f / %.2f / %.2f, max %.2f\n", b[0], q(0.25), q(0.5), q(0.75), b[len(b)-1])
		fmt.Printf("best shift (dx, dy HR px) per pair: %d of %d unshifted;", a.Unshifted, len(a.Shifts))
		for i, s := range a.Shifts {
			fmt.Printf(" %s (%d,%d)", set.Pairs[i].Name, s[0], s[1])
		}
		fmt.Println()
	}
	if k, ref := res.Kernel, res.KernelRef; k != nil {
		fmt.Printf("\nfree %dx%d filter (LR px) on the HR images downscaled without blur: Y-PSNR %.2f dB against the real LR (%.2f unfiltered), offset %+.2f grey levels\n", k.Size, k.Size, k.PSNR, k.Plain, 255*k.Offset)
		fmt.Printf("the same fitted to Gaussian blur sigma %.2f HR px: Y-PSNR %.2f (%.2f unfiltered)\n", kernelRef, ref.PSNR, ref.Plain)
		for j, d := range res.KernelDegradations {
			fmt.Printf("the same fitted to %s (first variant, column %d): Y-PSNR %.2f (%.2f unfiltered); response distance from the real %.3f\n", res.Degradations[j].Name, j+1, d.PSNR, d.Plain, response.Distance(d.Filter, k.Filter))
		}
		fmt.Printf("frequency (cycles/LR px)  gain real  gain sigma %.2f", kernelRef)
		for j := range res.KernelDegradations {
			fmt.Printf("  gain %d", j+1)
		}
		fmt.Println()
		for f := 0.0; f <= 0.5001; f += 0.05 {
			fmt.Printf("%24.2f  %9.3f  %15.3f", f, k.Gain(f), ref.Gain(f))
			for _, d := range res.KernelDegradations {
				fmt.Printf("  %6.3f", d.Gain(f))
			}
			fmt.Println()
		}
		fmt.Printf("real filter, rows:\n")
		for y := 0; y < k.Size; y++ {
			for x := 0; x < k.Size; x++ {
				fmt.Printf(" %+.4f", k.Weights[y*k.Size+x])
			}
			fmt.Println()
		}
	}
	if len(pipes) > 0 {
		fmt.Printf("\n%d LR variants per HR image, seed %d; mean Y-PSNR against the real LR (dB), plain and after a low-pass of sigma 1.5 LR px\n", draws, seed)
		for _, f := range res.Degradations {
			fmt.Printf("%-40s  %.2f  %.2f\n", f.Name, f.PSNR, f.LowPSNR)
		}
	}
	if linearSize > 0 {
		psnr, err := linearSR(set, pipes, pipeNames, draws, seed, linearSize)
		if err != nil {
			return err
		}
		fmt.Printf("\nlinear x%d upscaler (%dx%d LR neighbourhood per HR phase, least squares on the luma) trained on each source, Y-PSNR on the real LR images against the HR images (dB)\n", scale, linearSize, linearSize)
		fmt.Printf("%-40s  %.2f\n", "real LR (fitted on these pairs)", psnr[0])
		for j, n := range pipeNames {
			fmt.Printf("%-40s  %.2f\n", n, psnr[j+1])
		}
	}
	return nil
}

// fit is how well one degradation explains the pairs: the mean Y-PSNR
// of its LR images against the real ones, plain and low-passed.
type fit struct {
	Name          string
	Sigma         float64 // of the blur+bicubic sweep
	PSNR, LowPSNR float64
}

// results holds the blur sweep (one fit per sigma), the best sigma of
// each pair (sorted) and one fit per degradation.
type results struct {
	Sigmas       []fit
	BestSigmas   []float64
	Degradations []fit
	// Tone is the tone check (nil without one).
	Tone *toneFit
	// Aligned is the sweep with shifts (nil without one).
	Aligned *alignFit
	// Kernel is the free filter fitted to the real LR images, KernelRef
	// the one fitted to the reference blur (nil without a fit), and
	// KernelDegradations those fitted to each degradation's first LR
	// variants: the frequency response of each degradation beside the
	// cameras'.
	Kernel, KernelRef  *kernelFit
	KernelDegradations []*kernelFit
}

// lowPassSigma is the Gaussian, in LR pixels, that removes noise and
// compression before the low-pass comparison (diagnose's default).
const lowPassSigma = 1.5

// measure compares the real LR image of every pair of set with its HR
// image blurred by each sigma and downscaled (MATLAB bicubic), and with
// draws LR variants of each degradation pipeline.
func measure(set *pairread.Set, sigmas []float64, pipes []degrade.Pipeline, names []string, draws int, seed uint64, toneSigma float64, maxShift, kernelSize int, kernelRef float64) (*results, error) {
	scale := set.Scale
	fo := fidelity.Options{CropBorder: scale, TestY: true}
	lowPass := blur.LowPass(lowPassSigma)
	res := &results{Sigmas: make([]fit, len(sigmas)), Degradations: make([]fit, len(pipes))}
	for j, s := range sigmas {
		res.Sigmas[j].Sigma = s
	}
	for j := range pipes {
		res.Degradations[j].Name = names[j]
	}
	if toneSigma >= 0 {
		res.Tone = &toneFit{Sigma: toneSigma}
	}
	if maxShift > 0 {
		res.Aligned = newAlignFit(maxShift, sigmas)
	}
	n := float64(set.Len())
	var down, reals, refs []*raster.Image // for the kernel fit
	degraded := make([][]*raster.Image, len(pipes))
	// add accumulates into f the PSNRs of lq against the real image.
	add := func(f *fit, lq, lr, lrLow *raster.Image, weight float64) float64 {
		p := fidelity.PSNR(lq, lr, fo)
		f.PSNR += p * weight
		f.LowPSNR += fidelity.PSNR(blur.Filter2D(lq, lowPass), lrLow, fo) * weight
		return p
	}
	for i := 0; i < set.Len(); i++ {
		pair := set.Pairs[i]
		hr, lr, err := set.Load(i)
		if err != nil {
			return nil, err
		}
		lrLow := blur.Filter2D(lr, lowPass)
		bestSigma, bestPSNR := 0.0, math.Inf(-1)
		var toneLQ *raster.Image
		for j, s := range sigmas {
			lq := blurDown(hr, s, scale)
			if p := add(&res.Sigmas[j], lq, lr, lrLow, 1/n); p > bestPSNR {
				bestSigma, bestPSNR = s, p
			}
			if res.Tone != nil && s == res.Tone.Sigma {
				toneLQ = lq
			}
		}
		res.BestSigmas = append(res.BestSigmas, bestSigma)
		if kernelSize > 0 {
			down, reals, refs = append(down, blurDown(hr, 0, scale)), append(reals, lr), append(refs, blurDown(hr, kernelRef, scale))
		}
		if a := res.Aligned; a != nil {
			if 2*a.margin(scale) >= min(hr.H, hr.W)-2*scale {
				return nil, fmt.Errorf("%s: %dx%d is too small for --max-shift %d", pair.HRPath, hr.W, hr.H, maxShift)
			}
			a.add(hr, lr, lrLow, scale, lowPass, 1/n)
		}
		if t := res.Tone; t != nil {
			if toneLQ == nil {
				toneLQ = blurDown(hr, t.Sigma, scale)
			}
			t.add(toneLQ, lr, scale)
		}
		for j, p := range pipes {
			err := eachVariant(p, hr, seed, pair.Name, draws, func(k int, lq *raster.Image) error {
				if !raster.SameSize(lq, lr) {
					return fmt.Errorf("made a %dx%d LR image, the real one is %dx%d", lq.W, lq.H, lr.W, lr.H)
				}
				add(&res.Degradations[j], lq, lr, lrLow, 1/(n*float64(draws)))
				if kernelSize > 0 && k == 0 {
					degraded[j] = append(degraded[j], lq)
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", pair.HRPath, names[j], err)
			}
		}
	}
	sort.Float64s(res.BestSigmas)
	if res.Tone != nil {
		res.Tone.finish()
	}
	if res.Aligned != nil {
		res.Aligned.finish()
	}
	if kernelSize > 0 {
		fits, err := fitKernels(kernelSize, scale, down, append([][]*raster.Image{reals, refs}, degraded...)...)
		if err != nil {
			return nil, err
		}
		res.Kernel, res.KernelRef, res.KernelDegradations = fits[0], fits[1], fits[2:]
	}
	return res, nil
}

// eachVariant calls fn with the first draws LR variants of hr degraded by
// p (seed, name: as degradiff degrade draws them).
func eachVariant(p degrade.Pipeline, hr *raster.Image, seed uint64, name string, draws int, fn func(k int, lq *raster.Image) error) error {
	it, err := degrade.Prepare(p, hr, seed, name)
	if err != nil {
		return err
	}
	for k := 0; k < draws; k++ {
		lq, _, err := it.Variant(k)
		if err != nil {
			return err
		}
		if err := fn(k, lq); err != nil {
			return err
		}
	}
	return nil
}

// blurDown blurs hr with a Gaussian of sigma s (none for 0) and
// downscales it by scale with MATLAB's antialiased bicubic, rounded to 8
// bits: the LR image the sweep compares with the real one.
func blurDown(hr *raster.Image, s float64, scale int) *raster.Image {
	if s > 0 {
		// A kernel of about 4 sigma on each side keeps the tails.
		hr = blur.Filter2D(hr, blur.FspecialGaussian(2*int(4*s+0.5)+1, s))
	}
	return resize.Imresize(hr, 1/float64(scale), true).Round()
}

func parseSigmas(list string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(list, ",") {
		s, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || s < 0 || s > 20 || s != s {
			return nil, fmt.Errorf("--sigmas: %q is not a sigma in [0, 20]", f)
		}
		out = append(out, s)
	}
	return out, nil
}

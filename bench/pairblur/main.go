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
	flag.Parse()
	if err := run(*pairs, *include, *exclude, *scale, *sigmaList, *degradeList, *draws, *seed, *toneSigma); err != nil {
		fmt.Fprintln(os.Stderr, "pairblur:", err)
		os.Exit(1)
	}
}

func run(dir, include, exclude string, scale int, sigmaList, degradeList string, draws int, seed uint64, toneSigma float64) error {
	if dir == "" {
		return fmt.Errorf("--pairs is required")
	}
	if scale < 1 || scale > 8 {
		return fmt.Errorf("--scale %d is outside 1..8", scale)
	}
	if draws < 1 || draws > 64 {
		return fmt.Errorf("--draws %d is outside 1..64", draws)
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
	res, err := measure(set, sigmas, pipes, pipeNames, draws, seed, toneSigma)
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
	if len(pipes) > 0 {
		fmt.Printf("\n%d LR variants per HR image, seed %d; mean Y-PSNR against the real LR (dB), plain and after a low-pass of sigma 1.5 LR px\n", draws, seed)
		for _, f := range res.Degradations {
			fmt.Printf("%-40s  %.2f  %.2f\n", f.Name, f.PSNR, f.LowPSNR)
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
}

// lowPassSigma is the Gaussian, in LR pixels, that removes noise and
// compression before the low-pass comparison (diagnose's default).
const lowPassSigma = 1.5

// measure compares the real LR image of every pair of set with its HR
// image blurred by each sigma and downscaled (MATLAB bicubic), and with
// draws LR variants of each degradation pipeline.
func measure(set *pairread.Set, sigmas []float64, pipes []degrade.Pipeline, names []string, draws int, seed uint64, toneSigma float64) (*results, error) {
	scale := set.Scale
	fo := fidelity.Options{CropBorder: scale, TestY: true}
	lowPass := blur.Gaussian(2*int(math.Ceil(3*lowPassSigma))+1, lowPassSigma, lowPassSigma, 0, true)
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
	n := float64(set.Len())
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
		if t := res.Tone; t != nil {
			if toneLQ == nil {
				toneLQ = blurDown(hr, t.Sigma, scale)
			}
			t.add(toneLQ, lr, scale)
		}
		for j, p := range pipes {
			it, err := degrade.Prepare(p, hr, seed, pair.Name)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", pair.HRPath, err)
			}
			for k := 0; k < draws; k++ {
				lq, _, err := it.Variant(k)
				if err != nil {
					return nil, fmt.Errorf("%s: %s: %w", pair.HRPath, names[j], err)
				}
				if !raster.SameSize(lq, lr) {
					return nil, fmt.Errorf("%s: %s made a %dx%d LR image, the real one is %dx%d", pair.HRPath, names[j], lq.W, lq.H, lr.W, lr.H)
				}
				add(&res.Degradations[j], lq, lr, lrLow, 1/(n*float64(draws)))
			}
		}
	}
	sort.Float64s(res.BestSigmas)
	if res.Tone != nil {
		res.Tone.finish()
	}
	return res, nil
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

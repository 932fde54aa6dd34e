// Package c2st runs a classifier two-sample test (Lopez-Paz and Oquab,
// "Revisiting classifier two-sample tests", ICLR 2017) between two sets of
// images, for example real and synthetic low-quality images: a small
// convolutional network learns to tell patches of one set from patches of
// the other on half of the images and is scored on the other half. A test
// accuracy of 0.5 means the sets cannot be told apart; 1 means they
// always can.
//
// # Procedure
//
// Cut takes Options.Patches square crops of Options.PatchSize pixels from
// an image, at positions that are multiples of 8 (keeping the JPEG grid)
// drawn from a stream keyed by the seed and the image name, rounded to 8
// bits as a saved image is. Run then repeats Options.Splits times, each
// with its own random stream:
//
//  1. draw n = min(#real, #synthetic) images of each set (all of the
//     smaller one) and split each set's n images into a training half
//     (⌊n/2⌋) and a test half, by image, so that patches of one image are
//     never on both sides;
//  2. train a fresh network with binary cross-entropy and AdamW for
//     Options.Steps steps on shuffled mini-batches of the training
//     patches, with random horizontal and vertical flips. The network
//     sees the high-pass residual of each patch (the patch minus its 3x3
//     mean, as the fixed first layers of forensic networks compute), so
//     that it judges degradations (noise, blur, ringing, blocking) rather
//     than scene content and colour, which differ between any two photo
//     collections; then 3x3 convolutions of Width, 2·Width and 2·Width
//     channels (the last two with stride 2) with leaky ReLUs, global
//     average pooling and a linear logit;
//  3. score the test patches: the balanced accuracy, the mean of the two
//     classes' accuracies, so that 0.5 is chance whatever the counts.
//
// # Confidence interval
//
// The splits share images, so their accuracies are not independent and
// the naive interval mean ± t·sd/√R is too narrow. Run uses the corrected
// resampled t statistic of Nadeau and Bengio (2003, "Inference for the
// generalization error"): the variance of the mean is taken as
// (1/R + n_test/n_train)·s², where s² is the sample variance of the R
// split accuracies, and the interval is
// mean ± t_{R−1}·√((1/R + n_test/n_train)·s²) with Student's t quantile at
// Options.Confidence, clipped to [0, 1]. PValue is the one-sided p-value
// of the same statistic against the null accuracy 0.5. With few splits
// the interval is wide; it reflects the variation due to the choice of
// images and to training, not only the finite test set.
//
// # Reading the accuracy
//
// The test asks whether the two finite sets differ, not only their
// degradations: residuals still carry texture, so two collections of
// different subjects (faces and landscapes, say) are told apart somewhat
// even with identical degradations. Compare synthetic images made from
// sources that resemble the real set. With a dozen training images per
// set the network may fit content instead of a subtle degradation in some
// splits; the interval widens accordingly. In the tests, 24 generated
// images per set give 0.95-0.99 for Gaussian noise of σ = 20/255 or blur
// of σ = 1.5, and 0.51-0.52 for two samples of one distribution.
//
// Results depend only on the inputs, the options and the seed, not on the
// number of goroutines.
package c2st

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// Options configures the test. Zero fields take the defaults given.
type Options struct {
	// PatchSize is the side of the square patches: a multiple of 8 from 16
	// to 256. Default 32.
	PatchSize int `json:"patch_size" yaml:"patch_size"`
	// Patches is the number of patches cut from each image. Default 16.
	Patches int `json:"patches" yaml:"patches"`
	// Splits is the number of random train/test splits (at least 2).
	// Default 5.
	Splits int `json:"splits" yaml:"splits"`
	// Steps is the number of optimisation steps per split; the training
	// patches are reshuffled after each pass. A fixed step budget keeps the
	// run time independent of the number of images. Default 300.
	Steps int `json:"steps" yaml:"steps"`
	// BatchSize is the number of patches per optimisation step. Default 32.
	BatchSize int `json:"batch_size" yaml:"batch_size"`
	// LR is the AdamW learning rate. Default 5e-3.
	LR float64 `json:"lr" yaml:"lr"`
	// Width is the number of channels of the first convolution. Default 8.
	Width int `json:"width" yaml:"width"`
	// Confidence is the level of the interval, in (0, 1). Default 0.95.
	Confidence float64 `json:"confidence" yaml:"confidence"`
	// Seed keys the patch positions, splits, initialisation and batches.
	Seed uint64 `json:"seed" yaml:"seed"`
	// Progress, if not nil, is called after each split with the number
	// of splits done and their total, from one goroutine at a time.
	Progress func(done, total int) `json:"-" yaml:"-"`
}

// WithDefaults returns o with zero fields replaced by their defaults.
func (o Options) WithDefaults() Options {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.PatchSize, 32)
	def(&o.Patches, 16)
	def(&o.Splits, 5)
	def(&o.Steps, 300)
	def(&o.BatchSize, 32)
	def(&o.Width, 8)
	if o.LR == 0 {
		o.LR = 5e-3
	}
	if o.Confidence == 0 {
		o.Confidence = 0.95
	}
	return o
}

// Validate reports the first invalid option.
func (o Options) Validate() error {
	o = o.WithDefaults()
	switch {
	case o.PatchSize < 16 || o.PatchSize > 256 || o.PatchSize%8 != 0:
		return fmt.Errorf("c2st: patch size %d is not a multiple of 8 from 16 to 256", o.PatchSize)
	case o.Patches < 1:
		return fmt.Errorf("c2st: %d patches per image, want at least 1", o.Patches)
	case o.Splits < 2:
		return fmt.Errorf("c2st: %d splits, want at least 2 for an interval", o.Splits)
	case o.Steps < 1 || o.BatchSize < 1 || o.Width < 1:
		return fmt.Errorf("c2st: steps %d, batch size %d and width %d must be positive", o.Steps, o.BatchSize, o.Width)
	case !(o.LR > 0):
		return fmt.Errorf("c2st: learning rate %v must be positive", o.LR)
	case !(o.Confidence > 0 && o.Confidence < 1):
		return fmt.Errorf("c2st: confidence %v must be in (0, 1)", o.Confidence)
	}
	return nil
}

// Group holds the patches cut from one image, each PatchSize² values of
// R, then G, then B, in [0, 1]. A split never divides a group.
type Group [][]float32

// ErrTooFew reports sets too small to split.
var ErrTooFew = errors.New("c2st: too few images")

// Cut returns the patches of img (1 or 3 planes; gray is repeated on the
// three planes) at positions drawn from the stream keyed by opt.Seed and
// name. It returns an error if the image is smaller than a patch.
func Cut(img *raster.Image, name string, opt Options) (Group, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	opt = opt.WithDefaults()
	s := opt.PatchSize
	if img.C != 1 && img.C != 3 {
		return nil, fmt.Errorf("c2st: image %q has %d planes, want 1 or 3", name, img.C)
	}
	if img.H < s || img.W < s {
		return nil, fmt.Errorf("c2st: image %q is %dx%d, smaller than a %dx%d patch", name, img.W, img.H, s, s)
	}
	r := rng.New(opt.Seed, "measure/c2st", "crops", name)
	g := make(Group, opt.Patches)
	n := img.H * img.W
	for i := range g {
		y0, x0 := 8*r.Intn((img.H-s)/8+1), 8*r.Intn((img.W-s)/8+1)
		p := make([]float32, 3*s*s)
		for c := 0; c < 3; c++ {
			src := img.Pix[min(c, img.C-1)*n:]
			for y := 0; y < s; y++ {
				row := src[(y0+y)*img.W+x0 : (y0+y)*img.W+x0+s]
				dst := p[(c*s+y)*s : (c*s+y+1)*s]
				for x, v := range row {
					dst[x] = level(v)
				}
			}
		}
		g[i] = p
	}
	return g, nil
}

// level returns v clamped to [0, 1] and rounded to a multiple of 1/255
// (half to even, the product by 255 in float32).
func level(v float32) float32 { return float32(raster.To8(v)) / 255 }

// Result is the outcome of Run.
type Result struct {
	// Accuracy is the mean balanced test accuracy over the splits.
	Accuracy float64 `json:"accuracy"`
	// CILow and CIHigh bound the interval at level Confidence.
	CILow      float64 `json:"ci_low"`
	CIHigh     float64 `json:"ci_high"`
	Confidence float64 `json:"confidence"`
	// StdDev is the sample standard deviation of the split accuracies.
	StdDev float64 `json:"std_dev"`
	// PValue is the one-sided p-value against accuracy 0.5.
	PValue float64 `json:"p_value"`
	// SplitAccuracies holds each split's balanced test accuracy.
	SplitAccuracies []float64 `json:"split_accuracies"`
	// ImagesPerSet is the number of images of each set used in a split;
	// TrainImages of them train the network.
	ImagesPerSet int `json:"images_per_set"`
	TrainImages  int `json:"train_images"`
	// TrainLoss is the mean training loss over the last quarter of the
	// steps, averaged over the splits (about 0.69 when the network learns
	// nothing).
	TrainLoss float64 `json:"train_loss"`
}

// Run performs the test between the patch groups of two sets of images
// (typically real and synthetic). Every patch must have 3·PatchSize² values;
// each set needs at least 2 groups.
func Run(real, synth []Group, opt Options) (Result, error) {
	if err := opt.Validate(); err != nil {
		return Result{}, err
	}
	opt = opt.WithDefaults()
	n := min(len(real), len(synth))
	if n < 2 {
		return Result{}, fmt.Errorf("%w: %d and %d images, need 2 per set", ErrTooFew, len(real), len(synth))
	}
	want := 3 * opt.PatchSize * opt.PatchSize
	for _, set := range [][]Group{real, synth} {
		for i, g := range set {
			if len(g) == 0 {
				return Result{}, fmt.Errorf("c2st: image %d has no patches", i)
			}
			for _, p := range g {
				if len(p) != want {
					return Result{}, fmt.Errorf("c2st: image %d has a patch of %d values, want %d (patch size %d)", i, len(p), want, opt.PatchSize)
				}
			}
		}
	}
	// The network inputs of every patch, computed once for all splits.
	in := [2][][][]float32{prepareSet(real, opt.PatchSize), prepareSet(synth, opt.PatchSize)}
	nTrain := n / 2
	res := Result{Confidence: opt.Confidence, ImagesPerSet: n, TrainImages: nTrain}
	res.SplitAccuracies = make([]float64, opt.Splits)
	losses := make([]float64, opt.Splits)
	errs := make([]error, opt.Splits)
	var mu sync.Mutex
	done := 0
	// Splits are independent: run them concurrently (the small
	// convolutions of one split do not keep the cores busy). Each writes
	// only its own entries.
	parallel.For(opt.Splits, 1, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			res.SplitAccuracies[k], losses[k], errs[k] = split(k, in, n, nTrain, opt)
			if opt.Progress != nil {
				mu.Lock()
				done++
				opt.Progress(done, opt.Splits)
				mu.Unlock()
			}
		}
	})
	for k, err := range errs {
		if err != nil {
			return Result{}, err
		}
		res.TrainLoss += losses[k] / float64(opt.Splits)
	}
	summarise(&res, float64(n-nTrain)/float64(nTrain))
	return res, nil
}

// prepareSet returns the network inputs of the patches of every group.
func prepareSet(set []Group, s int) [][][]float32 {
	out := make([][][]float32, len(set))
	parallel.For(len(set), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = make([][]float32, len(set[i]))
			for j, p := range set[i] {
				out[i][j] = prepare(p, s)
			}
		}
	})
	return out
}

// split runs split k: it draws n images of each set, trains on the first
// nTrain of each and returns the balanced test accuracy on the others and
// the final training loss.
func split(k int, in [2][][][]float32, n, nTrain int, opt Options) (acc, loss float64, err error) {
	s := rng.New(opt.Seed, "measure/c2st", "split", fmt.Sprint(k))
	pr := s.Perm(len(in[0]))[:n]
	ps := s.Perm(len(in[1]))[:n]
	var train, test dataset
	for i := 0; i < n; i++ {
		d := &test
		if i < nTrain {
			d = &train
		}
		d.add(in[0][pr[i]], 0)
		d.add(in[1][ps[i]], 1)
	}
	net := newNet(opt.Width, s.Derive("init"))
	if loss, err = net.train(&train, opt, s.Derive("train")); err != nil {
		return 0, 0, err
	}
	return net.balancedAccuracy(&test, opt), loss, nil
}

// summarise fills the mean, interval and p-value of res from its split
// accuracies; ratio is n_test/n_train.
func summarise(res *Result, ratio float64) {
	acc := res.SplitAccuracies
	r := float64(len(acc))
	mean := 0.0
	for _, a := range acc {
		mean += a
	}
	mean /= r
	ss := 0.0
	for _, a := range acc {
		ss += (a - mean) * (a - mean)
	}
	sd := math.Sqrt(ss / (r - 1))
	se := math.Sqrt(1/r+ratio) * sd
	df := r - 1
	half := studentQuantile(0.5+res.Confidence/2, df) * se
	res.Accuracy, res.StdDev = mean, sd
	// Accuracies live in [0, 1]; so does the interval.
	res.CILow, res.CIHigh = max(mean-half, 0), min(mean+half, 1)
	switch {
	case se > 0:
		res.PValue = 1 - studentCDF((mean-0.5)/se, df)
	case mean > 0.5:
		res.PValue = 0
	case mean < 0.5:
		res.PValue = 1
	default:
		res.PValue = 0.5
	}
}

// dataset is a list of patches with labels (0 or 1).
type dataset struct {
	patches [][]float32
	labels  []float32
}

func (d *dataset) add(g [][]float32, label float32) {
	for _, p := range g {
		d.patches = append(d.patches, p)
		d.labels = append(d.labels, label)
	}
}

package faceapi

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
)

// DetectOptions are the tiny face detector's options (face-api's
// TinyFaceDetectorOptions).
type DetectOptions struct {
	// InputSize is the side the image is scaled to, a multiple of 32
	// (face-api's default 416; 224 or 320 suit tightly aligned face crops).
	// Zero means 416.
	InputSize int
	// ScoreThreshold keeps boxes scoring above it. Zero means 0.5.
	ScoreThreshold float64
	// Sizes, if not empty, runs the detector at each of these input sizes
	// (multiples of 32) instead of InputSize and merges the detections by
	// the same non-maximum suppression on the boxes in pixels. The net
	// finds faces of about 50 to 350 pixels in its input, so one size
	// cannot serve both a face filling a photo and the faces of a group
	// photo: {160, 416, 1024} covers faces of 5% to 100% of the image's
	// larger side, at the cost of the largest size (about 0.5 s on 2 cores).
	Sizes []int
	// Antialias shrinks an image larger than InputSize with ResizeArea
	// instead of face-api's bilinear resize, which skips pixels (and so
	// aliases) when it shrinks by more than 2. The results then differ
	// from face-api's.
	Antialias bool
}

// Face-api's defaults and constants of the tiny face detector.
const (
	DefaultInputSize      = 416
	DefaultScoreThreshold = 0.5
	detectorIoU           = 0.4
)

var (
	detectorMean    = [3]float64{117.001, 114.697, 97.404}
	detectorAnchors = [5][2]float64{
		{1.603231, 2.094468},
		{6.041143, 7.080126},
		{2.882459, 3.518061},
		{4.266906, 5.178857},
		{9.041765, 10.66308},
	}
)

// Detection is one detected face.
type Detection struct {
	Score float64
	// Box is the face box in the image's pixels.
	Box Rect
	// Relative is the box as a fraction of the image's width and height.
	Relative Rect
	// Row, Col and Anchor locate the grid cell and anchor box that
	// produced it.
	Row, Col, Anchor int
}

// Detector is face-api's tiny face detector (a Tiny-YOLOv2-like net with
// depthwise separable convolutions and 5 anchor boxes).
type Detector struct {
	conv0F, conv0B []float32
	convs          [5]sepConv
	conv8F, conv8B []float32

	trace func(name string, x *fmap)
}

// LoadDetector reads the detector from a folder holding
// tiny_face_detector_model-weights_manifest.json and its shard.
func LoadDetector(dir string) (*Detector, error) {
	w, err := ReadWeights(filepath.Join(dir, DetectorManifest))
	if err != nil {
		return nil, err
	}
	return NewDetector(w)
}

// NewDetector builds the detector from its decoded weights.
func NewDetector(w *Weights) (*Detector, error) {
	l := newLoader(w)
	d := &Detector{
		conv0F: l.f("conv0/filters", 3, 3, 3, 16),
		conv0B: l.f("conv0/bias", 16),
	}
	cin := 16
	for i, c := range []int{32, 64, 128, 256, 512} {
		p := fmt.Sprintf("conv%d", i+1)
		d.convs[i] = sepConv{
			dw:   l.f(p+"/depthwise_filter", 3, 3, cin, 1),
			pw:   l.f(p+"/pointwise_filter", 1, 1, cin, c),
			bias: l.f(p+"/bias", c),
			cout: c,
		}
		cin = c
	}
	d.conv8F = l.f("conv8/filters", 1, 1, 512, 25)
	d.conv8B = l.f("conv8/bias", 25)
	if err := l.done(); err != nil {
		return nil, err
	}
	return d, nil
}

func (o DetectOptions) withDefaults() (DetectOptions, error) {
	if o.InputSize == 0 {
		o.InputSize = DefaultInputSize
	}
	if o.ScoreThreshold == 0 {
		o.ScoreThreshold = DefaultScoreThreshold
	}
	for _, s := range append([]int{o.InputSize}, o.Sizes...) {
		if s < 32 || s%32 != 0 {
			return o, fmt.Errorf("faceapi: detector input size %d: want a positive multiple of 32", s)
		}
	}
	if !(o.ScoreThreshold > 0 && o.ScoreThreshold < 1) {
		return o, fmt.Errorf("faceapi: detector score threshold %v: want a value in (0, 1)", o.ScoreThreshold)
	}
	return o, nil
}

// Detect finds faces in img, as face-api's detectAllFaces with
// TinyFaceDetectorOptions: the image is zero-padded at the right or bottom
// to a square, resized to InputSize, run through the net; boxes scoring
// above the threshold are kept and suppressed greedily (IoU > 0.4), the
// best first. The result is in that order. See DetectOptions.Sizes for
// several input sizes.
func (d *Detector) Detect(img *Image, opt DetectOptions) ([]Detection, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(opt.Sizes) == 0 {
		return d.detect(img, opt.InputSize, opt), nil
	}
	var all []Detection
	for _, s := range opt.Sizes {
		all = append(all, d.detect(img, s, opt)...)
	}
	boxes := make([]Rect, len(all))
	for i, c := range all {
		boxes[i] = c.Box
	}
	keep := nms(boxes, all, 1, detectorIoU)
	out := make([]Detection, len(keep))
	for i, k := range keep {
		out[i] = all[k]
	}
	return out, nil
}

// detect runs the detector at input size s.
func (d *Detector) detect(img *Image, s int, opt DetectOptions) []Detection {
	var x *fmap
	if side := max(img.W, img.H); opt.Antialias && side > s {
		x = ResizeArea(padBottomRightImage(img, side), 0, 0, side, s).pixels()
	} else {
		x = toBatch(img.pixels(), s, false)
	}
	grid := d.forward(normalize(x, detectorMean))
	// face-api's computeReshapedDimensions: the image scaled to fit s.
	scale := float64(s) / float64(max(img.W, img.H))
	rw, rh := jsRound(float64(img.W)*scale), jsRound(float64(img.H)*scale)
	cands := decode(grid, float64(s)/rw, float64(s)/rh, opt.ScoreThreshold)
	rel := make([]Rect, len(cands))
	for i, c := range cands {
		rel[i] = c.Relative
	}
	keep := nms(rel, cands, float64(s), detectorIoU)
	out := make([]Detection, len(keep))
	for i, k := range keep {
		c := cands[k]
		c.Box = Rect{c.Relative.X * float64(img.W), c.Relative.Y * float64(img.H), c.Relative.W * float64(img.W), c.Relative.H * float64(img.H)}
		out[i] = c
	}
	return out
}

// jsRound is JavaScript's Math.round (half up).
func jsRound(v float64) float64 { return math.Floor(v + 0.5) }

// forward runs the net on a normalised SxS input and returns the grid
// [G, G, 25] (G = S/32), channel = anchor*5 + (tx, ty, tw, th, score logit).
func (d *Detector) forward(x *fmap) *fmap {
	x = conv2d(x, d.conv0F, 3, 16, 1, pad4{}, d.conv0B).leaky()
	d.emit("conv0", x)
	x = maxPool(x, 2, 2, x.same(2, 2))
	for i := range d.convs {
		c := &d.convs[i]
		x = separable(x, c.dw, c.pw, c.cout, 1, pad4{1, 1, 1, 1}, c.bias).leaky()
		d.emit(fmt.Sprintf("conv%d", i+1), x)
		stride := 2
		if i == len(d.convs)-1 {
			stride = 1
		}
		x = maxPool(x, 2, stride, x.same(2, stride))
	}
	d.emit("conv5_pool", x)
	return conv2d(x, d.conv8F, 1, 25, 1, pad4{}, d.conv8B)
}

func (d *Detector) emit(name string, x *fmap) {
	if d.trace != nil {
		d.trace(name, x)
	}
}

func sigmoid(v float64) float64 { return 1 / (1 + math.Exp(-v)) }

// decode returns every cell and anchor of grid scoring above threshold, in
// row, col, anchor order, with its relative box (face-api's extractBoxes,
// in float64; cx, cy scale the box for a padded non-square image).
func decode(grid *fmap, cx, cy, threshold float64) []Detection {
	g := float64(grid.H)
	var out []Detection
	for row := 0; row < grid.H; row++ {
		for col := 0; col < grid.W; col++ {
			v := grid.D[(row*grid.W+col)*25:]
			for a := 0; a < 5; a++ {
				t := v[a*5 : a*5+5]
				score := sigmoid(float64(t[4]))
				if !(score > threshold) {
					continue
				}
				ctX := (float64(col) + sigmoid(float64(t[0]))) / g * cx
				ctY := (float64(row) + sigmoid(float64(t[1]))) / g * cy
				w := math.Exp(float64(t[2])) * detectorAnchors[a][0] / g * cx
				h := math.Exp(float64(t[3])) * detectorAnchors[a][1] / g * cy
				x, y := ctX-w/2, ctY-h/2
				// BoundingBox(x, y, x+w, y+h) as face-api stores it.
				r := Rect{X: x, Y: y, W: (x + w) - x, H: (y + h) - y}
				out = append(out, Detection{Score: score, Relative: r, Row: row, Col: col, Anchor: a})
			}
		}
	}
	return out
}

// nms returns the indices of boxes kept by face-api's greedy non-maximum
// suppression: repeatedly take the best-scoring remaining box (scores from
// c; on ties the later one, as face-api's stable ascending sort and pop do)
// and drop the boxes whose IoU with it, on boxes scaled by scale, exceeds
// iouThreshold.
func nms(boxes []Rect, c []Detection, scale, iouThreshold float64) []int {
	idx := make([]int, len(c))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return c[idx[a]].Score < c[idx[b]].Score })
	scaled := func(r Rect) Rect { return Rect{r.X * scale, r.Y * scale, r.W * scale, r.H * scale} }
	var pick []int
	for len(idx) > 0 {
		cur := idx[len(idx)-1]
		idx = idx[:len(idx)-1]
		pick = append(pick, cur)
		cb := scaled(boxes[cur])
		rest := idx[:0]
		for _, i := range idx {
			if IoU(cb, scaled(boxes[i])) <= iouThreshold {
				rest = append(rest, i)
			}
		}
		idx = rest
	}
	return pick
}

// IoU returns the intersection over union of two boxes.
func IoU(a, b Rect) float64 {
	w := math.Max(0, math.Min(a.Right(), b.Right())-math.Max(a.X, b.X))
	h := math.Max(0, math.Min(a.Bottom(), b.Bottom())-math.Max(a.Y, b.Y))
	inter := w * h
	return inter / (a.Area() + b.Area() - inter)
}

// padBottomRightImage returns img zero-padded at the right and bottom to
// side x side.
func padBottomRightImage(img *Image, side int) *Image {
	if img.W == side && img.H == side {
		return img
	}
	out := NewImage(side, side)
	for y := 0; y < img.H; y++ {
		copy(out.Pix[y*side*3:], img.Pix[y*img.W*3:(y+1)*img.W*3])
	}
	return out
}

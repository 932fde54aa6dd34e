package faceapi

import (
	"fmt"
	"math"
	"path/filepath"
)

// LandmarkSize is the side of the landmark network's input.
const LandmarkSize = 112

// NumLandmarks is the number of points of the landmark model (the iBUG 300-W
// 68-point markup: jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth
// 48-67).
const NumLandmarks = 68

// sepConv is a depthwise separable 3x3 convolution with bias.
type sepConv struct {
	dw, pw, bias []float32
	cout         int
}

func (s *sepConv) apply(x *fmap, stride int) *fmap {
	return separable(x, s.dw, s.pw, s.cout, stride, x.same(3, stride), s.bias)
}

// denseBlock is one of the landmark net's four dense blocks.
type denseBlock struct {
	first          bool      // conv0 is a plain 3x3 conv (dense0)
	conv0F, conv0B []float32 // plain conv0 filters and bias
	conv0          sepConv
	conv1, conv2   sepConv
	conv3          sepConv
	cout           int
}

func (b *denseBlock) apply(x *fmap, trace func(string, *fmap), name string) *fmap {
	var out1 *fmap
	if b.first {
		out1 = conv2d(x, b.conv0F, 3, b.cout, 2, x.same(3, 2), b.conv0B)
	} else {
		out1 = b.conv0.apply(x, 2)
	}
	out1.relu()
	if trace != nil {
		trace(name+"_conv0", out1)
	}
	out2 := b.conv1.apply(out1, 1)
	in3 := sum(out1, out2).relu()
	out3 := b.conv2.apply(in3, 1)
	s23 := sum(out2, out3)
	in4 := sum(out1, s23).relu()
	out4 := b.conv3.apply(in4, 1)
	// out1 + (out2 + (out3 + out4)), in face-api's order.
	return out3.add(out4).add(out2).add(out1).relu()
}

// LandmarkNet is face-api's 68-point landmark network (faceLandmark68Net):
// a 112x112 face crop in, 68 (x, y) points out.
type LandmarkNet struct {
	dense  [4]denseBlock
	fcW    []float32 // [256, 136]
	fcBias []float32

	trace func(name string, x *fmap)
}

// LoadLandmarkNet reads the landmark network from a folder holding
// face_landmark_68_model-weights_manifest.json and its shard.
func LoadLandmarkNet(dir string) (*LandmarkNet, error) {
	w, err := ReadWeights(filepath.Join(dir, LandmarkManifest))
	if err != nil {
		return nil, err
	}
	return NewLandmarkNet(w)
}

// NewLandmarkNet builds the landmark network from its decoded weights.
func NewLandmarkNet(w *Weights) (*LandmarkNet, error) {
	l := newLoader(w)
	sep := func(p string, cin, cout int) sepConv {
		return sepConv{
			dw:   l.f(p+"/depthwise_filter", 3, 3, cin, 1),
			pw:   l.f(p+"/pointwise_filter", 1, 1, cin, cout),
			bias: l.f(p+"/bias", cout),
			cout: cout,
		}
	}
	n := &LandmarkNet{}
	cin := 3
	for i, c := range []int{32, 64, 128, 256} {
		p := fmt.Sprintf("dense%d", i)
		b := &n.dense[i]
		b.cout = c
		if i == 0 {
			b.first = true
			b.conv0F = l.f(p+"/conv0/filters", 3, 3, 3, c)
			b.conv0B = l.f(p+"/conv0/bias", c)
		} else {
			b.conv0 = sep(p+"/conv0", cin, c)
		}
		b.conv1 = sep(p+"/conv1", c, c)
		b.conv2 = sep(p+"/conv2", c, c)
		b.conv3 = sep(p+"/conv3", c, c)
		cin = c
	}
	n.fcW = l.f("fc/weights", 256, 2*NumLandmarks)
	n.fcBias = l.f("fc/bias", 2*NumLandmarks)
	if err := l.done(); err != nil {
		return nil, err
	}
	return n, nil
}

// Landmarks returns the 68 points of the face in img, in img's pixels. img
// is the face crop (face-api feeds the detection box): it is zero-padded to
// a square (centred) and resized to 112x112 with bilinear interpolation if
// needed, and the points are mapped back to the unpadded image, as face-api's
// detectLandmarks does.
func (n *LandmarkNet) Landmarks(img *Image) [NumLandmarks]Point {
	rel := n.relative(img)
	var pts [NumLandmarks]Point
	for i := range pts {
		pts[i] = Point{float64(rel[2*i]) * float64(img.W), float64(rel[2*i+1]) * float64(img.H)}
	}
	return pts
}

// relative returns the points relative to the unpadded image (face-api's
// postProcess output, interleaved x, y).
func (n *LandmarkNet) relative(img *Image) []float32 {
	x := toBatch(img.pixels(), LandmarkSize, true)
	return postProcess(n.forward(normalize(x, faceMean)), img.W, img.H)
}

// forward runs the net on a normalised 112x112x3 input and returns fc_out:
// interleaved (x, y) relative to the padded square input.
func (n *LandmarkNet) forward(x *fmap) []float32 {
	if x.H != LandmarkSize || x.W != LandmarkSize || x.C != 3 {
		panic(fmt.Sprintf("faceapi: landmark input %dx%dx%d, want 112x112x3", x.H, x.W, x.C))
	}
	for i := range n.dense {
		name := fmt.Sprintf("dense%d", i)
		x = n.dense[i].apply(x, n.trace, name)
		if n.trace != nil {
			n.trace(name, x)
		}
	}
	x = avgPoolValid(x, 7, 2)
	if n.trace != nil {
		n.trace("bottleneck", x)
	}
	return matVec(x.D, n.fcW, 2*NumLandmarks, n.fcBias)
}

// postProcess maps fc_out from the padded square to the unpadded w x h
// image, in float32 like face-api's postProcess:
// (v*112 - pad) / (side scaled to 112).
func postProcess(fc []float32, w, h int) []float32 {
	scale := float64(LandmarkSize) / float64(max(w, h))
	sw, sh := float64(w)*scale, float64(h)*scale
	var padX, padY float64
	if sw < sh {
		padX = (sh - sw) / 2
	} else if sh < sw {
		padY = (sw - sh) / 2
	}
	out := make([]float32, len(fc))
	for i, v := range fc {
		pad, dim := padX, sw
		if i%2 == 1 {
			pad, dim = padY, sh
		}
		t := v * float32(LandmarkSize)
		t -= float32(pad)
		out[i] = t / float32(dim)
	}
	return out
}

// NME returns the normalised mean error between two sets of 68 landmarks:
// the mean point-to-point distance divided by the distance between the
// outer eye corners (points 36 and 45) of want, the usual 300-W measure.
// It is +Inf when want's eye corners coincide.
func NME(got, want [NumLandmarks]Point) float64 {
	io := math.Hypot(want[45].X-want[36].X, want[45].Y-want[36].Y)
	if !(io > 0) {
		return math.Inf(1)
	}
	var s float64
	for i := range got {
		s += math.Hypot(got[i].X-want[i].X, got[i].Y-want[i].Y)
	}
	return s / NumLandmarks / io
}

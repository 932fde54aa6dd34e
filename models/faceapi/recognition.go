package faceapi

import (
	"fmt"
	"math"
	"path/filepath"
)

// RecognitionSize is the side of the recognition network's input.
const RecognitionSize = 150

// DescriptorSize is the length of a face descriptor.
const DescriptorSize = 128

// MatchThreshold is face-api's default Euclidean distance below which two
// descriptors are taken for the same person (FaceMatcher).
const MatchThreshold = 0.6

// faceMean is the per-channel mean that the recognition and landmark nets
// subtract (R, G, B, 0..255 scale).
var faceMean = [3]float64{122.782, 117.001, 104.298}

// Descriptor is a 128-d face descriptor. It is not L2-normalised (its norm
// is about 1.3-1.6); compare descriptors with Distance.
type Descriptor [DescriptorSize]float32

// Distance returns the Euclidean distance between two descriptors, face-api's
// measure (below MatchThreshold: the same person).
func Distance(a, b Descriptor) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

// Cosine returns the cosine similarity of two descriptors.
func Cosine(a, b Descriptor) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

// recConv is a convolution with bias followed by face-api's scale layer
// (y*weights + biases, where dlib has batch norm).
type recConv struct {
	filters, bias, scale, shift []float32
	k, cin, cout                int
}

// apply computes the layer with stride 1 SAME or stride 2 VALID (down).
func (l *recConv) apply(x *fmap, down, relu bool) *fmap {
	var y *fmap
	if down {
		y = conv2d(x, l.filters, l.k, l.cout, 2, pad4{}, l.bias)
	} else {
		y = conv2d(x, l.filters, l.k, l.cout, 1, x.same(l.k, 1), l.bias)
	}
	y.scaleShift(l.scale, l.shift)
	if relu {
		y.relu()
	}
	return y
}

// recBlock is a residual block: two 3x3 conv layers.
type recBlock struct {
	name         string
	down         bool
	conv1, conv2 recConv
}

// Recognizer is face-api's face recognition network (faceRecognitionNet, a
// ResNet-34-like net from dlib's dnn_face_recognition_ex): a 150x150 RGB face
// chip in, a 128-d descriptor out.
type Recognizer struct {
	first  recConv
	blocks []recBlock
	fc     []float32 // [256, 128]

	// trace, if set, receives the named intermediate activations.
	trace func(name string, x *fmap)
}

// LoadRecognizer reads the recognition network from a folder holding
// face_recognition_model-weights_manifest.json and its shard.
func LoadRecognizer(dir string) (*Recognizer, error) {
	w, err := ReadWeights(filepath.Join(dir, RecognitionManifest))
	if err != nil {
		return nil, err
	}
	return NewRecognizer(w)
}

// NewRecognizer builds the recognition network from its decoded weights.
func NewRecognizer(w *Weights) (*Recognizer, error) {
	l := newLoader(w)
	conv := func(p string, k, cin, cout int) recConv {
		return recConv{
			filters: l.f(p+"/conv/filters", k, k, cin, cout),
			bias:    l.f(p+"/conv/bias", cout),
			scale:   l.f(p+"/scale/weights", cout),
			shift:   l.f(p+"/scale/biases", cout),
			k:       k, cin: cin, cout: cout,
		}
	}
	n := &Recognizer{first: conv("conv32_down", 7, 3, 32)}
	block := func(name string, cin, cout int, down bool) {
		n.blocks = append(n.blocks, recBlock{
			name: name, down: down,
			conv1: conv(name+"/conv1", 3, cin, cout),
			conv2: conv(name+"/conv2", 3, cout, cout),
		})
	}
	block("conv32_1", 32, 32, false)
	block("conv32_2", 32, 32, false)
	block("conv32_3", 32, 32, false)
	block("conv64_down", 32, 64, true)
	block("conv64_1", 64, 64, false)
	block("conv64_2", 64, 64, false)
	block("conv64_3", 64, 64, false)
	block("conv128_down", 64, 128, true)
	block("conv128_1", 128, 128, false)
	block("conv128_2", 128, 128, false)
	block("conv256_down", 128, 256, true)
	block("conv256_1", 256, 256, false)
	block("conv256_2", 256, 256, false)
	block("conv256_down_out", 256, 256, true)
	n.fc = l.f("fc", 256, DescriptorSize)
	if err := l.done(); err != nil {
		return nil, err
	}
	return n, nil
}

// Descriptor computes the descriptor of a face chip. The chip is
// zero-padded to a square (centred) and resized to 150x150 with bilinear
// interpolation if needed, as face-api's computeFaceDescriptor does; for
// face-api's own choice of chip see Models.Describe and DlibAlignment.
func (n *Recognizer) Descriptor(chip *Image) Descriptor {
	x := toBatch(chip.pixels(), RecognitionSize, true)
	return n.forward(normalize(x, faceMean))
}

// forward runs the network on a normalised 150x150x3 input.
func (n *Recognizer) forward(x *fmap) Descriptor {
	if x.H != RecognitionSize || x.W != RecognitionSize || x.C != 3 {
		panic(fmt.Sprintf("faceapi: recognition input %dx%dx%d, want 150x150x3", x.H, x.W, x.C))
	}
	x = n.first.apply(x, true, true)
	n.emit("conv32_down", x)
	x = maxPool(x, 3, 2, pad4{})
	n.emit("maxpool", x)
	for i := range n.blocks {
		b := &n.blocks[i]
		out := b.conv1.apply(x, b.down, true)
		out = b.conv2.apply(out, false, false)
		sc := x
		if b.down {
			sc = avgPoolValid(x, 2, 2)
			out = padBottomRight(out, sc.H, sc.W)
			sc = padChannels(sc, out.C)
		}
		x = out.add(sc).relu()
		n.emit(b.name, x)
	}
	avg := meanHW(x)
	n.emit("global_avg", &fmap{H: 1, W: 1, C: len(avg), D: avg})
	var d Descriptor
	copy(d[:], matVec(avg, n.fc, DescriptorSize, nil))
	return d
}

func (n *Recognizer) emit(name string, x *fmap) {
	if n.trace != nil {
		n.trace(name, x)
	}
}

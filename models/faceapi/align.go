package faceapi

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/raster"
)

// FFHQTemplate512 holds the five reference points of an aligned 512x512
// FFHQ face as facexlib's FaceRestoreHelper (GFPGAN, CodeFormer) uses them:
// the centres of the eye on the image's left and on its right, the nose tip,
// and the mouth corners on the left and right, in pixels.
var FFHQTemplate512 = [5]Point{
	{192.98138, 239.94708},
	{318.90277, 240.1936},
	{256.63416, 314.01935},
	{201.26117, 371.41043},
	{313.08905, 371.15118},
}

// FFHQTemplate returns FFHQTemplate512 scaled to a size x size face, as
// facexlib scales it (template * size/512).
func FFHQTemplate(size int) [5]Point {
	s := float64(size) / 512
	var t [5]Point
	for i, p := range FFHQTemplate512 {
		t[i] = Point{p.X * s, p.Y * s}
	}
	return t
}

// FivePoints derives from the 68 landmarks the counterparts of the five
// points that facexlib gets from RetinaFace: the centres of the eyes
// (points 36-41 and 42-47), the nose tip (30) and the mouth corners (48 and
// 54), in FFHQTemplate512's order. The two definitions need not agree
// exactly, and a smile moves 48 and 54: on three of the fixtures' aligned
// faces, AlignFacexlib with these points scales them by 0.91 to 1.02,
// AlignFFHQ by 0.98 to 1.02.
func FivePoints(lm [NumLandmarks]Point) [5]Point {
	return [5]Point{centre(lm[36:42]), centre(lm[42:48]), lm[30], lm[48], lm[54]}
}

// Affine is a 2-D affine map as OpenCV stores it (a 2x3 matrix):
// x' = A[0]*x + A[1]*y + A[2], y' = A[3]*x + A[4]*y + A[5].
type Affine [6]float64

// Apply maps p.
func (m Affine) Apply(p Point) Point {
	return Point{m[0]*p.X + m[1]*p.Y + m[2], m[3]*p.X + m[4]*p.Y + m[5]}
}

// Invert returns the inverse map, or an error if m is singular.
func (m Affine) Invert() (Affine, error) {
	det := m[0]*m[4] - m[1]*m[3]
	if det == 0 || math.IsNaN(det) || math.IsInf(det, 0) {
		return Affine{}, errors.New("faceapi: singular affine map")
	}
	a, b, c, d := m[4]/det, -m[1]/det, -m[3]/det, m[0]/det
	return Affine{a, b, -(a*m[2] + b*m[5]), c, d, -(c*m[2] + d*m[5])}, nil
}

// Scale returns the map's scale factor (for a similarity, the uniform
// scale; in general the square root of the determinant's magnitude).
func (m Affine) Scale() float64 { return math.Sqrt(math.Abs(m[0]*m[4] - m[1]*m[3])) }

// Rotation returns the map's rotation angle in radians (of a similarity).
func (m Affine) Rotation() float64 { return math.Atan2(m[3], m[0]) }

// EstimateSimilarity returns the similarity transform (rotation, uniform
// scale and translation, no reflection) that maps src onto dst with the
// least sum of squared distances (Umeyama's solution). This is what
// cv2.estimateAffinePartial2D, which facexlib calls with LMEDS, converges to
// when no point is an outlier. It needs at least two distinct src points.
func EstimateSimilarity(src, dst []Point) (Affine, error) {
	if len(src) != len(dst) || len(src) < 2 {
		return Affine{}, fmt.Errorf("faceapi: similarity from %d points to %d points: need the same number, at least 2", len(src), len(dst))
	}
	ms, md := centre(src), centre(dst)
	var sxx, a, b float64
	for i := range src {
		x, y := src[i].X-ms.X, src[i].Y-ms.Y
		u, v := dst[i].X-md.X, dst[i].Y-md.Y
		sxx += x*x + y*y
		a += x*u + y*v
		b += x*v - y*u
	}
	if !(sxx > 0) {
		return Affine{}, errors.New("faceapi: similarity from coincident points")
	}
	a /= sxx
	b /= sxx
	// [a -b; b a] * src + t = dst.
	return Affine{a, -b, md.X - (a*ms.X - b*ms.Y), b, a, md.Y - (b*ms.X + a*ms.Y)}, nil
}

// WarpAffine returns the w x h image whose pixel (x, y) is img at
// m^-1(x, y), with bilinear interpolation (cv2.warpAffine with INTER_LINEAR:
// pixel centres at integer coordinates; each of the four neighbours that
// falls outside img takes the border value, one value per plane).
func WarpAffine(img *raster.Image, m Affine, w, h int, border []float32) (*raster.Image, error) {
	if len(border) != img.C {
		return nil, fmt.Errorf("faceapi: %d border values for a %d-plane image", len(border), img.C)
	}
	inv, err := m.Invert()
	if err != nil {
		return nil, err
	}
	out := raster.New(img.C, h, w)
	n, on := img.H*img.W, h*w
	parallel.For(h, 8, func(lo, hi int) {
		for y := lo; y < hi; y++ {
			for x := 0; x < w; x++ {
				s := inv.Apply(Point{float64(x), float64(y)})
				x0f, y0f := math.Floor(s.X), math.Floor(s.Y)
				fx, fy := float32(s.X-x0f), float32(s.Y-y0f)
				if !(x0f >= -1 && y0f >= -1 && x0f < float64(img.W) && y0f < float64(img.H)) {
					for c := 0; c < img.C; c++ {
						out.Pix[c*on+y*w+x] = border[c]
					}
					continue
				}
				x0, y0 := int(x0f), int(y0f)
				for c := 0; c < img.C; c++ {
					p := img.Pix[c*n : (c+1)*n]
					at := func(yy, xx int) float32 {
						if xx < 0 || yy < 0 || xx >= img.W || yy >= img.H {
							return border[c]
						}
						return p[yy*img.W+xx]
					}
					top := at(y0, x0)*(1-fx) + at(y0, x0+1)*fx
					bot := at(y0+1, x0)*(1-fx) + at(y0+1, x0+1)*fx
					out.Pix[c*on+y*w+x] = top*(1-fy) + bot*fy
				}
			}
		}
	})
	return out, nil
}

// FFHQBorder is facexlib's border colour for the parts of an aligned face
// outside the source image: BGR (135, 133, 132), that is RGB (132, 133,
// 135), on the [0, 1] scale.
var FFHQBorder = []float32{132.0 / 255, 133.0 / 255, 135.0 / 255}

// AlignMethod chooses how Align places a face from its 68 landmarks.
type AlignMethod int

// Alignment methods.
const (
	// AlignFacexlib is facexlib's FaceRestoreHelper (GFPGAN, CodeFormer):
	// the five points (FivePoints) mapped onto FFHQTemplate512 scaled to
	// the output size by a least-squares similarity.
	AlignFacexlib AlignMethod = iota
	// AlignFFHQ is the recipe that made the FFHQ data set
	// (ffhq-dataset's recreate_aligned_images), from the eye centres and
	// the outer mouth corners: a square centred at eye_avg +
	// 0.1*eye_to_mouth, its side max(4*|eye_to_eye|, 3.6*|eye_to_mouth|),
	// turned with the eye line. It depends less on the mouth's width than
	// AlignFacexlib does.
	AlignFFHQ
)

// String returns "facexlib" or "ffhq".
func (a AlignMethod) String() string {
	switch a {
	case AlignFacexlib:
		return "facexlib"
	case AlignFFHQ:
		return "ffhq"
	}
	return fmt.Sprintf("AlignMethod(%d)", int(a))
}

// ParseAlignMethod returns the method named "facexlib" or "ffhq".
func ParseAlignMethod(s string) (AlignMethod, error) {
	switch s {
	case "facexlib":
		return AlignFacexlib, nil
	case "ffhq":
		return AlignFFHQ, nil
	}
	return 0, fmt.Errorf("faceapi: alignment method %q: want facexlib or ffhq", s)
}

// AlignTransform returns the similarity that maps the pixels of the image
// in which lm were found to those of the size x size aligned face. Both use
// face-api's coordinates: (0, 0) is the top-left corner of the image, so
// pixel (i, j) has its centre at (i+0.5, j+0.5). (facexlib's template, in
// OpenCV's pixel-centre coordinates, is shifted by half a pixel to match.)
func AlignTransform(lm [NumLandmarks]Point, size int, method AlignMethod) (Affine, error) {
	if size <= 0 {
		return Affine{}, fmt.Errorf("faceapi: aligned face size %d", size)
	}
	switch method {
	case AlignFacexlib:
		src, dst := FivePoints(lm), FFHQTemplate(size)
		for i := range dst {
			dst[i].X += 0.5
			dst[i].Y += 0.5
		}
		return EstimateSimilarity(src[:], dst[:])
	case AlignFFHQ:
		el, er := centre(lm[36:42]), centre(lm[42:48])
		ea := Point{(el.X + er.X) / 2, (el.Y + er.Y) / 2}
		ee := Point{er.X - el.X, er.Y - el.Y}
		ma := Point{(lm[48].X + lm[54].X) / 2, (lm[48].Y + lm[54].Y) / 2}
		em := Point{ma.X - ea.X, ma.Y - ea.Y}
		// x = eye_to_eye - flipud(eye_to_mouth) * [-1, 1], normalised.
		x := Point{ee.X + em.Y, ee.Y - em.X}
		n := math.Hypot(x.X, x.Y)
		half := math.Max(math.Hypot(ee.X, ee.Y)*2, math.Hypot(em.X, em.Y)*1.8)
		if !(n > 0 && half > 0) {
			return Affine{}, errors.New("faceapi: degenerate landmarks (eyes and mouth coincide)")
		}
		x = Point{x.X / n * half, x.Y / n * half}
		y := Point{-x.Y, x.X}
		c := Point{ea.X + em.X*0.1, ea.Y + em.Y*0.1}
		s := float64(size)
		src := []Point{{c.X - x.X - y.X, c.Y - x.Y - y.Y}, {c.X + x.X - y.X, c.Y + x.Y - y.Y}, {c.X + x.X + y.X, c.Y + x.Y + y.Y}, {c.X - x.X + y.X, c.Y - x.Y + y.Y}}
		dst := []Point{{0, 0}, {s, 0}, {s, s}, {0, s}}
		return EstimateSimilarity(src, dst)
	}
	return Affine{}, fmt.Errorf("faceapi: unknown alignment method %v", method)
}

// Align cuts out the face whose 68 landmarks are lm (face-api's
// coordinates in img) as a size x size aligned face, and returns it with the
// map from img's coordinates to its own (AlignTransform). The warp is
// bilinear with facexlib's constant border (FFHQBorder; mid-gray for an
// image that is not RGB). When the face shrinks by more than 2, img is
// first reduced by the integer factor floor(0.5/scale) with a box filter,
// as the FFHQ recipe does, to avoid aliasing; facexlib does not.
func Align(img *raster.Image, lm [NumLandmarks]Point, size int, method AlignMethod) (*raster.Image, Affine, error) {
	t, err := AlignTransform(lm, size, method)
	if err != nil {
		return nil, Affine{}, err
	}
	out, err := Warp(img, t, size)
	return out, t, err
}

// Warp returns the size x size image that t (in face-api's coordinates,
// see AlignTransform) makes of img, as Align does: a box-filter reduction
// first when t shrinks by more than 2, then a bilinear warp with facexlib's
// constant border.
func Warp(img *raster.Image, t Affine, size int) (*raster.Image, error) {
	if size <= 0 {
		return nil, fmt.Errorf("faceapi: warp to size %d", size)
	}
	border := FFHQBorder
	if img.C != 3 {
		border = make([]float32, img.C)
		for i := range border {
			border[i] = 133.0 / 255
		}
	}
	src, w := img, t
	if shrink := int(math.Floor(0.5 / t.Scale())); shrink > 1 && img.W/shrink >= 2 && img.H/shrink >= 2 {
		src = boxShrink(img, shrink)
		k := float64(shrink)
		w = Affine{t[0] * k, t[1] * k, t[2], t[3] * k, t[4] * k, t[5]}
	}
	// WarpAffine puts pixel centres at integers: w(p + 0.5) - 0.5.
	wc := Affine{w[0], w[1], w[2] + 0.5*(w[0]+w[1]) - 0.5, w[3], w[4], w[5] + 0.5*(w[3]+w[4]) - 0.5}
	return WarpAffine(src, wc, size, size, border)
}

// boxShrink returns img reduced by the integer factor k (the mean of each
// k x k block; a remainder at the right or bottom is dropped).
func boxShrink(img *raster.Image, k int) *raster.Image {
	h, w := img.H/k, img.W/k
	out := raster.New(img.C, h, w)
	inv := 1 / float32(k*k)
	for c := 0; c < img.C; c++ {
		src := img.Plane(c)
		dst := out.Plane(c)
		parallel.For(h, 8, func(lo, hi int) {
			for y := lo; y < hi; y++ {
				for x := 0; x < w; x++ {
					var s float32
					for yy := y * k; yy < (y+1)*k; yy++ {
						for _, v := range src[yy*img.W+x*k : yy*img.W+(x+1)*k] {
							s += v
						}
					}
					dst[y*w+x] = s * inv
				}
			}
		})
	}
	return out
}

// Misalignment tells how far an image of w x h pixels, in which lm were
// found, is from being its own aligned face under method: the largest
// distance between a corner of the image and where AlignTransform maps it,
// as a fraction of the image's side. It is +Inf for a non-square image or
// landmarks that give no transform.
//
// With the landmarks of the fixed chip (LandmarkNet.AlignedLandmarks) and
// AlignFFHQ, the project's 243 aligned HQ faces score 0.024 (median), 95%
// of them below 0.05 and all but 3 below 0.1; the LFW deep-funneled crops
// (whole heads, not FFHQ-aligned) score 0.11 to 0.57 (median 0.32), and
// whole photos 0.8 and more. 0.1 is a reasonable limit for "already
// aligned".
func Misalignment(lm [NumLandmarks]Point, w, h int, method AlignMethod) float64 {
	if w != h || w <= 0 {
		return math.Inf(1)
	}
	t, err := AlignTransform(lm, w, method)
	if err != nil {
		return math.Inf(1)
	}
	s := float64(w)
	worst := 0.0
	for _, p := range []Point{{0, 0}, {s, 0}, {0, s}, {s, s}} {
		q := t.Apply(p)
		worst = math.Max(worst, math.Hypot(q.X-p.X, q.Y-p.Y))
	}
	return worst / s
}

// ErrNoFace is returned by Models.AlignFaces when the detector finds no
// face.
var ErrNoFace = errors.New("faceapi: no face detected")

// AlignedFace is one face cut out by Models.AlignFaces.
type AlignedFace struct {
	// Face holds the detection and the landmarks (refined unless
	// AlignOptions.NoRefine) in the source image; no descriptor.
	Face
	// Image is the aligned face.
	Image *raster.Image
	// Transform maps the source image's coordinates to Image's.
	Transform Affine
}

// AlignOptions configure Models.AlignFaces.
type AlignOptions struct {
	// Size is the side of the aligned faces; zero means 512.
	Size int
	// Method places the face (AlignFacexlib, the zero value, or AlignFFHQ).
	Method AlignMethod
	// Detect are the detector's options. Its input size matters: face-api's
	// default 416 suits photos; faces that fill most of the image are found
	// more reliably at 160-224.
	Detect DetectOptions
	// NoRefine skips the second landmark pass on the upright face
	// (LandmarkNet.Refine).
	NoRefine bool
}

// AlignFaces detects the faces of img, finds their 68 landmarks, refines
// them on an upright view and aligns each face (Align), the largest
// detection first. It returns ErrNoFace (wrapped) when the detector finds
// nothing.
func (m *Models) AlignFaces(img *raster.Image, opt AlignOptions) ([]AlignedFace, error) {
	if opt.Size == 0 {
		opt.Size = 512
	}
	faces, err := m.Analyze(FromRaster(img), opt.Detect, false)
	if err != nil {
		return nil, err
	}
	if len(faces) == 0 {
		o, _ := opt.Detect.withDefaults()
		sizes := fmt.Sprint(o.InputSize)
		if len(o.Sizes) > 0 {
			sizes = fmt.Sprint(o.Sizes)
		}
		return nil, fmt.Errorf("%w (%dx%d image, detector input size %s, score threshold %v)", ErrNoFace, img.W, img.H, sizes, o.ScoreThreshold)
	}
	sort.SliceStable(faces, func(i, j int) bool { return faces[i].Detection.Box.Area() > faces[j].Detection.Box.Area() })
	out := make([]AlignedFace, 0, len(faces))
	for _, f := range faces {
		if !opt.NoRefine {
			if f.Landmarks, err = m.Landmarks.Refine(img, f.Landmarks, opt.Method); err != nil {
				return nil, err
			}
		}
		a, t, err := Align(img, f.Landmarks, opt.Size, opt.Method)
		if err != nil {
			return nil, err
		}
		out = append(out, AlignedFace{Face: f, Image: a, Transform: t})
	}
	return out, nil
}

// refineBox is the face box, relative to the side of an aligned face, in
// which Refine looks for the landmarks: about where the tiny face detector
// puts its box on FFHQ-aligned faces (the mean over the fixtures' six
// aligned faces at input size 224).
var refineBox = Rect{X: 0.125, Y: 0.315, W: 0.70, H: 0.63}

// refineSize is the side of the aligned view Refine works on: the face box
// is then about the landmark net's 112 pixels.
const refineSize = 160

// Refine re-estimates the 68 landmarks lm of a face in img on an upright
// view of it: the face is aligned with method at 160x160, the landmarks are
// found again in a fixed box of that view, and mapped back to img. The
// landmark net is sensitive to in-plane rotation and to where the detector
// puts its box; one refinement roughly halves the landmark error of a face
// rotated by 20 degrees.
func (n *LandmarkNet) Refine(img *raster.Image, lm [NumLandmarks]Point, method AlignMethod) ([NumLandmarks]Point, error) {
	view, t, err := Align(img, lm, refineSize, method)
	if err != nil {
		return lm, err
	}
	inv, err := t.Invert()
	if err != nil {
		return lm, err
	}
	s := float64(refineSize)
	box := Rect{refineBox.X * s, refineBox.Y * s, refineBox.W * s, refineBox.H * s}
	pts, err := n.LandmarksIn(FromRaster(view), box)
	if err != nil {
		return lm, err
	}
	for i, p := range pts {
		pts[i] = inv.Apply(p)
	}
	return pts, nil
}

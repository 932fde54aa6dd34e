package degrade

import (
	"fmt"

	"github.com/degradiff/degradiff/degrade/jpeg"
	"github.com/degradiff/degradiff/degrade/resize"
	"github.com/degradiff/degradiff/raster"
)

// interpScale resizes like F.interpolate(scale_factor=sf, mode=mode).
func interpScale(m *raster.Image, mode string, sf float64) (*raster.Image, error) {
	md, err := resize.ParseMode(mode)
	if err != nil {
		return nil, err
	}
	if int(float64(m.H)*sf) < 1 || int(float64(m.W)*sf) < 1 {
		return nil, fmt.Errorf("%dx%d image scaled by %g is empty", m.W, m.H, sf)
	}
	if !(sf <= maxGrow) {
		return nil, fmt.Errorf("scale %g is above %d", sf, maxGrow)
	}
	return resize.Scale(m, sf, md), nil
}

// maxGrow bounds how much one resize may enlarge an image side: the
// pipelines grow by 64 at most (face: back from a 1/64 downsample), and a
// replayed record, read from a file, must not allocate without bound.
const maxGrow = 64

func checkSize(m *raster.Image, h, w int) error {
	if h < 1 || w < 1 {
		return fmt.Errorf("cannot resize %dx%d image to %dx%d", m.W, m.H, w, h)
	}
	if h > maxGrow*max(m.H, 1) || w > maxGrow*max(m.W, 1) {
		return fmt.Errorf("cannot resize %dx%d image to %dx%d (more than %d times larger)", m.W, m.H, w, h, maxGrow)
	}
	return nil
}

// interpSize resizes like F.interpolate(size=(h, w), mode=mode).
func interpSize(m *raster.Image, mode string, h, w int) (*raster.Image, error) {
	md, err := resize.ParseMode(mode)
	if err != nil {
		return nil, err
	}
	if err := checkSize(m, h, w); err != nil {
		return nil, err
	}
	return resize.Interpolate(m, h, w, md), nil
}

// cvResize resizes like cv2.resize with INTER_LINEAR ("linear"),
// INTER_CUBIC ("cubic") or INTER_AREA ("area").
func cvResize(m *raster.Image, interp string, h, w int) (*raster.Image, error) {
	var in resize.Inter
	switch interp {
	case "linear":
		in = resize.InterLinear
	case "cubic":
		in = resize.InterCubic
	case "area":
		in = resize.InterArea
	case "nearest":
		in = resize.InterNearest
	default:
		return nil, fmt.Errorf("unknown OpenCV interpolation %q", interp)
	}
	if err := checkSize(m, h, w); err != nil {
		return nil, err
	}
	return resize.OpenCV(m, h, w, in), nil
}

// matlabResize resizes like MATLAB's imresize (bicubic, antialiased when
// shrinking), as BasicSR's and KAIR's imresize.
func matlabResize(m *raster.Image, scale float64) (*raster.Image, error) {
	if int(float64(m.H)*scale) < 1 || int(float64(m.W)*scale) < 1 {
		return nil, fmt.Errorf("%dx%d image scaled by %g is empty", m.W, m.H, scale)
	}
	if !(scale <= maxGrow) {
		return nil, fmt.Errorf("scale %g is above %d", scale, maxGrow)
	}
	return resize.Imresize(m, scale, true), nil
}

// maxDiffJPEGQuality is the highest quality diffJPEG compresses at.
// Configs allow quality 100 (jpeg_range [95, 100]), where DiffJPEG's
// quantisation factor 200-2q is 0 and the reference divides by zero; just
// below 100 the steps are so fine (a thousandth of a grey level) that the
// compression is lossless but for the chroma subsampling, which is what
// quality 100 means, while the quantised coefficients still fit in int32.
const maxDiffJPEGQuality = 99.9999

// diffJPEG applies BasicSR's DiffJPEG at a (float) quality.
func diffJPEG(m *raster.Image, quality float64) *raster.Image {
	return jpeg.DiffJPEG(m, min(quality, maxDiffJPEGQuality))
}

// realJPEG encodes and decodes m as a JPEG at an integer quality, on the
// image rounded to 8 bits, as cv2.imencode/imdecode do in KAIR and GFPGAN.
func realJPEG(m *raster.Image, quality int) *raster.Image {
	out, err := jpeg.Real(m, min(max(quality, 1), 100))
	if err != nil {
		// Real fails only for plane counts other than 1 and 3, which the
		// pipelines never produce.
		panic(fmt.Sprintf("degrade: JPEG round trip: %v", err))
	}
	return out
}

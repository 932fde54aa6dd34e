package features

import (
	"math"
	"sync"

	"github.com/degradiff/degradiff/raster"
)

// work holds the planes and scratch buffers of one patch computation.
type work struct {
	s          int
	y, cb, cr  []float64 // s*s, 0..255 scale
	tmp, tmp2  []float64 // s*s scratch
	mu, sd     []float64 // s*s local mean and deviation (BRISQUE)
	mscn, prod []float64 // s*s
	half       []float64 // (s/2)^2 downsampled Y
	fft        []complex128
}

var workPools sync.Map // patch size -> *sync.Pool of *work

func getWork(s int) *work {
	p, _ := workPools.LoadOrStore(s, &sync.Pool{New: func() any {
		n := s * s
		return &work{
			s: s, y: make([]float64, n), cb: make([]float64, n), cr: make([]float64, n),
			tmp: make([]float64, n), tmp2: make([]float64, n),
			mu: make([]float64, n), sd: make([]float64, n),
			mscn: make([]float64, n), prod: make([]float64, n),
			half: make([]float64, n/4), fft: make([]complex128, n),
		}
	}})
	return p.(*sync.Pool).Get().(*work)
}

func putWork(w *work) {
	p, _ := workPools.Load(w.s)
	p.(*sync.Pool).Put(w)
}

// patchAt returns the feature vector of the s x s crop of img at (y0, x0).
func patchAt(img *raster.Image, y0, x0, s int) []float64 {
	w := getWork(s)
	defer putWork(w)
	f := make([]float64, 0, Dim)
	colour := w.load(img, y0, x0)

	f = append(f, math.Log10(1+immerkaer(w.y, s)))
	f = append(f, math.Log10(1+(immerkaer(w.cb, s)+immerkaer(w.cr, s))/2))
	lapVar, gradEnergy := laplacianSobel(w.y, s)
	f = append(f, math.Log10(1+lapVar), math.Log10(1+gradEnergy))
	f = append(f, creteBlur(w.y, s))
	f = append(f, blockiness(w.y, s))
	f = append(f, w.spectrum()...)
	f = append(f, colour[:4]...)
	f = append(f, chromaDetail(w.y, w.cb, w.cr, s))
	f = append(f, w.brisque(w.y, s)...)
	downsample2(w.half, w.y, s)
	f = append(f, w.brisque(w.half, s/2)...)
	return f
}

// load fills w.y, w.cb and w.cr from the crop (8-bit rounded values on the
// 0..255 scale, full-range BT.601 YCbCr) and returns mean_luma, std_luma,
// colourfulness and saturation.
func (w *work) load(img *raster.Image, y0, x0 int) [4]float64 {
	s := w.s
	var sumY, sumY2, sumRG, sumRG2, sumYB, sumYB2, sumSat float64
	for y := 0; y < s; y++ {
		off := (y0+y)*img.W + x0
		pr := img.Pix[off : off+s]
		pg, pb := pr, pr
		if img.C == 3 {
			n := img.H * img.W
			pg = img.Pix[n+off : n+off+s]
			pb = img.Pix[2*n+off : 2*n+off+s]
		}
		yr, cbr, crr := w.y[y*s:(y+1)*s], w.cb[y*s:(y+1)*s], w.cr[y*s:(y+1)*s]
		for x := range yr {
			r, g, b := level(pr[x]), level(pg[x]), level(pb[x])
			lum := 0.299*r + 0.587*g + 0.114*b
			yr[x] = lum
			cbr[x] = -0.168736*r - 0.331264*g + 0.5*b
			crr[x] = 0.5*r - 0.418688*g - 0.081312*b
			sumY += lum
			sumY2 += lum * lum
			rg, yb := r-g, 0.5*(r+g)-b
			sumRG += rg
			sumRG2 += rg * rg
			sumYB += yb
			sumYB2 += yb * yb
			if mx := max(r, g, b); mx > 0 {
				sumSat += (mx - min(r, g, b)) / mx
			}
		}
	}
	n := float64(s * s)
	meanY := sumY / n
	mRG, mYB := sumRG/n, sumYB/n
	vRG := max(sumRG2/n-mRG*mRG, 0)
	vYB := max(sumYB2/n-mYB*mYB, 0)
	colourful := math.Sqrt(vRG+vYB) + 0.3*math.Sqrt(mRG*mRG+mYB*mYB)
	return [4]float64{meanY, math.Sqrt(max(sumY2/n-meanY*meanY, 0)), colourful, sumSat / n}
}

// level returns v clamped to [0, 1] and rounded to 8 bits (half to even,
// the product by 255 in float32 as BasicSR's tensor2img), on the 0..255
// scale.
func level(v float32) float64 { return float64(raster.To8(v)) }

// immerkaer returns Immerkær's noise standard deviation estimate of the
// s x s plane p.
func immerkaer(p []float64, s int) float64 {
	sum := 0.0
	for y := 1; y < s-1; y++ {
		a, b, c := p[(y-1)*s:y*s], p[y*s:(y+1)*s], p[(y+1)*s:(y+2)*s]
		for x := 1; x < s-1; x++ {
			v := (a[x-1] - 2*a[x] + a[x+1]) - 2*(b[x-1]-2*b[x]+b[x+1]) + (c[x-1] - 2*c[x] + c[x+1])
			sum += math.Abs(v)
		}
	}
	return math.Sqrt(math.Pi/2) * sum / (6 * float64((s-2)*(s-2)))
}

// laplacianSobel returns the variance of the 4-neighbour Laplacian and the
// mean squared Sobel gradient magnitude over the interior of p.
func laplacianSobel(p []float64, s int) (lapVar, gradEnergy float64) {
	var sl, sl2, sg float64
	for y := 1; y < s-1; y++ {
		a, b, c := p[(y-1)*s:y*s], p[y*s:(y+1)*s], p[(y+1)*s:(y+2)*s]
		for x := 1; x < s-1; x++ {
			l := a[x] + c[x] + b[x-1] + b[x+1] - 4*b[x]
			sl += l
			sl2 += l * l
			gx := (a[x+1] + 2*b[x+1] + c[x+1]) - (a[x-1] + 2*b[x-1] + c[x-1])
			gy := (c[x-1] + 2*c[x] + c[x+1]) - (a[x-1] + 2*a[x] + a[x+1])
			sg += gx*gx + gy*gy
		}
	}
	n := float64((s - 2) * (s - 2))
	m := sl / n
	return max(sl2/n-m*m, 0), sg / n
}

// creteBlur returns the blur estimate of Crété-Roffet et al. (2007): for
// each direction, the share of the absolute first differences of p that
// survives a 9-tap box blur, as (sF − sV)/sF; the larger of the two.
func creteBlur(p []float64, s int) float64 {
	return max(creteDir(p, s, 1, s), creteDir(p, s, s, 1))
}

// creteDir is creteBlur along one direction: sample i of line j is
// p[i*along+j*across].
func creteDir(p []float64, s, along, across int) float64 {
	const r = 4 // box radius: 9 taps
	var sF, sV float64
	for j := 0; j < s; j++ {
		base := j * across
		box := 0.0
		for k := 0; k < 2*r+1; k++ {
			box += p[base+k*along]
		}
		prevB, prevF := box/(2*r+1), p[base+r*along]
		for i := r + 1; i < s-r; i++ {
			box += p[base+(i+r)*along] - p[base+(i-r-1)*along]
			b, f := box/(2*r+1), p[base+i*along]
			dF := math.Abs(f - prevF)
			dB := math.Abs(b - prevB)
			sF += dF
			sV += max(0, dF-dB)
			prevB, prevF = b, f
		}
	}
	if sF == 0 {
		return 1
	}
	return (sF - sV) / sF
}

// blockiness returns log((b+ε)/(i+ε)) for the mean absolute differences of
// neighbours across (b) and inside (i) the 8x8 block grid, ε = 0.05 levels.
func blockiness(p []float64, s int) float64 {
	var sb, si float64
	var nb, ni int
	for y := 0; y < s; y++ {
		row := p[y*s : (y+1)*s]
		for x := 0; x+1 < s; x++ {
			d := math.Abs(row[x+1] - row[x])
			if x%8 == 7 {
				sb += d
				nb++
			} else {
				si += d
				ni++
			}
		}
		if y+1 < s {
			next := p[(y+1)*s : (y+2)*s]
			for x, v := range row {
				d := math.Abs(next[x] - v)
				if y%8 == 7 {
					sb += d
					nb++
				} else {
					si += d
					ni++
				}
			}
		}
	}
	const eps = 0.05
	return math.Log((sb/float64(nb) + eps) / (si/float64(ni) + eps))
}

// chromaDetail returns log10 of the mean squared forward difference of Cb
// and Cr (summed) over that of Y, each plus 1e-3.
func chromaDetail(y, cb, cr []float64, s int) float64 {
	e := func(p []float64) float64 {
		sum := 0.0
		for r := 0; r+1 < s; r++ {
			a, b := p[r*s:(r+1)*s], p[(r+1)*s:(r+2)*s]
			for x := 0; x+1 < s; x++ {
				dx, dy := a[x+1]-a[x], b[x]-a[x]
				sum += dx*dx + dy*dy
			}
		}
		return sum / float64((s-1)*(s-1))
	}
	return math.Log10((e(cb) + e(cr) + 1e-3) / (e(y) + 1e-3))
}

// downsample2 sets dst (s/2 x s/2) to the 2x2 block means of p (s x s).
func downsample2(dst, p []float64, s int) {
	h := s / 2
	for y := 0; y < h; y++ {
		a, b := p[2*y*s:(2*y+1)*s], p[(2*y+1)*s:(2*y+2)*s]
		out := dst[y*h : (y+1)*h]
		for x := range out {
			out[x] = 0.25 * (a[2*x] + a[2*x+1] + b[2*x] + b[2*x+1])
		}
	}
}

// spectrumEdges are the radial frequency band limits in cycles per pixel.
var spectrumEdges = [...]float64{1.0 / 16, 1.0 / 8, 1.0 / 4, 3.0 / 8, 1.0 / 2}

// spectrum returns log10 of each band's share of the mean power of the
// Hann-windowed, mean-removed Y (DC excluded).
func (w *work) spectrum() []float64 {
	s := w.s
	mean := 0.0
	for _, v := range w.y {
		mean += v
	}
	mean /= float64(s * s)
	win := hann(s)
	for y := 0; y < s; y++ {
		for x := 0; x < s; x++ {
			w.fft[y*s+x] = complex((w.y[y*s+x]-mean)*win[y]*win[x], 0)
		}
	}
	fft2(w.fft, s)
	var band [len(spectrumEdges) + 1]float64
	var count [len(spectrumEdges) + 1]int
	total, n := 0.0, 0
	for ky := 0; ky < s; ky++ {
		fy := freq(ky, s)
		for kx := 0; kx < s; kx++ {
			if ky == 0 && kx == 0 {
				continue
			}
			fx := freq(kx, s)
			c := w.fft[ky*s+kx]
			pw := real(c)*real(c) + imag(c)*imag(c)
			r := math.Sqrt(fx*fx + fy*fy)
			b := 0
			for b < len(spectrumEdges) && r >= spectrumEdges[b] {
				b++
			}
			band[b] += pw
			count[b]++
			total += pw
			n++
		}
	}
	const eps = 1e-9
	total /= float64(n)
	out := make([]float64, len(band))
	for i := range band {
		out[i] = math.Log10((band[i]/float64(count[i]) + eps) / (total + eps))
	}
	return out
}

// freq returns the signed frequency of DFT bin k of n in cycles per pixel.
func freq(k, n int) float64 {
	if k >= n/2 {
		k -= n
	}
	return float64(k) / float64(n)
}

var hannCache sync.Map // size -> []float64

// hann returns the symmetric window sin²(π(i+½)/n), i = 0..n-1.
func hann(n int) []float64 {
	if v, ok := hannCache.Load(n); ok {
		return v.([]float64)
	}
	win := make([]float64, n)
	for i := range win {
		v := math.Sin(math.Pi * (float64(i) + 0.5) / float64(n))
		win[i] = v * v
	}
	hannCache.Store(n, win)
	return win
}

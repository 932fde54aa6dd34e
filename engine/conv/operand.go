package conv

import "github.com/degradiff/degradiff/engine/gemm"

// colOperand is the im2col matrix of one padded image as the right factor
// of the forward product: v(x, p) is the source value under kernel tap p
// (channel, ky, kx: offset offs[p]) for output pixel x. Its rows never
// exist: Pack copies runs of an output row straight from the image.
type colOperand struct {
	src    []float32 // the padded image
	offs   []int
	wp     int // row length of src
	wo     int // output row length
	stride int
}

// Pack implements gemm.Operand.
func (o *colOperand) Pack(dst []float32, ld, x0, nx, p0, kc int) {
	offs := o.offs[p0 : p0+kc]
	for xx := 0; xx < nx; {
		oy, ox := (x0+xx)/o.wo, (x0+xx)%o.wo
		seg := min(nx-xx, o.wo-ox)
		base := (oy*o.wp + ox) * o.stride
		if o.stride == 1 {
			gemm.GatherRows(dst[xx:], ld, o.src[base:], offs, seg)
		} else {
			gatherStrided(dst[xx:], ld, o.src[base:], offs, seg, o.stride)
		}
		xx += seg
	}
}

// gatherStrided sets dst[r*ld+c] = src[offs[r]+c*stride] for r < len(offs)
// and c < n.
func gatherStrided(dst []float32, ld int, src []float32, offs []int, n, stride int) {
	for r, off := range offs {
		d := dst[r*ld : r*ld+n]
		s := src[off : off+(n-1)*stride+1]
		for c := range d {
			d[c] = s[c*stride]
		}
	}
}

// colTOperand is the transposed im2col matrix as the right factor of the
// weight gradient: v(x, p) is the source value under kernel tap x for
// output pixel p. Pack transposes runs of output rows from the image.
type colTOperand colOperand

// Pack implements gemm.Operand.
func (o *colTOperand) Pack(dst []float32, ld, x0, nx, p0, kc int) {
	offs := o.offs[x0 : x0+nx]
	for pp := 0; pp < kc; {
		oy, ox := (p0+pp)/o.wo, (p0+pp)%o.wo
		seg := min(kc-pp, o.wo-ox)
		base := (oy*o.wp + ox) * o.stride
		if o.stride == 1 {
			gemm.TransposeRows(dst[pp*ld:], ld, o.src[base:], offs, seg)
		} else {
			for x, off := range offs {
				s := o.src[base+off:]
				for c := 0; c < seg; c++ {
					dst[(pp+c)*ld+x] = s[c*o.stride]
				}
			}
		}
		pp += seg
	}
}

package conv

import "github.com/degradiff/degradiff/engine/gemm"

// colOperand is the im2col matrix of one image as the right factor of the
// forward product: v(x, p) is the source value under kernel tap p for
// output pixel x. Its rows never exist: with the source laid out by
// job.layout, the values of tap p for a run of pixels of one output row
// are contiguous (at offs[p] + oy*wp + ox), and Pack copies them straight
// from the image.
type colOperand struct {
	src  []float32 // the laid-out source image
	offs []int
	wp   int // row length of the source planes
	wo   int // output row length
	ones int // a summation index whose row is all ones (the bias), or -1
}

// Pack implements gemm.Operand.
func (o *colOperand) Pack(dst []float32, ld, x0, nx, p0, kc int) {
	if o.ones >= p0 && o.ones < p0+kc {
		row := dst[(o.ones-p0)*ld:][:nx]
		for i := range row {
			row[i] = 1
		}
		kc = o.ones - p0 // the ones row is the last one
	}
	offs := o.offs[p0 : p0+kc]
	for xx := 0; xx < nx; {
		oy, ox := (x0+xx)/o.wo, (x0+xx)%o.wo
		seg := min(nx-xx, o.wo-ox)
		gemm.GatherRows(dst[xx:], ld, o.src[oy*o.wp+ox:], offs, seg)
		xx += seg
	}
}

// PackPairs implements gemm.PairOperand: Pack and the pairing of its rows
// in one pass over the image.
func (o *colOperand) PackPairs(dst []float32, ld, x0, nx, p0, kc int) {
	data := kc // rows of image values; the ones row, if here, is the last
	if o.ones >= p0 && o.ones < p0+kc {
		data = o.ones - p0
	}
	even := data &^ 1
	offs := o.offs[p0 : p0+even]
	last := dst[even/2*ld:] // the pair row of an odd data row or the ones row
	for xx := 0; xx < nx; {
		oy, ox := (x0+xx)/o.wo, (x0+xx)%o.wo
		seg := min(nx-xx, o.wo-ox)
		src := o.src[oy*o.wp+ox:]
		gemm.GatherRowsPairs(dst[xx:], ld, src, offs, seg)
		if data > even { // one data row left: paired with the ones row or 0
			hi := float32(0)
			if data < kc {
				hi = 1
			}
			row := src[o.offs[p0+even]:][:seg]
			for i, v := range row {
				last[xx+i] = gemm.PackPair(v, hi)
			}
		}
		xx += seg
	}
	if data == even && data < kc { // the ones row alone
		one := gemm.PackPair(1, 0)
		for i := range last[:nx] {
			last[i] = one
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
		gemm.TransposeRows(dst[pp*ld:], ld, o.src[oy*o.wp+ox:], offs, seg)
		pp += seg
	}
}

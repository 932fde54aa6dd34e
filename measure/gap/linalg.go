package gap

import "math"

// eigenSym returns the eigenvalues of the symmetric row-major d x d matrix
// a (not modified) and, if vectors is true, the eigenvectors as the columns
// of a row-major d x d matrix, by the cyclic Jacobi method: plane rotations
// that zero one off-diagonal element at a time, sweeping over all of them
// until the off-diagonal part vanishes to rounding. Jacobi is slower than
// tridiagonal QR but accurate to a small multiple of the rounding error
// relative to each eigenvalue, which is what the matrix square roots of the
// Fréchet distance need; feature dimensions are small.
func eigenSym(a []float64, d int, vectors bool) (vals, vecs []float64) {
	m := append([]float64(nil), a[:d*d]...)
	if vectors {
		vecs = make([]float64, d*d)
		for i := 0; i < d; i++ {
			vecs[i*d+i] = 1
		}
	}
	for sweep := 0; sweep < 100; sweep++ {
		off, diag := 0.0, 0.0
		for i := 0; i < d; i++ {
			diag += m[i*d+i] * m[i*d+i]
			for j := i + 1; j < d; j++ {
				off += m[i*d+j] * m[i*d+j]
			}
		}
		if off <= 1e-32*diag || off == 0 {
			break
		}
		for p := 0; p < d-1; p++ {
			for q := p + 1; q < d; q++ {
				apq := m[p*d+q]
				if apq == 0 {
					continue
				}
				theta := (m[q*d+q] - m[p*d+p]) / (2 * apq)
				var t float64
				if math.IsInf(theta*theta, 0) {
					t = 1 / (2 * theta) // the rotation is negligibly small
				} else {
					t = 1 / (math.Abs(theta) + math.Sqrt(theta*theta+1))
					if theta < 0 {
						t = -t
					}
				}
				c := 1 / math.Sqrt(t*t+1)
				s := t * c
				rotateCols(m, d, p, q, c, s)
				rotateRows(m, d, p, q, c, s)
				// The rotation zeroes a[p][q] exactly in exact arithmetic;
				// store the zero so rounding does not leave a residue.
				m[p*d+q], m[q*d+p] = 0, 0
				if vectors {
					rotateCols(vecs, d, p, q, c, s)
				}
			}
		}
	}
	vals = make([]float64, d)
	for i := range vals {
		vals[i] = m[i*d+i]
	}
	return vals, vecs
}

// rotateCols replaces columns p and q of the d x d matrix m by
// c·p − s·q and s·p + c·q.
func rotateCols(m []float64, d, p, q int, c, s float64) {
	for k := 0; k < d; k++ {
		row := m[k*d : (k+1)*d]
		a, b := row[p], row[q]
		row[p] = c*a - s*b
		row[q] = s*a + c*b
	}
}

// rotateRows replaces rows p and q of the d x d matrix m by c·p − s·q and
// s·p + c·q.
func rotateRows(m []float64, d, p, q int, c, s float64) {
	rp, rq := m[p*d:(p+1)*d], m[q*d:(q+1)*d]
	for k := range rp {
		a, b := rp[k], rq[k]
		rp[k] = c*a - s*b
		rq[k] = s*a + c*b
	}
}

// sqrtPSD returns the symmetric square root V·diag(√λ)·Vᵀ of the symmetric
// positive semi-definite d x d matrix a; eigenvalues that rounding leaves
// below 0 count as 0.
func sqrtPSD(a []float64, d int) []float64 {
	vals, v := eigenSym(a, d, true)
	out := make([]float64, d*d)
	for k, l := range vals {
		r := math.Sqrt(max(l, 0))
		if r == 0 {
			continue
		}
		for i := 0; i < d; i++ {
			vi := v[i*d+k] * r
			row := out[i*d : (i+1)*d]
			for j := range row {
				row[j] += vi * v[j*d+k]
			}
		}
	}
	symmetrize(out, d)
	return out
}

// mul returns the product a·b of d x d row-major matrices.
func mul(a, b []float64, d int) []float64 {
	out := make([]float64, d*d)
	for i := 0; i < d; i++ {
		row := out[i*d : (i+1)*d]
		for k := 0; k < d; k++ {
			aik := a[i*d+k]
			bk := b[k*d : (k+1)*d]
			for j := range row {
				row[j] += aik * bk[j]
			}
		}
	}
	return out
}

// symmetrize replaces m by (m + mᵀ)/2, for products that are symmetric in
// exact arithmetic but not after rounding.
func symmetrize(m []float64, d int) {
	for i := 0; i < d; i++ {
		for j := i + 1; j < d; j++ {
			s := (m[i*d+j] + m[j*d+i]) / 2
			m[i*d+j], m[j*d+i] = s, s
		}
	}
}

package noise

import (
	"math"
	"sort"
)

// mat3 is a 3x3 matrix, row-major.
type mat3 [3][3]float64

func (a mat3) mul(b mat3) mat3 {
	var c mat3
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			c[i][j] = a[i][0]*b[0][j] + a[i][1]*b[1][j] + a[i][2]*b[2][j]
		}
	}
	return c
}

func (a mat3) transpose() mat3 {
	var t mat3
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			t[i][j] = a[j][i]
		}
	}
	return t
}

// symEigen returns the eigenvalues of the symmetric matrix a in decreasing
// order and the matching unit eigenvectors as the columns of v, by cyclic
// Jacobi rotations (exact to rounding for 3x3).
func symEigen(a mat3) (w [3]float64, v mat3) {
	v = mat3{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}
	for sweep := 0; sweep < 50; sweep++ {
		off := a[0][1]*a[0][1] + a[0][2]*a[0][2] + a[1][2]*a[1][2]
		diag := a[0][0]*a[0][0] + a[1][1]*a[1][1] + a[2][2]*a[2][2]
		if off <= 1e-34*diag || off == 0 {
			break
		}
		for p := 0; p < 2; p++ {
			for q := p + 1; q < 3; q++ {
				if a[p][q] == 0 {
					continue
				}
				// Rotation that zeroes a[p][q] (Golub & Van Loan 8.4.2).
				theta := (a[q][q] - a[p][p]) / (2 * a[p][q])
				t := 1 / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				if theta < 0 {
					t = -t
				}
				c := 1 / math.Sqrt(t*t+1)
				s := t * c
				for k := 0; k < 3; k++ { // a = a J
					akp, akq := a[k][p], a[k][q]
					a[k][p] = c*akp - s*akq
					a[k][q] = s*akp + c*akq
				}
				for k := 0; k < 3; k++ { // a = J^T a
					apk, aqk := a[p][k], a[q][k]
					a[p][k] = c*apk - s*aqk
					a[q][k] = s*apk + c*aqk
				}
				for k := 0; k < 3; k++ { // v = v J
					vkp, vkq := v[k][p], v[k][q]
					v[k][p] = c*vkp - s*vkq
					v[k][q] = s*vkp + c*vkq
				}
			}
		}
	}
	idx := []int{0, 1, 2}
	sort.SliceStable(idx, func(i, j int) bool { return a[idx[i]][idx[i]] > a[idx[j]][idx[j]] })
	var vs mat3
	for j, k := range idx {
		w[j] = a[k][k]
		for i := 0; i < 3; i++ {
			vs[i][j] = v[i][k]
		}
	}
	return w, vs
}

// orth returns an orthonormal basis of the column space of a as the columns
// of a matrix, ordered by decreasing singular value like scipy.linalg.orth:
// the left singular vectors of a, found as eigenvectors of a a^T. (Signs may
// differ from LAPACK's; the callers are insensitive to them.)
func orth(a mat3) mat3 {
	_, u := symEigen(a.mul(a.transpose()))
	return u
}

// kairCovariance returns BSRGAN's correlated-noise covariance
// |level^2 U^T diag(d) U| (element-wise absolute value), level on [0,1].
func kairCovariance(level float64, d [3]float64, u mat3) mat3 {
	dm := mat3{{d[0], 0, 0}, {0, d[1], 0}, {0, 0, d[2]}}
	c := u.transpose().mul(dm).mul(u)
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			c[i][j] = math.Abs(level * level * c[i][j])
		}
	}
	return c
}

// sqrtFactor returns m with m m^T = Q |Λ| Q^T for the symmetric matrix
// c = Q Λ Q^T. For a positive semidefinite c that is c itself; otherwise it
// is the covariance numpy's multivariate_normal actually samples, since it
// factors c by SVD (whose singular values are |λ|).
func sqrtFactor(c mat3) mat3 {
	w, q := symEigen(c)
	var m mat3
	for j := 0; j < 3; j++ {
		sj := math.Sqrt(math.Abs(w[j]))
		for i := 0; i < 3; i++ {
			m[i][j] = q[i][j] * sj
		}
	}
	return m
}

package conv

// The tile routines of Winograd's F(2x2, 3x3) (winograd.go) on
// channel-last data: each handles one row of tiles, every channel, with
// the same operations in the same order as the assembly versions
// (wino_amd64.s), so both give the same bits. They are variables so that
// the assembly replaces them where it runs.
var (
	inputTiles      = inputTilesGo
	outputTiles     = outputTilesGo
	outputGradTiles = outputGradTilesGo
	// winoTilesFast says the tile routines are the assembly ones; without
	// them the transforms cost more than the products save, so no shape
	// chooses Winograd on its own.
	winoTilesFast = false
	// winoTileChannels is the multiple of channels the fast routines need.
	winoTileChannels = 16
)

// inputTilesGo sets v[k*ks + t*c + ch] = (Bᵀ d B)[k] for the n tiles t of
// one tile row and every channel ch < c, where d[i][j] =
// p[i*rs + (2t+j)*c + ch] is the tile's 4x4 block of the channel-last
// source p (rows rs values apart).
func inputTilesGo(p []float32, rs, c, n int, v []float32, ks int) {
	for t := 0; t < n; t++ {
		base := 2 * t * c
		for ch := 0; ch < c; ch++ {
			var d [4][4]float32
			for i := 0; i < 4; i++ {
				row := p[i*rs+base+ch:]
				d[i] = [4]float32{row[0], row[c], row[2*c], row[3*c]}
			}
			var r [4][4]float32 // Bᵀ d
			for j := 0; j < 4; j++ {
				r[0][j] = d[0][j] - d[2][j]
				r[1][j] = d[1][j] + d[2][j]
				r[2][j] = d[2][j] - d[1][j]
				r[3][j] = d[1][j] - d[3][j]
			}
			o := v[t*c+ch:]
			for i := 0; i < 4; i++ {
				o[(4*i+0)*ks] = r[i][0] - r[i][2]
				o[(4*i+1)*ks] = r[i][1] + r[i][2]
				o[(4*i+2)*ks] = r[i][2] - r[i][1]
				o[(4*i+3)*ks] = r[i][1] - r[i][3]
			}
		}
	}
}

// outputTilesGo sets the 2x2 output block Aᵀ M A + bias of each of the n
// tiles t of one tile row, M[k] = m[k*ks + t*c + ch], into the
// channel-last q: pixel (a, 2t+b) at q[a*rq + (2t+b)*c + ch].
func outputTilesGo(m []float32, ks, c, n int, bias, q []float32, rq int) {
	for t := 0; t < n; t++ {
		for ch := 0; ch < c; ch++ {
			mt := m[t*c+ch:]
			b := bias[ch]
			var s [2][4]float32 // Aᵀ M
			for j := 0; j < 4; j++ {
				m0, m1, m2, m3 := mt[j*ks], mt[(4+j)*ks], mt[(8+j)*ks], mt[(12+j)*ks]
				s[0][j] = m0 + m1 + m2
				s[1][j] = m1 - m2 - m3
			}
			o := q[2*t*c+ch:]
			for a := 0; a < 2; a++ {
				o[a*rq] = s[a][0] + s[a][1] + s[a][2] + b
				o[a*rq+c] = s[a][1] - s[a][2] - s[a][3] + b
			}
		}
	}
}

// outputGradTilesGo sets dm[k*ks + t*c + ch] = (A dY Aᵀ)[k] for the n
// tiles t of one tile row, dY the 2x2 block of the channel-last output
// gradient d at d[a*rd + (2t+b)*c + ch]: the adjoint of outputTilesGo.
// Negation is written 0 - x, as the assembly computes it.
func outputGradTilesGo(d []float32, rd, c, n int, dm []float32, ks int) {
	for t := 0; t < n; t++ {
		for ch := 0; ch < c; ch++ {
			dt := d[2*t*c+ch:]
			var e [2][4]float32 // A dY along the columns, per row
			for a := 0; a < 2; a++ {
				d0, d1 := dt[a*rd], dt[a*rd+c]
				e[a] = [4]float32{d0, d0 + d1, d0 - d1, 0 - d1}
			}
			o := dm[t*c+ch:]
			for j := 0; j < 4; j++ {
				o[j*ks] = e[0][j]
				o[(4+j)*ks] = e[0][j] + e[1][j]
				o[(8+j)*ks] = e[0][j] - e[1][j]
				o[(12+j)*ks] = 0 - e[1][j]
			}
		}
	}
}

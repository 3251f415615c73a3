package affine

// Layer writes, for each output o of the out × in row-major weights w and
// each of rows columns j of the in × rows matrix a (row-major, a row per
// input), z[o*rows+j] = b[o] + Σ_l w[o*in+l]·a[l*rows+j] over the l with
// a non-zero weight, in increasing l, each product and sum rounded: the
// bits of gonum's Dgemm as described in the package comment. z holds out
// × rows values.
func Layer(w []float64, out, in int, b []float64, a []float64, rows int, z []float64) {
	if out <= 0 || rows <= 0 {
		return
	}
	_, _, _ = w[out*in-1], a[in*rows-1], z[out*rows-1] // bounds, once
	for o := range out {
		wr, zr := w[o*in:(o+1)*in], z[o*rows:(o+1)*rows]
		done := vectorRows(zr, a, wr, b[o])
		for j := done; j < rows; j++ {
			s := b[o]
			for l, v := range wr {
				if v != 0 {
					// The conversion keeps the product rounded on its
					// own: Go may otherwise fuse it into the sum.
					s += float64(v * a[l*rows+j])
				}
			}
			zr[j] = s
		}
	}
}

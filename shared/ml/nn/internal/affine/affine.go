// Package affine computes a network layer's z = W·a + b in float64 with
// the summation order of gonum's Dgemm, so that predictions keep their
// bits while the products run in vector registers.
//
// gonum's Dgemm(NoTrans, NoTrans, 1, W, aᵀ, 1, zᵀ), with zᵀ set to the
// bias, adds W[o][l]·aᵀ[l][j] into zᵀ[o][j] for l = 0, 1, ... in order
// (its blocks of k are taken in order too), skipping a zero weight, each
// product and each sum rounded on its own (f64.AxpyUnitary: MULPD, then
// ADDPD; no fused multiply-add). Layer does exactly that, but keeps 32
// rows' sums in registers across the whole sum instead of loading and
// storing zᵀ for every weight (AVX2), which is what the prediction of a
// large held-out split spent its time on.
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

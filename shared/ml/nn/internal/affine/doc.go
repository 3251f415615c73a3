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
//
// It imports nothing of this module.
package affine

// Package cholesky is the Gaussian-process posterior's Cholesky
// factorisation A = L·Lᵀ of a row-major symmetric positive definite matrix
// (lower triangle), blocked and right-looking (Golub & Van Loan 2013,
// "Matrix Computations", §4.2.9): each block of Block columns is factored
// in place, then its panel's product with itself is subtracted from the
// trailing matrix by a register-blocked micro-kernel (AVX2 with FMA
// assembly on amd64, Go elsewhere) over packed strips, in the manner of
// Goto and van de Geijn (ACM TOMS 34(3), 2008).
//
// Factor and ExtendRow fix one order of floating-point operations per
// element of L — the trailing updates block by block, each a fused
// multiply-add chain from zero subtracted once, then the chain within the
// element's own column block — so a factor grown row by row with ExtendRow
// (the bordered form, O(n²) a row) is bit-identical to one computed by
// Factor from scratch. The Bayesian optimizer relies on that: a study read
// back from JSON, which refactors its kernel matrix once, suggests exactly
// what the process that extended its factor in memory would have.
//
// Besides the standard library it uses golang.org/x/sys/cpu only. It
// imports nothing of this module.
package cholesky

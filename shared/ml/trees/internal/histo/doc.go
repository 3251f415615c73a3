// Package histo builds the per-feature gradient histograms of histogram
// gradient boosting (Ke et al., "LightGBM", NIPS 2017, Algorithm 1): for
// every row of a node, its gradient and hessian are added to the bin its
// feature value falls in, and its count to that bin's row count.
//
// A bin is four float64, (gradient sum, hessian sum, row count, pad), so
// that on amd64 a row's update is one 32-byte vector add and store (AVX2)
// instead of three scalar ones; the count is a float64 sum of ones, exact
// below 2^53 rows. The lanes are added in row order in IEEE double
// precision, as the Go loops used elsewhere add them, so both give the
// same bits.
//
// It imports nothing of this module.
package histo

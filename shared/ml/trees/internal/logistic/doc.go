// Package logistic computes binary log-loss gradients and hessians for
// gradient boosting: for raw score s and label y, p = 1/(1+exp(-s)),
// g = p − [y = 1] and h = max(p(1−p), 1e-16). On amd64 with AVX2 and FMA
// four rows go at a time, with math.Exp's own algorithm and constants
// (src/math/exp_amd64.s) in vector form, so the results are the same bits
// as the Go loop's; elsewhere, and for the rare rows whose score needs
// math.Exp's special cases, it is the Go loop.
//
// It imports nothing of this module.
package logistic

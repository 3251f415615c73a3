package affine

import "golang.org/x/sys/cpu"

var useAVX2 = cpu.X86.HasAVX2

// rows32 is Layer's sum for one output over n rows (a positive multiple
// of 32) of a, whose rows are stride apart: z[j] = bias + Σ_l w[l]·a[l*stride+j]
// over the in weights that are not zero, 32 rows at a time in eight AVX2
// registers (affine_amd64.s).
//
//go:noescape
func rows32(z, a, w *float64, in, stride int, bias float64, n int)

// vectorRows sums the first multiple of 32 rows of z with rows32 and
// returns how many it did.
func vectorRows(z, a, w []float64, bias float64) int {
	n := len(z) &^ 31
	if !useAVX2 || n == 0 || len(w) == 0 {
		return 0
	}
	rows32(&z[0], &a[0], &w[0], len(w), len(z), bias, n)
	return n
}

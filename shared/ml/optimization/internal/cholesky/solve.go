package cholesky

import "math"

// Lanes is the number of right-hand sides SolveLanes solves at once.
const Lanes = 8

// SolveLanes overwrites v (n×Lanes, row-major: v[i·Lanes+c] is element i
// of right-hand side c) with L⁻¹v by forward substitution, reading each
// row of the n×n lower factor l (row stride stride) once for all Lanes
// right-hand sides (the screening of candidates in the Bayesian optimizer:
// one pass over L instead of eight).
func SolveLanes(l []float64, n, stride int, v []float64) {
	if n == 0 {
		return
	}
	_ = l[(n-1)*stride+n-1]
	_ = v[n*Lanes-1]
	var acc [Lanes]float64
	for i := range n {
		vi := v[i*Lanes : (i+1)*Lanes]
		d := l[i*stride+i]
		if i == 0 {
			for c := range vi {
				vi[c] /= d
			}
			continue
		}
		dotLanes(l[i*stride:i*stride+i], v[:i*Lanes], &acc)
		for c := range vi {
			vi[c] = (vi[c] - acc[c]) / d
		}
	}
}

// dotLanesGo is dotLanes in Go: acc[c] = Σ_p x[p]·v[p·Lanes+c], in four
// interleaved partial sums (p mod 4 for the first len(x) − len(x) mod 4
// terms, the rest in the first), combined as (s0+s1) + (s2+s3) — the
// order of the assembly.
func dotLanesGo(x, v []float64, acc *[Lanes]float64) {
	var s [4][Lanes]float64
	k := len(x)
	main := k - k%4
	for p := 0; p < main; p++ {
		set := &s[p%4]
		row := v[p*Lanes : (p+1)*Lanes]
		for c := range Lanes {
			set[c] = math.FMA(x[p], row[c], set[c])
		}
	}
	for p := main; p < k; p++ {
		row := v[p*Lanes : (p+1)*Lanes]
		for c := range Lanes {
			s[0][c] = math.FMA(x[p], row[c], s[0][c])
		}
	}
	for c := range Lanes {
		acc[c] = (s[0][c] + s[1][c]) + (s[2][c] + s[3][c])
	}
}

// SolveLower overwrites x with L⁻¹x by forward substitution, one dot
// product per row of the n×n lower factor l (row stride stride).
func SolveLower(l []float64, n, stride int, x []float64) {
	_ = x[n-1]
	for i := range n {
		row := l[i*stride : i*stride+i+1]
		x[i] = (x[i] - dot(row[:i], x[:i])) / row[i]
	}
}

// SolveLowerT overwrites x with L⁻ᵀx by backward substitution, one axpy
// per row of l.
func SolveLowerT(l []float64, n, stride int, x []float64) {
	_ = x[n-1]
	for i := n - 1; i >= 0; i-- {
		row := l[i*stride : i*stride+i+1]
		x[i] /= row[i]
		axpy(-x[i], row[:i], x[:i])
	}
}

// dotGo is Σ x[p]·y[p] in Go (four partial sums).
func dotGo(x, y []float64) float64 {
	var s0, s1, s2, s3 float64
	y = y[:len(x)]
	p := 0
	for ; p+4 <= len(x); p += 4 {
		s0 += x[p] * y[p]
		s1 += x[p+1] * y[p+1]
		s2 += x[p+2] * y[p+2]
		s3 += x[p+3] * y[p+3]
	}
	for ; p < len(x); p++ {
		s0 += x[p] * y[p]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpyGo is y += alpha·x in Go, one fused multiply-add per element as
// the assembly.
func axpyGo(alpha float64, x, y []float64) {
	y = y[:len(x)]
	for p, v := range x {
		y[p] = math.FMA(alpha, v, y[p])
	}
}

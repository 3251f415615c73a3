package cholesky

import (
	"math"
	"runtime"
	"sync"
)

// Block is the number of columns factored together; the trailing updates
// of one block are one fused multiply-add chain per element.
const Block = 32

// tile is the side of the square tiles of the trailing update (two 4×8
// micro-kernel calls).
const tile = 8

// Factor overwrites the lower triangle of the n×n row-major matrix a (row
// stride stride ≥ n) with its Cholesky factor L, A = L·Lᵀ, and reports
// whether A was positive definite (every pivot > 0, none NaN). The strict
// upper triangle is neither read nor written. On false, a holds a partial
// factor.
func Factor(a []float64, n, stride int) bool {
	if n == 0 {
		return true
	}
	_ = a[(n-1)*stride+n-1]
	var pk []float64
	var out [2 * 4 * tile]float64
	for c0 := 0; c0 < n; c0 += Block {
		c1 := min(c0+Block, n)
		// The diagonal block, row by row.
		for i := c0; i < c1; i++ {
			ri := a[i*stride : i*stride+i+1]
			for j := c0; j < i; j++ {
				rj := a[j*stride : j*stride+j+1]
				ri[j] = (ri[j] - chain(ri[c0:j], rj[c0:j])) / rj[j]
			}
			t := ri[i] - chain(ri[c0:i], ri[c0:i])
			if !(t > 0) {
				return false
			}
			ri[i] = math.Sqrt(t)
		}
		if c1 == n {
			break
		}
		panel(a, n, stride, c0, c1)
		// Pack the panel's rows c1..n−1 (columns c0..c1−1) into strips of
		// tile rows: pk[s][p][r] = L[c1+tile·s+r][c0+p], zero past n.
		w := c1 - c0
		strips := (n - c1 + tile - 1) / tile
		need := strips * w * tile
		if cap(pk) < need {
			pk = make([]float64, need)
		}
		pk = pk[:need]
		for s := range strips {
			dst := pk[s*w*tile : (s+1)*w*tile]
			for r := range tile {
				i := c1 + s*tile + r
				if i >= n {
					for p := range w {
						dst[p*tile+r] = 0
					}
					continue
				}
				row := a[i*stride+c0 : i*stride+c1]
				for p, v := range row {
					dst[p*tile+r] = v
				}
			}
		}
		// Trailing update A[i][j] −= Σ_p L[i][p]·L[j][p], j ≤ i: strips
		// of rows are independent, so large updates are shared among
		// goroutines (each element still computed by one chain, so the
		// result does not depend on their number).
		update := func(lo, hi int, out []float64) {
			for si := lo; si < hi; si++ {
				trailingStrip(a, n, stride, pk, w, c1, si, out)
			}
		}
		if workers := parallelism(n - c1); workers > 1 {
			var wg sync.WaitGroup
			for k := range workers {
				lo, hi := triangleSplit(strips, k, workers), triangleSplit(strips, k+1, workers)
				wg.Go(func() {
					var out [2 * 4 * tile]float64
					update(lo, hi, out[:])
				})
			}
			wg.Wait()
		} else {
			update(0, strips, out[:])
		}
	}
	return true
}

// trailingStrip subtracts the block's products from strip si of the
// trailing matrix (rows c1+tile·si ...), tiles sj ≤ si, using out (2·4·tile
// values) as scratch.
func trailingStrip(a []float64, n, stride int, pk []float64, w, c1, si int, out []float64) {
	as := pk[si*w*tile : (si+1)*w*tile]
	for sj := 0; sj <= si; sj++ {
		bs := pk[sj*w*tile : (sj+1)*w*tile]
		kernel4x8(w, as, bs, out[:4*tile])
		kernel4x8(w, as[4:], bs, out[4*tile:])
		i0, j0 := c1+si*tile, c1+sj*tile
		for r := range tile {
			i := i0 + r
			if i >= n {
				break
			}
			row := a[i*stride : i*stride+i+1]
			for q := range tile {
				j := j0 + q
				if j > i {
					break
				}
				row[j] -= out[r*tile+q]
			}
		}
	}
}

// parallelRows is the number of trailing rows from which an update is
// shared among goroutines.
const parallelRows = 256

// parallelism is how many goroutines share work on rows rows of a lower
// triangle: one below parallelRows, else up to GOMAXPROCS (at most 4).
func parallelism(rows int) int {
	if rows < parallelRows {
		return 1
	}
	return min(runtime.GOMAXPROCS(0), 4)
}

// TriangleSplit returns the start of part k of workers parts of rows
// 0..n−1 of a lower triangle with about equal areas (row i costs about i):
// n·√(k/workers).
func TriangleSplit(n, k, workers int) int { return triangleSplit(n, k, workers) }

func triangleSplit(n, k, workers int) int {
	if k >= workers {
		return n
	}
	return int(float64(n) * math.Sqrt(float64(k)/float64(workers)))
}

// Parallelism is parallelism for callers filling a triangle of rows rows
// (the kernel matrix) before Factor.
func Parallelism(rows int) int { return parallelism(rows) }

// panel computes the columns c0..c1−1 of L below the diagonal block (rows
// c1..n−1) by forward substitution against the diagonal block, four rows
// at a time so that their chains overlap.
func panel(a []float64, n, stride, c0, c1 int) {
	i := c1
	for ; i+4 <= n; i += 4 {
		r0 := a[i*stride+c0 : i*stride+c1]
		r1 := a[(i+1)*stride+c0 : (i+1)*stride+c1]
		r2 := a[(i+2)*stride+c0 : (i+2)*stride+c1]
		r3 := a[(i+3)*stride+c0 : (i+3)*stride+c1]
		for j := range c1 - c0 {
			lj := a[(c0+j)*stride+c0 : (c0+j)*stride+c0+j+1]
			var s0, s1, s2, s3 float64
			for p, l := range lj[:j] {
				s0 = math.FMA(r0[p], l, s0)
				s1 = math.FMA(r1[p], l, s1)
				s2 = math.FMA(r2[p], l, s2)
				s3 = math.FMA(r3[p], l, s3)
			}
			d := lj[j]
			r0[j] = (r0[j] - s0) / d
			r1[j] = (r1[j] - s1) / d
			r2[j] = (r2[j] - s2) / d
			r3[j] = (r3[j] - s3) / d
		}
	}
	for ; i < n; i++ {
		ri := a[i*stride+c0 : i*stride+c1]
		for j := range c1 - c0 {
			lj := a[(c0+j)*stride+c0 : (c0+j)*stride+c0+j+1]
			ri[j] = (ri[j] - chain(ri[:j], lj[:j])) / lj[j]
		}
	}
}

// ExtendRow computes row n of the factor of the (n+1)×(n+1) matrix whose
// leading n×n block l (row stride stride) factors: on input row[:n] is
// row n of A left of the diagonal, on output the new row of L, with the
// same operations as Factor. It returns the pivot before its square root,
// t = A[n][n] − Σ L[n][p]², for the caller to test and take the root of
// (row[n] is left to the caller). len(row) ≥ n.
func ExtendRow(l []float64, n, stride int, row []float64, ann float64) float64 {
	for j := range n {
		lj := l[j*stride : j*stride+j+1]
		t := row[j]
		b0 := j - j%Block
		for b := 0; b < b0; b += Block {
			t -= chain(row[b:b+Block], lj[b:b+Block])
		}
		row[j] = (t - chain(row[b0:j], lj[b0:j])) / lj[j]
	}
	t := ann
	b0 := n - n%Block
	for b := 0; b < b0; b += Block {
		t -= chain(row[b:b+Block], row[b:b+Block])
	}
	return t - chain(row[b0:n], row[b0:n])
}

// chain is Σ x[p]·y[p] as fused multiply-adds from zero, in order.
func chain(x, y []float64) float64 {
	var s float64
	y = y[:len(x)]
	for p, v := range x {
		s = math.FMA(v, y[p], s)
	}
	return s
}

// kernel4x8Go is the micro-kernel in Go: out[r·8+q] = Σ_p a[p·8+r]·b[p·8+q]
// for r < 4, q < 8, each a fused multiply-add chain from zero in p order.
func kernel4x8Go(k int, a, b, out []float64) {
	_ = a[(k-1)*tile+3]
	_ = b[k*tile-1]
	for r := range 4 {
		for q := range tile {
			var s float64
			for p := range k {
				s = math.FMA(a[p*tile+r], b[p*tile+q], s)
			}
			out[r*tile+q] = s
		}
	}
}

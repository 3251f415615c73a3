package optimization

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/orrery-ml/orrery/shared/ml/optimization/internal/cholesky"
)

// errNotExtendable is returned by gp.extend when the new point would make
// the factor lose positive definiteness (a near-duplicate input); the caller
// refactors from scratch with jitter.
var errNotExtendable = errSingular

// extend adds one observation and recomputes α (see extendFactor).
func (g *gp) extend(r []float64, yv float64) error {
	if err := g.extendFactor(r); err != nil {
		return err
	}
	g.y = append(g.y[:g.n-1], yv)
	g.solveAlpha()
	return nil
}

// extendFactor adds one observation (input row r) to the GP by the
// bordered extension of its Cholesky factor, O(n²) instead of O(n³):
// with K' = [[K, k], [kᵀ, κ]], L' = [[L, 0], [lᵀ, λ]] where L l = k and
// λ = √(κ − lᵀl) (Golub & Van Loan 2013, "Matrix Computations", §4.2, the
// bordering form of the Cholesky factorization), computed by
// cholesky.ExtendRow in the order of operations of cholesky.Factor, so the
// extended factor is the one a factorisation from scratch would give. The
// hyperparameters and the jitter of the existing factor are kept; the
// caller sets the targets and α.
func (g *gp) extendFactor(r []float64) error {
	n, d := g.n, g.d
	if n >= g.chol.Stride {
		g.grow(max(2*n, n+16))
	}
	st := g.chol.Stride
	row := g.chol.Data[n*st : n*st+n+1]
	for i := range n {
		k, _ := matern52(scaledDist2(r, g.x[i*d:(i+1)*d], g.inv))
		row[i] = g.signal * k
	}
	piv := cholesky.ExtendRow(g.chol.Data, n, st, row, g.diagonal(g.jitter))
	if !(piv > 1e-12*g.signal) {
		clear(row)
		return errNotExtendable
	}
	row[n] = math.Sqrt(piv)
	g.x = append(g.x[:n*d], r...)
	g.n++
	g.chol.N = g.n
	return nil
}

// grow moves the factor into a buffer with room for stride rows.
func (g *gp) grow(stride int) {
	n, old := g.n, g.chol
	data := make([]float64, stride*stride)
	for i := range n {
		copy(data[i*stride:i*stride+i+1], old.Data[i*old.Stride:i*old.Stride+i+1])
	}
	g.chol = blas64.Triangular{Uplo: blas.Lower, Diag: blas.NonUnit, N: n, Stride: stride, Data: data}
}

// clone returns a GP sharing nothing mutable with g, so that fantasies added
// to the copy leave g (the study's cached posterior) as it was.
func (g *gp) clone(extra int) *gp {
	c := *g
	c.x = slices.Clone(g.x[:g.n*g.d])
	c.y = slices.Clone(g.y[:g.n])
	c.alpha = slices.Clone(g.alpha)
	c.kbuf = nil
	c.grow(g.n + extra)
	return &c
}

// posteriorCache is the Bayesian optimizer's GP from the last suggestion,
// kept in memory with the study (never serialised): the next suggestion
// with the same hyperparameters extends its factor by the trials completed
// since, O(n²) each, instead of refactoring in O(n³).
type posteriorCache struct {
	hyper   []float64 // gpHyper.vector() of the factor
	numbers []int     // trial numbers of the rows, in row order
	model   *gp
}

// cachedPosterior returns the GP conditioned on the rows x (n × D, in the
// order of numbers) with targets y, extending the study's cached factor
// when it holds a subset of the same trials under the same hyperparameters,
// and refactoring otherwise. The GP's rows may be in a different order
// from x (the posterior does not depend on it). The cache is updated; the
// returned GP is the cached one, to be cloned before fantasies are added.
func cachedPosterior(s *Study, x []float64, n, D int, y []float64, numbers []int, h gpHyper) (*gp, error) {
	hv := h.vector()
	if c := s.posterior; c != nil && c.model != nil && c.model.d == D && slices.Equal(c.hyper, hv) && len(c.numbers) <= n {
		idx := make(map[int]int, n)
		for i, num := range numbers {
			idx[num] = i
		}
		order := make([]int, 0, n)
		used := make([]bool, n)
		ok := true
		for k, num := range c.numbers {
			i, found := idx[num]
			if !found || !slices.Equal(x[i*D:(i+1)*D], c.model.x[k*D:(k+1)*D]) {
				ok = false
				break
			}
			order = append(order, i)
			used[i] = true
		}
		if ok {
			g := c.model
			g.n, g.chol.N = len(c.numbers), len(c.numbers)
			nums := slices.Clone(c.numbers)
			for i := range n {
				if used[i] {
					continue
				}
				if err := g.extendFactor(x[i*D : (i+1)*D]); err != nil {
					ok = false
					break
				}
				order = append(order, i)
				nums = append(nums, numbers[i])
			}
			if ok {
				g.y = g.y[:0]
				for _, i := range order {
					g.y = append(g.y, y[i])
				}
				g.solveAlpha()
				s.posterior = &posteriorCache{hyper: hv, numbers: nums, model: g}
				return g, nil
			}
		}
	}
	g, err := newGPCap(slices.Clone(x[:n*D]), n, D, slices.Clone(y[:n]), h, n+16)
	if err != nil {
		s.posterior = nil
		return nil, err
	}
	s.posterior = &posteriorCache{hyper: hv, numbers: slices.Clone(numbers[:n]), model: g}
	return g, nil
}

// newGPCap is newGP with room in the factor for stride−n more rows.
func newGPCap(x []float64, n, d int, y []float64, h gpHyper, stride int) (*gp, error) {
	g := &gp{x: x, n: n, d: d, y: y}
	g.setHyper(h)
	if err := g.factorCap(stride); err != nil {
		return nil, err
	}
	return g, nil
}

// solveLower overwrites x with L⁻¹x by forward substitution (an AVX2
// dot product per row; gonum's Dtrsv is a scalar loop with one
// accumulator, several times slower at hundreds of trials).
func solveLower(l blas64.Triangular, x []float64) {
	if l.N > 0 {
		cholesky.SolveLower(l.Data, l.N, l.Stride, x)
	}
}

// solveLowerT overwrites x with L⁻ᵀx by backward substitution (an AVX2
// axpy per row of L).
func solveLowerT(l blas64.Triangular, x []float64) {
	if l.N > 0 {
		cholesky.SolveLowerT(l.Data, l.N, l.Stride, x)
	}
}

package optimization

import (
	"math"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/optimize"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/optimization/internal/cholesky"
)

// errSingular is returned when the kernel matrix stays indefinite after the
// largest jitter.
var errSingular = fault.New(fault.Internal, "optimization: kernel matrix not positive definite")

// gpHyper are a GP's kernel hyperparameters on the log scale: one log
// length scale per input column, the log signal variance and the log noise
// variance.
type gpHyper struct {
	LogLength []float64 `json:"log_length"`
	LogSignal float64   `json:"log_signal"`
	LogNoise  float64   `json:"log_noise"`
	// Linear records that the targets were standardised without the log
	// warp (BayesianOptimizer.fitTargets).
	Linear bool `json:"linear,omitempty"`
	// Trials is the number of observations the hyperparameters were
	// fitted to; the next fit waits for refitInterval more (0: fit now).
	Trials int `json:"trials,omitempty"`
}

func (h gpHyper) vector() []float64 {
	return append(append([]float64(nil), h.LogLength...), h.LogSignal, h.LogNoise)
}

func hyperFromVector(v []float64) gpHyper {
	d := len(v) - 2
	return gpHyper{LogLength: append([]float64(nil), v[:d]...), LogSignal: v[d], LogNoise: v[d+1]}
}

// Bounds of the log hyperparameters (targets are standardised, inputs lie in
// the unit cube). The noise floor keeps deterministic objectives
// well-conditioned.
const (
	minLogLength = -4.6 // 0.01
	maxLogLength = 4.6  // 100
	minLogSignal = -4.6
	maxLogSignal = 3.0
	minLogNoise  = -18.4 // 1e-8
	maxLogNoise  = 0.0
)

// defaultHyper is the starting point of the first fit.
func defaultHyper(d int) gpHyper {
	l := make([]float64, d)
	for i := range l {
		l[i] = math.Log(0.5)
	}
	return gpHyper{LogLength: l, LogSignal: 0, LogNoise: math.Log(1e-4)}
}

// logPrior is the log density (up to a constant) of the hyperparameter
// priors, normal on the log scale: log l ~ N(log 0.5, 1) for each length
// scale of the unit-cube inputs (in the spirit of the log-normal priors of
// Hvarfner, Hellsten & Nardi 2024, "Vanilla Bayesian Optimization Performs
// Great in High Dimensions"), log σ² ~ N(0, 1) for the signal variance of
// standardised targets and log σn² ~ N(−14, 2²) for the noise, which
// lets noisy objectives (validation metrics) claim noise while deterministic
// ones fit nearly interpolating models. It adds its derivatives to grad.
func logPrior(v []float64, grad []float64) float64 {
	d := len(v) - 2
	var lp float64
	normal := func(i int, mean, sd float64) {
		z := (v[i] - mean) / sd
		lp -= 0.5 * z * z
		if grad != nil {
			grad[i] -= z / sd
		}
	}
	for i := range d {
		normal(i, math.Log(0.5), 1)
	}
	normal(d, 0, 1)
	normal(d+1, -14, 2)
	return lp
}

// gp is a Gaussian-process regression model with a Matérn 5/2 ARD kernel
// (Rasmussen & Williams 2006, ch. 4 eq. 4.17; ch. 5 for the marginal
// likelihood and its gradient) on standardised targets.
type gp struct {
	x      []float64 // n × d inputs
	n, d   int
	y      []float64 // standardised targets
	hyper  gpHyper
	ls     []float64 // length scales
	inv    []float64 // their inverses
	signal float64
	noise  float64
	chol   blas64.Triangular // lower Cholesky factor of K + (noise + jitter) I; Stride ≥ N leaves room to extend
	jitter float64           // the jitter (a fraction of the signal variance) the factor needed
	alpha  []float64         // K⁻¹ y
	kbuf   []float64
}

// matern52 returns k(r)/σ² and g(r) = (5/3)(1+√5 r)exp(−√5 r), where
// dk/dx_j = −σ² g(r) (x_j − z_j)/l_j² and ∂k/∂log l_j = σ² g(r) (Δ_j/l_j)².
func matern52(r2 float64) (k, g float64) {
	r := math.Sqrt(r2)
	s5r := math.Sqrt(5) * r
	e := math.Exp(-s5r)
	return (1 + s5r + 5.0/3.0*r2) * e, 5.0 / 3.0 * (1 + s5r) * e
}

// scaledDist2 is Σ ((a_j − b_j)/l_j)², given inv_j = 1/l_j (a product
// instead of a division per term: the kernel matrix at 1,000 trials has
// half a million entries).
func scaledDist2(a, b, inv []float64) float64 {
	var s float64
	b = b[:len(inv)]
	a = a[:len(inv)]
	for j, il := range inv {
		t := (a[j] - b[j]) * il
		s += t * t
	}
	return s
}

// newGP builds the model for hyperparameters h, factorising the kernel
// matrix with increasing jitter until it is positive definite.
func newGP(x []float64, n, d int, y []float64, h gpHyper) (*gp, error) {
	g := &gp{x: x, n: n, d: d, y: y}
	g.setHyper(h)
	if err := g.factor(); err != nil {
		return nil, err
	}
	return g, nil
}

func (g *gp) setHyper(h gpHyper) {
	g.hyper = h
	g.ls, g.inv = make([]float64, g.d), make([]float64, g.d)
	for j := range g.ls {
		g.ls[j] = math.Exp(h.LogLength[j])
		g.inv[j] = 1 / g.ls[j]
	}
	g.signal, g.noise = math.Exp(h.LogSignal), math.Exp(h.LogNoise)
}

// kernelInto fills the lower triangle of K + (noise + jitter·signal)·I
// into a (row stride stride).
// Large matrices are filled by several goroutines, rows split into parts
// of equal area (each entry is computed the same way by any of them).
func (g *gp) kernelInto(a []float64, stride int, jitter float64) {
	n, d := g.n, g.d
	diag := g.diagonal(jitter)
	fill := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xi := g.x[i*d : (i+1)*d]
			row := a[i*stride : i*stride+i+1]
			for j := range i {
				k, _ := matern52(scaledDist2(xi, g.x[j*d:(j+1)*d], g.inv))
				row[j] = g.signal * k
			}
			row[i] = diag
		}
	}
	workers := cholesky.Parallelism(n)
	if workers == 1 {
		fill(0, n)
		return
	}
	var wg sync.WaitGroup
	for k := range workers {
		lo, hi := cholesky.TriangleSplit(n, k, workers), cholesky.TriangleSplit(n, k+1, workers)
		wg.Go(func() { fill(lo, hi) })
	}
	wg.Wait()
}

// diagonal is K's diagonal with the noise and the jitter (a fraction of
// the signal variance): Factor and ExtendRow see the same value.
func (g *gp) diagonal(jitter float64) float64 {
	return g.signal + (g.noise + jitter*g.signal)
}

// jitters are the fractions of the signal variance added to the diagonal,
// in turn, until the kernel matrix factors.
var jitters = [...]float64{0, 1e-8, 1e-6, 1e-4, 1e-2}

// factor computes the Cholesky factor (Cholesky with jitter: 0, then 1e-8,
// 1e-6, ... of the signal variance added to the diagonal) and α = K⁻¹y.
func (g *gp) factor() error { return g.factorCap(g.n) }

// factorCap is factor with room for stride−n more rows (gp.extend). The
// factor is cholesky.Factor's, which ExtendRow reproduces bit for bit, so
// a GP grown by extend equals one factored from scratch.
func (g *gp) factorCap(stride int) error {
	n := g.n
	stride = max(stride, n)
	a := make([]float64, stride*stride)
	for _, jitter := range jitters {
		g.kernelInto(a, stride, jitter)
		if cholesky.Factor(a, n, stride) {
			g.chol = blas64.Triangular{Uplo: blas.Lower, Diag: blas.NonUnit, N: n, Stride: stride, Data: a}
			g.jitter = jitter
			g.solveAlpha()
			return nil
		}
	}
	return errSingular
}

// solveAlpha computes α = K⁻¹y from the factor: two triangular solves.
func (g *gp) solveAlpha() {
	n := g.n
	g.alpha = append(g.alpha[:0], g.y[:n]...)
	solveLower(g.chol, g.alpha)
	solveLowerT(g.chol, g.alpha)
}

// negLogPosterior returns −(log marginal likelihood + log prior) at the log
// hyperparameters v, and its gradient into grad when non-nil:
// ∂LML/∂θ = ½ tr((ααᵀ − K⁻¹) ∂K/∂θ).
func negLogPosterior(x []float64, n, d int, y []float64, v, grad []float64) float64 {
	g := &gp{x: x, n: n, d: d, y: y}
	g.setHyper(hyperFromVector(v))
	if err := g.factor(); err != nil {
		if grad != nil {
			clear(grad)
		}
		return math.Inf(1)
	}
	var quad, logdet float64
	for i := range n {
		quad += y[i] * g.alpha[i]
		logdet += math.Log(g.chol.Data[i*n+i])
	}
	lml := -0.5*quad - logdet - 0.5*float64(n)*math.Log(2*math.Pi)
	if grad == nil {
		return -(lml + logPrior(v, nil))
	}
	clear(grad)
	inv, ok := lapack64.Potri(g.chol)
	if !ok {
		return math.Inf(1)
	}
	// W = ααᵀ − K⁻¹ (lower triangle used, off-diagonals counted twice).
	for i := range n {
		xi := x[i*d : (i+1)*d]
		for j := 0; j <= i; j++ {
			w := g.alpha[i]*g.alpha[j] - inv.Data[i*n+j]
			if i != j {
				w *= 2
			}
			xj := x[j*d : (j+1)*d]
			r2 := scaledDist2(xi, xj, g.inv)
			k, gg := matern52(r2)
			grad[d] += 0.5 * w * g.signal * k
			if i == j {
				grad[d+1] += 0.5 * w * g.noise
				continue
			}
			c := 0.5 * w * g.signal * gg
			for m, l := range g.ls {
				t := (xi[m] - xj[m]) / l
				grad[m] += c * t * t
			}
		}
	}
	lp := logPrior(v, grad)
	for i := range grad {
		grad[i] = -grad[i]
	}
	return -(lml + lp)
}

// clampHyper keeps log hyperparameters within their bounds.
func clampHyper(v []float64) {
	d := len(v) - 2
	for i := range d {
		v[i] = math.Min(math.Max(v[i], minLogLength), maxLogLength)
	}
	v[d] = math.Min(math.Max(v[d], minLogSignal), maxLogSignal)
	v[d+1] = math.Min(math.Max(v[d+1], minLogNoise), maxLogNoise)
}

// fitGP maximises the log marginal likelihood (with the priors) over the
// hyperparameters with L-BFGS (gonum/optimize) from each start, box
// constraints enforced by clamping inside the objective, and returns the
// best hyperparameters found. maxEvals bounds each run's evaluations.
func fitGP(x []float64, n, d int, y []float64, starts []gpHyper, maxEvals int) gpHyper {
	best, bestF := starts[0], math.Inf(1)
	for _, s := range starts {
		v0 := s.vector()
		clampHyper(v0)
		w := make([]float64, len(v0))
		p := optimize.Problem{
			Func: func(v []float64) float64 {
				copy(w, v)
				clampHyper(w)
				return negLogPosterior(x, n, d, y, w, nil) + boxPenalty(v, w)
			},
			Grad: func(grad, v []float64) {
				copy(w, v)
				clampHyper(w)
				negLogPosterior(x, n, d, y, w, grad)
				for i := range v {
					if v[i] != w[i] {
						grad[i] = 2 * (v[i] - w[i])
					}
				}
			},
		}
		res, err := optimize.Minimize(p, v0, &optimize.Settings{FuncEvaluations: maxEvals, GradientThreshold: 1e-4,
			Converger: &optimize.FunctionConverge{Absolute: 1e-6, Iterations: 10}}, &optimize.LBFGS{})
		cand := v0
		f := negLogPosterior(x, n, d, y, v0, nil)
		if err == nil || res != nil {
			if res != nil {
				c := append([]float64(nil), res.X...)
				clampHyper(c)
				if fc := negLogPosterior(x, n, d, y, c, nil); fc < f {
					cand, f = c, fc
				}
			}
		}
		if f < bestF {
			best, bestF = hyperFromVector(cand), f
		}
	}
	return best
}

// boxPenalty is a quadratic penalty for leaving the box, so the line search
// comes back.
func boxPenalty(v, w []float64) float64 {
	var p float64
	for i := range v {
		t := v[i] - w[i]
		p += t * t
	}
	return p
}

// predict returns the posterior mean and variance at z (one input row),
// using buf (length 2n) as scratch; with grads non-nil (length 2d) it writes
// ∂μ/∂z into grads[:d] and ∂σ²/∂z into grads[d:].
func (g *gp) predict(z []float64, buf []float64, grads []float64) (mu, v float64) {
	n, d := g.n, g.d
	ks, kv := buf[:n], buf[n:2*n]
	gs := g.kbuf
	if grads != nil && len(gs) < n {
		gs = make([]float64, n)
		g.kbuf = gs
	}
	for i := range n {
		k, gg := matern52(scaledDist2(z, g.x[i*d:(i+1)*d], g.inv))
		ks[i] = g.signal * k
		if grads != nil {
			gs[i] = g.signal * gg
		}
		mu += ks[i] * g.alpha[i]
	}
	copy(kv, ks)
	solveLower(g.chol, kv)
	var q float64
	for _, t := range kv {
		q += t * t
	}
	v = math.Max(g.signal-q, 1e-12*g.signal)
	if grads == nil {
		return mu, v
	}
	// w = L⁻ᵀ L⁻¹ k*, so ∂σ²/∂z = −2 Σ_i w_i ∂k_i/∂z.
	solveLowerT(g.chol, kv)
	clear(grads)
	for i := range n {
		xi := g.x[i*d : (i+1)*d]
		for j, l := range g.ls {
			dk := -gs[i] * (z[j] - xi[j]) / (l * l)
			grads[j] += g.alpha[i] * dk
			grads[d+j] += -2 * kv[i] * dk
		}
	}
	return mu, v
}

// predictLanes is predict without gradients for up to cholesky.Lanes
// inputs at once, in one pass over the factor (cholesky.SolveLanes): it
// writes their posterior means into mu and variances into v. scratch holds
// n·cholesky.Lanes values. The means are predict's to the bit; the
// variances may differ from its in the last places (another summation
// order).
func (g *gp) predictLanes(zs [][]float64, scratch, mu, v []float64) {
	const lanes = cholesky.Lanes
	n, d := g.n, g.d
	w := scratch[:n*lanes]
	clear(w)
	for c, z := range zs {
		var m float64
		for i := range n {
			k, _ := matern52(scaledDist2(z, g.x[i*d:(i+1)*d], g.inv))
			ks := g.signal * k
			w[i*lanes+c] = ks
			m += ks * g.alpha[i]
		}
		mu[c] = m
	}
	cholesky.SolveLanes(g.chol.Data, n, g.chol.Stride, w)
	var q [lanes]float64
	for i := range n {
		for c, t := range w[i*lanes : (i+1)*lanes] {
			q[c] += t * t
		}
	}
	for c := range zs {
		v[c] = math.Max(g.signal-q[c], 1e-12*g.signal)
	}
}

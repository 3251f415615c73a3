package optimization

import "math"

// Constants of the logEI evaluation.
var (
	logSqrt2Pi   = 0.5 * math.Log(2*math.Pi)
	logSqrtPiBy2 = 0.5 * math.Log(math.Pi/2)
	invSqrtEps   = 1 / math.Sqrt(2.220446049250313e-16)
)

// erfcx is the scaled complementary error function exp(x²)·erfc(x), with
// its asymptotic series for large x where erfc underflows (Abramowitz &
// Stegun 7.1.23).
func erfcx(x float64) float64 {
	if x < 25 {
		return math.Exp(x*x) * math.Erfc(x)
	}
	x2 := x * x
	return (1 - 1/(2*x2) + 3/(4*x2*x2) - 15/(8*x2*x2*x2)) / (x * math.Sqrt(math.Pi))
}

// log1mexp is log(1 − exp(x)) for x < 0, accurate on both sides of −log 2
// (Mächler 2012, "Accurately Computing log(1 − exp(−|a|))").
func log1mexp(x float64) float64 {
	if x > -math.Ln2 {
		return math.Log(-math.Expm1(x))
	}
	return math.Log1p(-math.Exp(x))
}

// logH is log h(z) with h(z) = φ(z) + zΦ(z), the expected improvement of a
// standard normal over −z, computed without cancellation or underflow for
// very negative z as in Ament et al. 2023, "Unexpected Improvements to
// Expected Improvement for Bayesian Optimization" (NeurIPS), eq. 9.
func logH(z float64) float64 {
	switch {
	case z > -1:
		phi := math.Exp(-0.5*z*z) / math.Sqrt(2*math.Pi)
		return math.Log(phi + z*0.5*math.Erfc(-z/math.Sqrt2))
	case z > -invSqrtEps:
		return -0.5*z*z - logSqrt2Pi + log1mexp(math.Log(erfcx(-z/math.Sqrt2)*math.Abs(z))+logSqrtPiBy2)
	default:
		return -0.5*z*z - logSqrt2Pi - 2*math.Log(math.Abs(z))
	}
}

// logPhi is log Φ(z), stable for very negative z.
func logPhi(z float64) float64 {
	if z > -5 {
		return math.Log(0.5 * math.Erfc(-z/math.Sqrt2))
	}
	return math.Log(0.5*erfcx(-z/math.Sqrt2)) - 0.5*z*z
}

// logEI returns log EI for minimisation, log E[max(best − f, 0)] with f ~
// N(mu, v), and the derivatives of log EI with respect to mu and v:
// log EI = log σ + log h(z), z = (best − μ)/σ, d log h/dz = Φ(z)/h(z).
func logEI(mu, v, best float64) (val, dmu, dv float64) {
	s := math.Sqrt(v)
	z := (best - mu) / s
	lh := logH(z)
	val = math.Log(s) + lh
	ratio := math.Exp(logPhi(z) - lh) // Φ(z)/h(z)
	// dz/dμ = −1/σ; dz/dv = −z/(2v); d log σ/dv = 1/(2v).
	dmu = -ratio / s
	dv = 1/(2*v) - ratio*z/(2*v)
	return val, dmu, dv
}

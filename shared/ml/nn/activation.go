package nn

import (
	"fmt"
	"math"
)

// activation is the parsed form of Spec.Activation.
type activation int

const (
	actReLU activation = iota
	actTanh
	actGELU
	actSigmoid
)

func parseActivation(name string) (activation, error) {
	switch name {
	case ActivationReLU:
		return actReLU, nil
	case ActivationTanh:
		return actTanh, nil
	case ActivationGELU:
		return actGELU, nil
	case ActivationSigmoid:
		return actSigmoid, nil
	}
	return 0, fmt.Errorf("%w: activation %q is not one of relu, tanh, gelu, sigmoid", ErrInvalidSpec, name)
}

const (
	invSqrt2   = 0.70710678118654752440084436210484903928483593768847 // 1/√2
	invSqrt2Pi = 0.39894228040143267793994605993438186847585863116493 // 1/√(2π)
)

// sigmoid is the logistic function, written so that neither branch
// overflows.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// float is the element type of a training workspace: the float64 engine
// and the float32 one share the element-wise code below, each
// instantiation compiled for its own type (no dictionary on this path).
type float interface{ float32 | float64 }

// activate writes h = f(z) element-wise. Tanh, GELU and sigmoid are
// evaluated in float64 and rounded to T.
func activate[T float](a activation, z, h []T) {
	h = h[:len(z)]
	switch a {
	case actReLU:
		// max(v, 0) compiles branch-free (-0 becomes +0, NaN stays NaN).
		for i, v := range z {
			h[i] = max(v, 0)
		}
	case actTanh:
		for i, v := range z {
			h[i] = T(math.Tanh(float64(v)))
		}
	case actGELU:
		// Exact GELU, x·Φ(x) with Φ the standard normal CDF, as
		// torch.nn.GELU(approximate='none').
		for i, v := range z {
			x := float64(v)
			h[i] = T(0.5 * x * (1 + math.Erf(x*invSqrt2)))
		}
	case actSigmoid:
		for i, v := range z {
			h[i] = T(sigmoid(float64(v)))
		}
	}
}

// scaleByDerivative multiplies d element-wise by f'(z), where h = f(z) is the
// activation computed from z.
func scaleByDerivative[T float](a activation, z, h, d []T) {
	d = d[:len(z)]
	h = h[:len(z)]
	switch a {
	case actReLU:
		// Branch-free, on the bits of each width (the switch is on the
		// instantiation, once per call, and does not allocate).
		switch h := any(h).(type) {
		case []float64:
			reluGrad64(h, any(d).([]float64))
		case []float32:
			reluGrad32(h, any(d).([]float32))
		}
	case actTanh:
		for i, v := range h {
			d[i] *= 1 - v*v
		}
	case actGELU:
		// d/dx x·Φ(x) = Φ(x) + x·φ(x).
		for i, v := range z {
			x := float64(v)
			cdf := 0.5 * (1 + math.Erf(x*invSqrt2))
			pdf := invSqrt2Pi * math.Exp(-0.5*x*x)
			d[i] *= T(cdf + x*pdf)
		}
	case actSigmoid:
		for i, v := range h {
			d[i] *= v * (1 - v)
		}
	}
}

// reluGrad64 keeps d where h = max(z, 0) is non-zero (z > 0), without a
// branch: the signs of z are random, so a branch would mispredict half the
// time.
func reluGrad64(h, d []float64) {
	d = d[:len(h)]
	for i, v := range h {
		b := math.Float64bits(v)
		nonzero := (b | -b) >> 63 // 1 when b != 0
		d[i] = math.Float64frombits(math.Float64bits(d[i]) & -nonzero)
	}
}

// reluGrad32 is reluGrad64 for float32.
func reluGrad32(h, d []float32) {
	d = d[:len(h)]
	for i, v := range h {
		b := math.Float32bits(v)
		nonzero := (b | -b) >> 31
		d[i] = math.Float32frombits(math.Float32bits(d[i]) & -nonzero)
	}
}

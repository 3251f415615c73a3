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

// activate writes h = f(z) element-wise.
func activate(a activation, z, h []float64) {
	h = h[:len(z)]
	switch a {
	case actReLU:
		// Branch-free max(v, 0): clear every bit when the sign bit is set
		// (-0 becomes +0; NaN with a clear sign bit stays NaN).
		for i, v := range z {
			b := math.Float64bits(v)
			h[i] = math.Float64frombits(b &^ uint64(int64(b)>>63))
		}
	case actTanh:
		for i, v := range z {
			h[i] = math.Tanh(v)
		}
	case actGELU:
		// Exact GELU, x·Φ(x) with Φ the standard normal CDF, as
		// torch.nn.GELU(approximate='none').
		for i, v := range z {
			h[i] = 0.5 * v * (1 + math.Erf(v*invSqrt2))
		}
	case actSigmoid:
		for i, v := range z {
			h[i] = sigmoid(v)
		}
	}
}

// scaleByDerivative multiplies d element-wise by f'(z), where h = f(z) is the
// activation computed from z.
func scaleByDerivative(a activation, z, h, d []float64) {
	d = d[:len(z)]
	h = h[:len(z)]
	switch a {
	case actReLU:
		// Branch-free: keep d where h = max(z, 0) is non-zero (z > 0). The
		// signs of z are random, so a branch would mispredict half the time.
		for i, v := range h {
			b := math.Float64bits(v)
			nonzero := (b | -b) >> 63 // 1 when b != 0
			d[i] = math.Float64frombits(math.Float64bits(d[i]) & -nonzero)
		}
	case actTanh:
		for i, v := range h {
			d[i] *= 1 - v*v
		}
	case actGELU:
		// d/dx x·Φ(x) = Φ(x) + x·φ(x).
		for i, v := range z {
			cdf := 0.5 * (1 + math.Erf(v*invSqrt2))
			pdf := invSqrt2Pi * math.Exp(-0.5*v*v)
			d[i] *= cdf + v*pdf
		}
	case actSigmoid:
		for i, v := range h {
			d[i] *= v * (1 - v)
		}
	}
}

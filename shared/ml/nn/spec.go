package nn

import (
	"fmt"
	"math"

	"github.com/orrery-ml/orrery/shared/fault"
)

// Model types understood by Spec.
const (
	ModelMLP                = "mlp"
	ModelLogisticRegression = "logistic_regression"
)

// Activation names understood by Spec.
const (
	ActivationReLU    = "relu"
	ActivationTanh    = "tanh"
	ActivationGELU    = "gelu"
	ActivationSigmoid = "sigmoid"
)

// maxParams bounds the parameter count of a network (1 GiB of float64), so a
// malformed spec cannot ask for an absurd allocation.
const maxParams = 1 << 27

// ErrInvalidSpec is wrapped by every error about a malformed Spec.
var ErrInvalidSpec = fault.New(fault.Invalid, "nn: invalid spec")

// Spec describes a network's architecture. Binary tasks use Outputs = 1 (a
// sigmoid on one logit); K-class tasks use Outputs = K (softmax).
// Logistic regression is a network without hidden layers.
type Spec struct {
	ModelType  string  `json:"model_type"`
	Inputs     int     `json:"inputs"`
	Hidden     []int   `json:"hidden"`
	Outputs    int     `json:"outputs"`
	Activation string  `json:"activation"`
	Dropout    float64 `json:"dropout"`
}

// Classes returns the number of classes the network predicts: 2 for a
// single-logit network, Outputs otherwise.
func (s Spec) Classes() int {
	if s.Outputs == 1 {
		return 2
	}
	return s.Outputs
}

// Widths returns the layer widths from input to output:
// Inputs, Hidden..., Outputs.
func (s Spec) Widths() []int {
	w := make([]int, 0, len(s.Hidden)+2)
	w = append(w, s.Inputs)
	w = append(w, s.Hidden...)
	return append(w, s.Outputs)
}

// Validate reports the first thing wrong with s, wrapping ErrInvalidSpec.
func (s Spec) Validate() error {
	switch s.ModelType {
	case ModelMLP:
	case ModelLogisticRegression:
		if len(s.Hidden) > 0 {
			return fmt.Errorf("%w: logistic_regression has no hidden layers, got %v", ErrInvalidSpec, s.Hidden)
		}
	default:
		return fmt.Errorf("%w: model_type %q is not %s or %s", ErrInvalidSpec, s.ModelType, ModelMLP, ModelLogisticRegression)
	}
	if s.Inputs < 1 {
		return fmt.Errorf("%w: inputs is %d, want at least 1", ErrInvalidSpec, s.Inputs)
	}
	if s.Outputs < 1 {
		return fmt.Errorf("%w: outputs is %d, want 1 (binary) or the number of classes", ErrInvalidSpec, s.Outputs)
	}
	for i, h := range s.Hidden {
		if h < 1 {
			return fmt.Errorf("%w: hidden[%d] is %d, want at least 1", ErrInvalidSpec, i, h)
		}
	}
	if len(s.Hidden) > 0 || s.Activation != "" {
		if _, err := parseActivation(s.Activation); err != nil {
			return err
		}
	}
	if math.IsNaN(s.Dropout) || s.Dropout < 0 || s.Dropout >= 1 {
		return fmt.Errorf("%w: dropout %v is not in [0, 1)", ErrInvalidSpec, s.Dropout)
	}
	total := 0
	w := s.Widths()
	for l := 1; l < len(w); l++ {
		if w[l] > maxParams || w[l-1] > maxParams/w[l] {
			return fmt.Errorf("%w: layer %d (%d×%d) is too large", ErrInvalidSpec, l-1, w[l], w[l-1])
		}
		total += w[l]*w[l-1] + w[l]
		if total > maxParams {
			return fmt.Errorf("%w: more than %d parameters", ErrInvalidSpec, maxParams)
		}
	}
	return nil
}

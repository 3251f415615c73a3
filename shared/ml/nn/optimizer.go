package nn

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"math"

	"github.com/orrery-ml/orrery/shared/ml/nn/internal/vec"
)

// Optimizer names.
const (
	SGD      = "sgd"
	Momentum = "momentum"
	Adam     = "adam"
	AdamW    = "adamw"
	RMSprop  = "rmsprop"
)

// Constants of the update rules, PyTorch's defaults.
const (
	adamBeta1   = 0.9
	adamBeta2   = 0.999
	adamEps     = 1e-8
	rmspropRho  = 0.99 // torch's alpha
	rmspropEps  = 1e-8
	optStateVer = 1
)

// OptimizerConfig chooses and tunes an optimizer.
type OptimizerConfig struct {
	// Name is sgd, momentum, adam, adamw or rmsprop.
	Name string
	// Momentum is the momentum factor of "momentum" (ignored otherwise).
	Momentum float64
	// WeightDecay is the decoupled weight decay of "adamw", applied to the
	// weights only (ignored otherwise: other optimizers get an L2 penalty
	// through Workspace.Backward).
	WeightDecay float64
}

// Optimizer updates a network's parameter vector from its gradient following
// PyTorch's update rules (torch.optim, default arguments):
//
//	sgd:      p -= lr·g
//	momentum: b = μ·b + g; p -= lr·b                       (SGD, dampening 0, not Nesterov)
//	adam:     m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
//	          p -= (lr/(1-β1ᵗ))·m / (√v/√(1-β2ᵗ) + ε)        (β1 0.9, β2 0.999, ε 1e-8)
//	adamw:    p -= lr·λ·p on weights (not biases), then the adam step
//	rmsprop:  v = α·v + (1-α)·g²; p -= lr·g/(√v + ε)        (α 0.99, ε 1e-8, no momentum)
//
// AdamW's decay on weights only corresponds to torch.optim.AdamW with the
// biases in a parameter group of weight_decay 0. Its state (step count and
// moment buffers) round-trips through MarshalBinary/UnmarshalBinary for
// checkpoints.
type Optimizer struct {
	cfg   OptimizerConfig
	step  int64
	m, v  []float64
	decay [][2]int             // [lo, hi) ranges of the weights in the parameter vector
	adam  vec.AdamCoefficients // of the last step, kept here so that Step does not allocate
}

// NewOptimizer returns an optimizer for the parameters of n.
func NewOptimizer(cfg OptimizerConfig, n *Network) (*Optimizer, error) {
	switch cfg.Name {
	case SGD, Momentum, Adam, AdamW, RMSprop:
	default:
		return nil, fmt.Errorf("nn: optimizer %q is not one of sgd, momentum, adam, adamw, rmsprop", cfg.Name)
	}
	if math.IsNaN(cfg.Momentum) || cfg.Momentum < 0 || cfg.Momentum >= 1 {
		return nil, fmt.Errorf("nn: momentum %v is not in [0, 1)", cfg.Momentum)
	}
	if math.IsNaN(cfg.WeightDecay) || cfg.WeightDecay < 0 || math.IsInf(cfg.WeightDecay, 0) {
		return nil, fmt.Errorf("nn: weight decay %v is not a non-negative number", cfg.WeightDecay)
	}
	o := &Optimizer{cfg: cfg}
	size := len(n.params)
	switch cfg.Name {
	case Momentum, RMSprop:
		o.m = make([]float64, size)
	case Adam, AdamW:
		o.m = make([]float64, size)
		o.v = make([]float64, size)
	}
	off := 0
	for _, l := range n.Layers {
		o.decay = append(o.decay, [2]int{off, off + len(l.W)})
		off += len(l.W) + len(l.B)
	}
	return o, nil
}

// Config returns the optimizer's configuration.
func (o *Optimizer) Config() OptimizerConfig { return o.cfg }

// Steps returns the number of steps taken.
func (o *Optimizer) Steps() int64 { return o.step }

// Step applies one update with learning rate lr to params given their
// gradient grad (both in the layout of Network.Params).
func (o *Optimizer) Step(params, grad []float64, lr float64) error {
	if len(params) != len(grad) || (o.m != nil && len(o.m) != len(params)) {
		return fmt.Errorf("nn: optimizer step on %d parameters with %d gradients (state for %d)", len(params), len(grad), len(o.m))
	}
	o.step++
	switch o.cfg.Name {
	case SGD:
		for i, g := range grad {
			params[i] -= lr * g
		}
	case Momentum:
		mu := o.cfg.Momentum
		buf := o.m[:len(params)]
		for i, g := range grad {
			b := mu*buf[i] + g
			buf[i] = b
			params[i] -= lr * b
		}
	case RMSprop:
		sq := o.m[:len(params)]
		for i, g := range grad {
			s := rmspropRho*sq[i] + (1-rmspropRho)*g*g
			sq[i] = s
			params[i] -= lr * g / (math.Sqrt(s) + rmspropEps)
		}
	case Adam, AdamW:
		if o.cfg.Name == AdamW && o.cfg.WeightDecay != 0 {
			f := 1 - lr*o.cfg.WeightDecay
			for _, r := range o.decay {
				for i := r[0]; i < r[1]; i++ {
					params[i] *= f
				}
			}
		}
		t := float64(o.step)
		bc1 := 1 - math.Pow(adamBeta1, t)
		bc2 := 1 - math.Pow(adamBeta2, t)
		// Vectorised where the CPU allows, with the bits of the scalar loop.
		o.adam = vec.AdamCoefficients{Beta1: adamBeta1, OneMinusBeta1: 1 - adamBeta1,
			Beta2: adamBeta2, OneMinusBeta2: 1 - adamBeta2,
			StepSize: lr / bc1, InvSqrtBC2: 1 / math.Sqrt(bc2), Eps: adamEps}
		vec.Adam(params, grad, o.m, o.v, &o.adam)
	}
	return nil
}

// optimizerState is the serialised form of an Optimizer.
type optimizerState struct {
	Version int
	Config  OptimizerConfig
	Step    int64
	M, V    []float64
}

// MarshalBinary encodes the optimizer's configuration and state.
func (o *Optimizer) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(optimizerState{Version: optStateVer, Config: o.cfg, Step: o.step, M: o.m, V: o.v}); err != nil {
		return nil, fmt.Errorf("nn: encode %s optimizer state: %w", o.cfg.Name, err)
	}
	return b.Bytes(), nil
}

// UnmarshalBinary restores state written by MarshalBinary. The state must
// come from an optimizer of the same configuration and parameter count.
func (o *Optimizer) UnmarshalBinary(data []byte) error {
	var s optimizerState
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&s); err != nil {
		return fmt.Errorf("nn: decode optimizer state: %w", err)
	}
	if s.Version != optStateVer {
		return fmt.Errorf("nn: optimizer state version %d, want %d", s.Version, optStateVer)
	}
	if s.Config != o.cfg {
		return fmt.Errorf("nn: optimizer state is for %+v, not %+v", s.Config, o.cfg)
	}
	if len(s.M) != len(o.m) || len(s.V) != len(o.v) || s.Step < 0 {
		return fmt.Errorf("nn: optimizer state has buffers of %d and %d values, want %d and %d", len(s.M), len(s.V), len(o.m), len(o.v))
	}
	o.step = s.Step
	copy(o.m, s.M)
	copy(o.v, s.V)
	return nil
}

package nn

import (
	"fmt"
	"math"
)

// Loss names a training criterion.
type Loss string

// The supported losses.
const (
	// BinaryCrossEntropy is the logistic loss on a single logit per row
	// (Outputs = 1, labels 0 or 1), computed in the stable form
	// max(z,0) - z·y + log(1+e^-|z|). With class weights w, row i weighs
	// w[y_i] and the loss is Σ_i w[y_i]·ℓ_i / B over a batch of B rows — the
	// normalisation of torch's BCEWithLogitsLoss(weight=w[y],
	// reduction='mean'), which divides by the batch size, not by the sum of
	// the weights. (With w[0] = 1 this equals pos_weight = w[1].)
	BinaryCrossEntropy Loss = "binary_cross_entropy"
	// CrossEntropy is softmax followed by the negative log-likelihood
	// (Outputs = K ≥ 2, labels 0..K-1), computed with log-sum-exp. With class
	// weights w the loss is Σ_i w[y_i]·ℓ_i / Σ_i w[y_i], as torch's
	// CrossEntropyLoss(weight=w, reduction='mean').
	CrossEntropy Loss = "cross_entropy"
)

// ParseLoss returns the loss named s.
func ParseLoss(s string) (Loss, error) {
	switch Loss(s) {
	case BinaryCrossEntropy, CrossEntropy:
		return Loss(s), nil
	}
	return "", fmt.Errorf("nn: loss %q is not %s or %s", s, BinaryCrossEntropy, CrossEntropy)
}

// Check reports whether the loss suits a network with the given number of
// outputs and classWeights (nil, or one positive weight per class).
func (l Loss) Check(outputs int, classWeights []float64) error {
	classes := outputs
	switch l {
	case BinaryCrossEntropy:
		if outputs != 1 {
			return fmt.Errorf("nn: %s needs 1 output, the network has %d", l, outputs)
		}
		classes = 2
	case CrossEntropy:
		if outputs < 2 {
			return fmt.Errorf("nn: %s needs at least 2 outputs, the network has %d", l, outputs)
		}
	default:
		return fmt.Errorf("nn: unknown loss %q", l)
	}
	if classWeights != nil {
		if len(classWeights) != classes {
			return fmt.Errorf("nn: %d class weights for %d classes", len(classWeights), classes)
		}
		for k, w := range classWeights {
			if !(w > 0) || math.IsInf(w, 0) {
				return fmt.Errorf("nn: weight of class %d is %v, not a positive number", k, w)
			}
		}
	}
	return nil
}

// Sum evaluates the loss on rows of logits (rows × outputs, row-major) with
// labels y, returning the weighted sum of the per-row losses and the
// normaliser of the mean: the row count for BinaryCrossEntropy, the sum of
// the rows' class weights for CrossEntropy. total/norm is the mean loss, and
// sums over chunks of a data set add up to the loss of the whole set.
func (l Loss) Sum(logits []float64, outputs int, y []int, classWeights []float64) (total, norm float64, err error) {
	if err := l.Check(outputs, classWeights); err != nil {
		return 0, 0, err
	}
	rows := len(y)
	if len(logits) < rows*outputs {
		return 0, 0, fmt.Errorf("nn: %d logits for %d rows of %d outputs", len(logits), rows, outputs)
	}
	if err := checkLabels(y, l.classes(outputs)); err != nil {
		return 0, 0, err
	}
	return l.forward(logits, outputs, y, classWeights, nil, nil)
}

func (l Loss) classes(outputs int) int {
	if l == BinaryCrossEntropy {
		return 2
	}
	return outputs
}

func checkLabels(y []int, classes int) error {
	for i, v := range y {
		if v < 0 || v >= classes {
			return fmt.Errorf("nn: label %d of row %d is outside [0, %d)", v, i, classes)
		}
	}
	return nil
}

// forward computes the weighted loss sum and normaliser; when delta is not
// nil it also writes the gradient of the weighted sum with respect to each
// logit, un-normalised (the caller divides by norm). Row i weighs
// cw[y_i]·sw[i] (either nil: 1), so sample weights enter the loss exactly as
// class weights do.
func (l Loss) forward(logits []float64, outputs int, y []int, cw, sw []float64, delta []float64) (total, norm float64, err error) {
	switch l {
	case BinaryCrossEntropy:
		for i, label := range y {
			z := logits[i]
			w := 1.0
			if cw != nil {
				w = cw[label]
			}
			if sw != nil {
				w *= sw[i]
			}
			t := float64(label)
			total += w * (max(z, 0) - z*t + math.Log1p(math.Exp(-math.Abs(z))))
			if delta != nil {
				delta[i] = w * (sigmoid(z) - t)
			}
		}
		return total, float64(len(y)), nil
	case CrossEntropy:
		for i, label := range y {
			row := logits[i*outputs : (i+1)*outputs]
			w := 1.0
			if cw != nil {
				w = cw[label]
			}
			if sw != nil {
				w *= sw[i]
			}
			m := math.Inf(-1)
			for _, v := range row {
				m = max(m, v)
			}
			var s float64
			for _, v := range row {
				s += math.Exp(v - m)
			}
			lse := m + math.Log(s)
			total += w * (lse - row[label])
			norm += w
			if delta != nil {
				d := delta[i*outputs : (i+1)*outputs]
				for k, v := range row {
					d[k] = w * math.Exp(v-lse)
				}
				d[label] -= w
			}
		}
		return total, norm, nil
	}
	return 0, 0, fmt.Errorf("nn: unknown loss %q", l)
}

// Probabilities turns rows of logits (rows × outputs) into class
// probabilities written to out (rows × C): for one output, C = 2 with
// column 0 = 1-p and column 1 = p = sigmoid(logit); otherwise C = outputs
// and each row is the softmax of its logits. out must hold rows×C values.
func Probabilities(logits []float64, outputs int, out []float64) {
	if outputs == 1 {
		for i, z := range logits {
			p := sigmoid(z)
			out[2*i] = 1 - p
			out[2*i+1] = p
		}
		return
	}
	for i := 0; i+outputs <= len(logits); i += outputs {
		row := logits[i : i+outputs]
		o := out[i : i+outputs]
		m := math.Inf(-1)
		for _, v := range row {
			m = max(m, v)
		}
		var s float64
		for k, v := range row {
			o[k] = math.Exp(v - m)
			s += o[k]
		}
		inv := 1 / s
		for k := range o {
			o[k] *= inv
		}
	}
}

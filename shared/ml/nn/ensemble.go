package nn

import (
	"fmt"
	"math"

	"github.com/orrery-ml/orrery/shared/ml/trees"
)

// Model types of tree ensembles (shared/ml/trees), stored in the same
// model directory as networks: the manifest's architecture gives the model
// type, inputs and outputs (1 for two classes), and weights.safetensors
// holds the trees' arrays (trees.Model.Arrays) instead of layers.
const (
	ModelGradientBoosting = trees.KindBoosting
	ModelRandomForest     = trees.KindForest
)

// IsTreeModel reports whether modelType is a tree ensemble's.
func IsTreeModel(modelType string) bool {
	return modelType == ModelGradientBoosting || modelType == ModelRandomForest
}

// TreeSpec is the architecture recorded for a tree ensemble.
func TreeSpec(t *trees.Model) Spec {
	outputs := t.Classes
	if outputs == 2 {
		outputs = 1
	}
	return Spec{ModelType: t.Kind, Inputs: t.Features, Outputs: outputs}
}

// TreeTensors returns the ensemble's arrays as tensors.
func TreeTensors(t *trees.Model) []Tensor {
	arrays := t.Arrays()
	ts := make([]Tensor, len(arrays))
	for i, a := range arrays {
		ts[i] = Tensor{Name: a.Name, Shape: a.Shape, Data: a.Data}
	}
	return ts
}

// TreesFromTensors rebuilds the ensemble spec describes from tensors
// written by TreeTensors.
func TreesFromTensors(spec Spec, ts []Tensor) (*trees.Model, error) {
	if !IsTreeModel(spec.ModelType) {
		return nil, fmt.Errorf("%w: model_type %q is not a tree ensemble", ErrInvalidModel, spec.ModelType)
	}
	arrays := make([]trees.Array, len(ts))
	for i, t := range ts {
		arrays[i] = trees.Array{Name: t.Name, Shape: t.Shape, Data: t.Data}
	}
	m, err := trees.FromArrays(spec.ModelType, spec.Inputs, spec.Classes(), arrays)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidModel, err)
	}
	return m, nil
}

// Spec returns the model's architecture: the network's, or the tree
// ensemble's (TreeSpec).
func (m *Model) Spec() Spec {
	if m.Trees != nil {
		return TreeSpec(m.Trees)
	}
	return m.Net.Spec
}

// Classes returns the number of classes the model predicts.
func (m *Model) Classes() int { return m.Spec().Classes() }

// Binary reports a two-class model, whose Predict applies
// Manifest.Threshold to the probability of class 1.
func (m *Model) Binary() bool { return m.Spec().Outputs == 1 }

// NumParams returns the network's parameter count, or the number of
// values a tree ensemble stores (thresholds and leaf values).
func (m *Model) NumParams() int {
	if m.Trees != nil {
		return m.Trees.NumParams()
	}
	return m.Net.NumParams()
}

// ApplyKeepMissing transforms x (rows × Features()) in place like Apply,
// except that missing values (NaN, sentinels) stay NaN instead of being
// imputed: what tree ensembles take, since they route missing values to
// the side of every split learned in training.
func (p *Preprocessing) ApplyKeepMissing(x []float64) {
	d := len(p.Mean)
	if d == 0 {
		return
	}
	for i := 0; i+d <= len(x); i += d {
		row := x[i : i+d]
		for j, v := range row {
			if math.IsNaN(v) || (p.Missing != nil && isSentinel(v, p.Missing[j])) {
				row[j] = math.NaN()
				continue
			}
			row[j] = (v - p.Mean[j]) / p.Scale[j]
		}
	}
}

package boosting

import (
	"encoding/json"
	"fmt"
	"math"
)

// Tree is one regression tree in flat arrays; node i is a leaf when
// Left[i] < 0, and then Value[i] is its output (learning rate applied).
type Tree struct {
	Feature     []int32   `json:"feature"`
	Threshold   []float64 `json:"threshold"`
	DefaultLeft []bool    `json:"default_left"`
	Left        []int32   `json:"left"`
	Right       []int32   `json:"right"`
	Value       []float64 `json:"value"`
	Gain        []float64 `json:"gain"`
}

func (t *Tree) predict(x []float64) float64 {
	i := int32(0)
	for t.Left[i] >= 0 {
		v := x[t.Feature[i]]
		switch {
		case math.IsNaN(v):
			if t.DefaultLeft[i] {
				i = t.Left[i]
			} else {
				i = t.Right[i]
			}
		case v <= t.Threshold[i]:
			i = t.Left[i]
		default:
			i = t.Right[i]
		}
	}
	return t.Value[i]
}

// Model is a trained boosted ensemble: Trees[it*groups+k] is iteration it's
// tree for class k (one group for binary classification).
type Model struct {
	Features int       `json:"features"`
	Classes  int       `json:"classes"`
	Base     []float64 `json:"base"`
	Trees    []Tree    `json:"trees"`
}

func (m *Model) groups() int {
	if m.Classes <= 2 {
		return 1
	}
	return m.Classes
}

// raw adds the ensemble's raw scores for row x into out (len groups).
func (m *Model) raw(x []float64, out []float64) {
	g := m.groups()
	copy(out, m.Base)
	for i := range m.Trees {
		out[i%g] += m.Trees[i].predict(x)
	}
}

// PredictProba returns class probabilities for the row-major matrix x
// (n rows of m.Features), n*Classes values. Safe for concurrent use.
func (m *Model) PredictProba(x []float64) ([]float64, error) {
	if m.Features <= 0 || len(x)%m.Features != 0 {
		return nil, fmt.Errorf("boosting: predict: %d values are not rows of %d features", len(x), m.Features)
	}
	n := len(x) / m.Features
	out := make([]float64, n*m.Classes)
	raw := make([]float64, m.groups())
	for r := 0; r < n; r++ {
		m.raw(x[r*m.Features:(r+1)*m.Features], raw)
		toProba(raw, out[r*m.Classes:(r+1)*m.Classes])
	}
	return out, nil
}

func toProba(raw, p []float64) {
	if len(raw) == 1 {
		p1 := 1 / (1 + math.Exp(-raw[0]))
		p[0], p[1] = 1-p1, p1
		return
	}
	mx := raw[0]
	for _, v := range raw {
		mx = math.Max(mx, v)
	}
	s := 0.0
	for k, v := range raw {
		p[k] = math.Exp(v - mx)
		s += p[k]
	}
	for k := range p {
		p[k] /= s
	}
}

// GainImportance sums each feature's split gains over the ensemble.
func (m *Model) GainImportance() []float64 {
	imp := make([]float64, m.Features)
	for _, t := range m.Trees {
		for i, l := range t.Left {
			if l >= 0 {
				imp[t.Feature[i]] += t.Gain[i]
			}
		}
	}
	return imp
}

// Encode serialises the model; Go's float64 JSON encoding is shortest
// round-trip, so Decode(Encode(m)) predicts bit for bit like m.
func (m *Model) Encode() ([]byte, error) { return json.Marshal(m) }

// Decode reads a model written by Encode and checks its shape.
func Decode(b []byte) (*Model, error) {
	var m Model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("boosting: decode model: %w", err)
	}
	if m.Features <= 0 || m.Classes < 2 || len(m.Base) != m.groups() {
		return nil, fmt.Errorf("boosting: decode model: bad shape (features %d, classes %d, base %d)", m.Features, m.Classes, len(m.Base))
	}
	for ti, t := range m.Trees {
		n := len(t.Left)
		if n == 0 || len(t.Right) != n || len(t.Feature) != n || len(t.Threshold) != n || len(t.Value) != n || len(t.DefaultLeft) != n || len(t.Gain) != n {
			return nil, fmt.Errorf("boosting: decode model: tree %d arrays differ in length", ti)
		}
		for i := 0; i < n; i++ {
			if t.Left[i] >= int32(n) || t.Right[i] >= int32(n) || (t.Left[i] >= 0 && (t.Left[i] <= int32(i) || t.Right[i] <= int32(i) || t.Feature[i] < 0 || int(t.Feature[i]) >= m.Features)) {
				return nil, fmt.Errorf("boosting: decode model: tree %d node %d is malformed", ti, i)
			}
		}
	}
	return &m, nil
}

package deployment

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/nn"
)

// ErrBadInstances is wrapped by RequestScorer errors about a request body
// that does not fit the model's feature schema.
var ErrBadInstances = fault.New(fault.Invalid, "deployment: request does not fit the model")

// Prediction is one row's answer, as the predict route returns it: the
// label, and the positive-class probability (binary) or every class's
// (multi-class).
type Prediction struct {
	Label         string             `json:"label"`
	Probability   *float64           `json:"probability,omitempty"`
	Probabilities map[string]float64 `json:"probabilities,omitempty"`
}

// Scorer answers predict request bodies for one model, as the endpoint
// does: {"instances": [{feature: value, ...}]} or {"rows": [[...]]} in the
// model's feature order, decoded, checked against the model's feature
// schema and predicted. The smoke and latency gates send their requests
// through it.
type Scorer interface {
	Score(ctx context.Context, body []byte) ([]Prediction, error)
}

// ScorerFactory makes the Scorer of a loaded model (the serving
// Predictor's constructor, or NewRequestScorer).
type ScorerFactory func(m *nn.Model) (Scorer, error)

// RequestScorer is a Scorer over an nn.Model for the predict request
// format of the serving contract: it refuses missing, extra and
// non-numeric features naming them, and null for a missing value.
type RequestScorer struct{ Model *nn.Model }

// NewRequestScorer is the ScorerFactory of RequestScorer.
func NewRequestScorer(m *nn.Model) (Scorer, error) { return RequestScorer{Model: m}, nil }

// Score decodes body and predicts every row.
func (s RequestScorer) Score(ctx context.Context, body []byte) ([]Prediction, error) {
	man := s.Model.Manifest
	var req struct {
		Instances []map[string]json.RawMessage `json:"instances"`
		Rows      [][]json.RawMessage          `json:"rows"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("%w: body: %v", ErrBadInstances, err)
	}
	if (len(req.Instances) == 0) == (len(req.Rows) == 0) {
		return nil, fmt.Errorf("%w: give instances or rows (one of them, not empty)", ErrBadInstances)
	}
	d := len(man.Features)
	var x []float64
	number := func(raw json.RawMessage, where string) (float64, error) {
		if string(raw) == "null" {
			return math.NaN(), nil
		}
		var v float64
		if err := json.Unmarshal(raw, &v); err != nil {
			return 0, fmt.Errorf("%w: %s is not a number", ErrBadInstances, where)
		}
		return v, nil
	}
	for i, inst := range req.Instances {
		var missing, extra []string
		for _, f := range man.Features {
			if _, ok := inst[f]; !ok {
				missing = append(missing, f)
			}
		}
		for k := range inst {
			if !slices.Contains(man.Features, k) {
				extra = append(extra, k)
			}
		}
		if len(missing) > 0 || len(extra) > 0 {
			sort.Strings(extra)
			return nil, fmt.Errorf("%w: instances[%d]: missing features %q, extra features %q", ErrBadInstances, i, missing, extra)
		}
		for _, f := range man.Features {
			v, err := number(inst[f], fmt.Sprintf("instances[%d].%s", i, f))
			if err != nil {
				return nil, err
			}
			x = append(x, v)
		}
	}
	for i, row := range req.Rows {
		if len(row) != d {
			return nil, fmt.Errorf("%w: rows[%d] has %d values, the model takes %d (%s)", ErrBadInstances, i, len(row), d, strings.Join(man.Features, ", "))
		}
		for j, raw := range row {
			v, err := number(raw, fmt.Sprintf("rows[%d][%d] (%s)", i, j, man.Features[j]))
			if err != nil {
				return nil, err
			}
			x = append(x, v)
		}
	}
	rows := len(x) / max(1, d)
	proba, err := s.Model.PredictProba(ctx, x, rows)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInstances, err)
	}
	k := len(man.Classes)
	out := make([]Prediction, rows)
	for i := range out {
		p := proba[i*k : (i+1)*k]
		if k == 2 {
			pos := p[1]
			label := man.Classes[0]
			if pos >= threshold(man) {
				label = man.Classes[1]
			}
			out[i] = Prediction{Label: label, Probability: &pos}
			continue
		}
		best := 0
		probs := make(map[string]float64, k)
		for c, v := range p {
			probs[man.Classes[c]] = v
			if v > p[best] {
				best = c
			}
		}
		out[i] = Prediction{Label: man.Classes[best], Probabilities: probs}
	}
	return out, nil
}

func threshold(man nn.Manifest) float64 {
	if man.Threshold > 0 {
		return man.Threshold
	}
	return 0.5
}

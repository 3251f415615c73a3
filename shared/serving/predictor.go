package serving

import (
	"context"
	"fmt"
	"slices"

	"github.com/orrery-ml/orrery/shared/ml/nn"
)

// Defaults of Limits.
const (
	// DefaultMaxRows is the most rows one predict request may carry.
	DefaultMaxRows = 1000
	// DefaultMaxBodyBytes is the largest predict body read (1 MiB, the HTTP
	// API's limit too).
	DefaultMaxBodyBytes = 1 << 20
)

// Limits bound one predict request; zero fields mean the defaults.
type Limits struct {
	// MaxRows is the most instances (or rows) of one request.
	MaxRows int
	// MaxBodyBytes is the largest body Decode reads.
	MaxBodyBytes int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxRows <= 0 {
		l.MaxRows = DefaultMaxRows
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return l
}

// NumScoreBins is the number of equal bins of the score histogram on [0, 1].
const NumScoreBins = 20

// ScoreBins counts rows by score: bin i holds scores in [i/20, (i+1)/20),
// the last bin includes 1.
type ScoreBins [NumScoreBins]int64

// ScoreBin returns the bin of a score in [0, 1] (values outside go to the
// first or last bin).
func ScoreBin(p float64) int {
	i := int(p * NumScoreBins)
	switch {
	case i < 0 || p != p:
		return 0
	case i >= NumScoreBins:
		return NumScoreBins - 1
	}
	return i
}

// Predictor decodes, validates and answers predict requests for one loaded
// model. It is immutable and safe for concurrent use.
type Predictor struct {
	model    *nn.Model
	modelID  string
	features []string
	index    map[string]int
	classes  []string
	// binary: two classes, answered with the probability of classes[1].
	binary bool
	// thresholded: a single-logit network, whose label is classes[1] when
	// that probability reaches the model's decision threshold (else the
	// most probable class, as nn.Model.Predict decides).
	thresholded bool
	limits      Limits
}

// NewPredictor returns the predictor of model m, served as modelID. It
// fails (wrapping ErrModelRefused) when the manifest names another model or
// cannot be served: no features, a feature named twice, no classes.
func NewPredictor(modelID string, m *nn.Model, lim Limits) (*Predictor, error) {
	if m == nil || (m.Net == nil && m.Trees == nil) {
		return nil, fmt.Errorf("model %s: no network or tree ensemble: %w", modelID, ErrModelRefused)
	}
	man := &m.Manifest
	if man.ModelID != "" && man.ModelID != modelID {
		return nil, fmt.Errorf("model %s: the manifest is model %s's: %w", modelID, man.ModelID, ErrModelRefused)
	}
	if len(man.Features) == 0 {
		return nil, fmt.Errorf("model %s: the manifest lists no features: %w", modelID, ErrModelRefused)
	}
	if len(man.Classes) < 2 || len(man.Classes) != m.Classes() {
		return nil, fmt.Errorf("model %s: %d class labels for a model of %d classes: %w", modelID, len(man.Classes), m.Classes(), ErrModelRefused)
	}
	index := make(map[string]int, len(man.Features))
	for j, f := range man.Features {
		if _, dup := index[f]; dup {
			return nil, fmt.Errorf("model %s: feature %q is listed twice: %w", modelID, f, ErrModelRefused)
		}
		index[f] = j
	}
	return &Predictor{model: m, modelID: modelID, features: slices.Clone(man.Features), index: index,
		classes: slices.Clone(man.Classes), binary: len(man.Classes) == 2, thresholded: m.Binary(),
		limits: lim.withDefaults()}, nil
}

// ModelID returns the id of the model it serves.
func (p *Predictor) ModelID() string { return p.modelID }

// Model returns the loaded model (not to be modified).
func (p *Predictor) Model() *nn.Model { return p.model }

// Features returns the model's features, in the order rows give them.
func (p *Predictor) Features() []string { return slices.Clone(p.features) }

// Binary reports whether the model has two classes (answers carry
// probability rather than probabilities).
func (p *Predictor) Binary() bool { return p.binary }

// Limits returns the limits the predictor enforces.
func (p *Predictor) Limits() Limits { return p.limits }

// Batch is a decoded predict body: Rows rows of raw features in the model's
// order (row-major), NaN where an instance gave null (a missing
// measurement, imputed as in training).
type Batch struct {
	X    []float64
	Rows int
}

// Prediction is the answer for one row: the predicted label and, for a
// binary model, the probability of the positive class (the model's second
// class), for a multi-class model every class's probability.
type Prediction struct {
	Label         string             `json:"label"`
	Probability   *float64           `json:"probability,omitempty"`
	Probabilities map[string]float64 `json:"probabilities,omitempty"`
}

// Result is what Predict returns for a batch.
type Result struct {
	ModelID     string
	Predictions []Prediction
	// Positive counts the rows predicted as the positive class (binary
	// models; 0 otherwise).
	Positive int
	// Bins is the histogram of the rows' scores: the positive-class
	// probability (binary), else the predicted class's.
	Bins ScoreBins
}

// PredictBody decodes body and predicts it (Decode, then Predict).
func (p *Predictor) PredictBody(ctx context.Context, body []byte) (Result, error) {
	b, err := p.Decode(body)
	if err != nil {
		return Result{}, err
	}
	return p.Predict(ctx, b)
}

// Predict answers every row of b. A failure of the model on valid input
// wraps ErrPredict; ctx ending first returns its error.
func (p *Predictor) Predict(ctx context.Context, b Batch) (Result, error) {
	proba, err := p.model.PredictProba(ctx, b.X, b.Rows)
	if err != nil {
		if ctx.Err() != nil {
			return Result{}, fmt.Errorf("predict with model %s: %w", p.modelID, ctx.Err())
		}
		return Result{}, fmt.Errorf("predict with model %s: %v: %w", p.modelID, err, ErrPredict)
	}
	c := len(p.classes)
	res := Result{ModelID: p.modelID, Predictions: make([]Prediction, b.Rows)}
	var probs []float64
	if p.binary {
		probs = make([]float64, b.Rows) // one allocation for every row's probability
	}
	for i := range b.Rows {
		row := proba[i*c : (i+1)*c]
		best := 0
		for k, v := range row {
			if v > row[best] {
				best = k
			}
		}
		if p.thresholded {
			best = 0
			if row[1] >= p.model.Manifest.Threshold {
				best = 1
			}
		}
		pred := &res.Predictions[i]
		pred.Label = p.classes[best]
		if p.binary {
			probs[i] = row[1]
			pred.Probability = &probs[i]
			res.Bins[ScoreBin(row[1])]++
			if best == 1 {
				res.Positive++
			}
			continue
		}
		pred.Probabilities = make(map[string]float64, c)
		for k, v := range row {
			pred.Probabilities[p.classes[k]] = v
		}
		res.Bins[ScoreBin(row[best])]++
	}
	return res, nil
}

// Decode reads a predict body: a JSON object with exactly one of
//
//	"instances": [{"feature": value, ...}, ...]   every feature of the model, by name
//	"rows":      [[value, ...], ...]              every feature, in the model's order
//
// with 1 to MaxRows entries. A value is a number, or null for a missing
// measurement (imputed with the training median, as a missing cell is in
// training). Instances that miss features, name features the model does not
// take or give a non-number are a *SchemaError naming each feature; a body
// that is not such an object (not JSON, unknown fields, a key given twice,
// an instance that is not an object, too many rows, over MaxBodyBytes) is
// an *InputError.
func (p *Predictor) Decode(body []byte) (Batch, error) {
	if int64(len(body)) > p.limits.MaxBodyBytes {
		ie := inputError(nil, "%d bytes, larger than the %d accepted", len(body), p.limits.MaxBodyBytes)
		ie.TooLarge = true
		return Batch{}, ie
	}
	d := &decoder{p: p, s: scanner{data: body}, schema: &SchemaError{Features: p.features}}
	b, err := d.body()
	if err != nil {
		return Batch{}, err
	}
	if len(d.schema.Issues) > 0 {
		return Batch{}, d.schema
	}
	return b, nil
}

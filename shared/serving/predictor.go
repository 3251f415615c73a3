package serving

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

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
	if m == nil || m.Net == nil {
		return nil, fmt.Errorf("model %s: no network: %w", modelID, ErrModelRefused)
	}
	man := &m.Manifest
	if man.ModelID != "" && man.ModelID != modelID {
		return nil, fmt.Errorf("model %s: the manifest is model %s's: %w", modelID, man.ModelID, ErrModelRefused)
	}
	if len(man.Features) == 0 {
		return nil, fmt.Errorf("model %s: the manifest lists no features: %w", modelID, ErrModelRefused)
	}
	if len(man.Classes) < 2 || len(man.Classes) != m.Net.Spec.Classes() {
		return nil, fmt.Errorf("model %s: %d class labels for a network of %d classes: %w", modelID, len(man.Classes), m.Net.Spec.Classes(), ErrModelRefused)
	}
	index := make(map[string]int, len(man.Features))
	for j, f := range man.Features {
		if _, dup := index[f]; dup {
			return nil, fmt.Errorf("model %s: feature %q is listed twice: %w", modelID, f, ErrModelRefused)
		}
		index[f] = j
	}
	return &Predictor{model: m, modelID: modelID, features: slices.Clone(man.Features), index: index,
		classes: slices.Clone(man.Classes), binary: len(man.Classes) == 2, thresholded: m.Net.Spec.Outputs == 1,
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
	d := &decoder{p: p, dec: json.NewDecoder(bytes.NewReader(body)),
		schema: &SchemaError{Features: p.features}, seenMissing: map[string]bool{}, seenExtra: map[string]bool{}, seenNonNum: map[string]bool{}}
	d.dec.UseNumber()
	b, err := d.body()
	if err != nil {
		return Batch{}, err
	}
	if len(d.schema.Issues) > 0 {
		return Batch{}, d.schema
	}
	return b, nil
}

// decoder walks the tokens of one predict body.
type decoder struct {
	p      *Predictor
	dec    *json.Decoder
	schema *SchemaError
	// seen* keep each feature named once in the SchemaError's lists.
	seenMissing, seenExtra, seenNonNum map[string]bool
}

// syntax turns a token error into an InputError.
func (d *decoder) syntax(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return inputError(nil, "invalid JSON: unexpected end of input")
	}
	return inputError(nil, "invalid JSON at byte %d: %v", d.dec.InputOffset(), err)
}

func (d *decoder) token() (json.Token, error) {
	tok, err := d.dec.Token()
	if err != nil {
		return nil, d.syntax(err)
	}
	return tok, nil
}

func (d *decoder) body() (Batch, error) {
	tok, err := d.token()
	if err != nil {
		return Batch{}, err
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '{' {
		return Batch{}, inputError(nil, "%s; want an object with instances or rows", describeToken(tok))
	}
	var (
		b    Batch
		kind string
	)
	for d.dec.More() {
		tok, err := d.token()
		if err != nil {
			return Batch{}, err
		}
		key, _ := tok.(string)
		switch {
		case key != "instances" && key != "rows":
			return Batch{}, inputError([]any{key}, "unknown field; the body holds instances (objects by feature name) or rows (arrays in the model's feature order)")
		case kind == key:
			return Batch{}, inputError([]any{key}, "appears twice")
		case kind != "":
			return Batch{}, inputError(nil, "give instances or rows, not both")
		}
		kind = key
		if b, err = d.list(key); err != nil {
			return Batch{}, err
		}
	}
	if _, err := d.token(); err != nil { // the closing brace
		return Batch{}, err
	}
	if _, err := d.dec.Token(); !errors.Is(err, io.EOF) {
		return Batch{}, inputError(nil, "trailing data after the JSON object at byte %d", d.dec.InputOffset())
	}
	if kind == "" {
		return Batch{}, inputError(nil, "neither instances nor rows; give one of them")
	}
	return b, nil
}

// list reads the array of instances or rows.
func (d *decoder) list(kind string) (Batch, error) {
	tok, err := d.token()
	if err != nil {
		return Batch{}, err
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '[' {
		return Batch{}, inputError([]any{kind}, "must be an array, not %s", describeToken(tok))
	}
	nf := len(d.p.features)
	var b Batch
	filled := make([]bool, nf)
	for d.dec.More() {
		if b.Rows >= d.p.limits.MaxRows {
			return Batch{}, inputError([]any{kind}, "more than %d entries; send at most %d per request", d.p.limits.MaxRows, d.p.limits.MaxRows)
		}
		if b.X == nil {
			b.X = make([]float64, 0, nf*min(d.p.limits.MaxRows, 128))
		}
		base := len(b.X)
		for range nf {
			b.X = append(b.X, math.NaN())
		}
		if kind == "instances" {
			err = d.instance(b.Rows, b.X[base:], filled)
		} else {
			err = d.row(b.Rows, b.X[base:])
		}
		if err != nil {
			return Batch{}, err
		}
		b.Rows++
	}
	if _, err := d.token(); err != nil { // the closing bracket
		return Batch{}, err
	}
	if b.Rows == 0 {
		return Batch{}, inputError([]any{kind}, "empty; give at least one entry")
	}
	return b, nil
}

// instance reads instance i, a {"feature": value} object, into x.
func (d *decoder) instance(i int, x []float64, filled []bool) error {
	tok, err := d.token()
	if err != nil {
		return err
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '{' {
		if err := d.skipRest(tok); err != nil {
			return err
		}
		return inputError([]any{"instances", i}, "must be an object of feature: value, not %s", describeToken(tok))
	}
	clear(filled)
	for d.dec.More() {
		tok, err := d.token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		j, known := d.p.index[key]
		if !known {
			if err := d.skipValue(); err != nil {
				return err
			}
			d.note(d.seenExtra, &d.schema.Extra, key)
			d.schema.add([]any{"instances", i, key}, "the model takes no feature %q", key)
			continue
		}
		if filled[j] {
			return inputError([]any{"instances", i, key}, "appears twice in one instance")
		}
		filled[j] = true
		if err := d.value(place{"instances", i, key, -1}, j, &x[j]); err != nil {
			return err
		}
	}
	if _, err := d.token(); err != nil {
		return err
	}
	for j, ok := range filled {
		if !ok {
			f := d.p.features[j]
			d.note(d.seenMissing, &d.schema.Missing, f)
			d.schema.add([]any{"instances", i, f}, "missing")
		}
	}
	return nil
}

// row reads row i, a [value, ...] array, into x.
func (d *decoder) row(i int, x []float64) error {
	tok, err := d.token()
	if err != nil {
		return err
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '[' {
		if err := d.skipRest(tok); err != nil {
			return err
		}
		return inputError([]any{"rows", i}, "must be an array of the model's %d features in order, not %s", len(x), describeToken(tok))
	}
	n := 0
	for d.dec.More() {
		if n >= len(x) {
			if err := d.skipValue(); err != nil {
				return err
			}
			d.note(d.seenExtra, &d.schema.Extra, fmt.Sprintf("rows[%d][%d]", i, n))
			d.schema.add([]any{"rows", i, n}, "a value past the model's %d features", len(x))
		} else if err := d.value(place{"rows", i, "", n}, n, &x[n]); err != nil {
			return err
		}
		n++
	}
	if _, err := d.token(); err != nil {
		return err
	}
	for j := n; j < len(x); j++ {
		f := d.p.features[j]
		d.note(d.seenMissing, &d.schema.Missing, f)
		d.schema.add([]any{"rows", i}, "%d values; feature %d (%s) is missing", n, j, f)
	}
	return nil
}

// value reads the value of feature j into *dst: a finite number, or null
// (NaN). Anything else is a schema issue.
func (d *decoder) value(at place, j int, dst *float64) error {
	tok, err := d.token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case nil:
		*dst = math.NaN()
		return nil
	case json.Number:
		f, perr := strconv.ParseFloat(v.String(), 64)
		if perr == nil && !math.IsInf(f, 0) {
			*dst = f
			return nil
		}
		d.note(d.seenNonNum, &d.schema.NonNumeric, d.p.features[j])
		d.schema.add(at.path(), "%s is not a finite number", v)
		return nil
	}
	if err := d.skipRest(tok); err != nil {
		return err
	}
	d.note(d.seenNonNum, &d.schema.NonNumeric, d.p.features[j])
	d.schema.add(at.path(), "%s; want a number (or null for a missing measurement)", describeToken(tok))
	return nil
}

// place is where a value is: instance i's key, or row i's n-th value.
// It becomes a path only when something is wrong there.
type place struct {
	kind string
	i    int
	key  string
	n    int // -1 for an instance's key
}

func (p place) path() []any {
	if p.n < 0 {
		return []any{p.kind, p.i, p.key}
	}
	return []any{p.kind, p.i, p.n}
}

// note appends name to list once.
func (d *decoder) note(seen map[string]bool, list *[]string, name string) {
	if !seen[name] {
		seen[name] = true
		*list = append(*list, name)
	}
}

// skipValue reads one whole value.
func (d *decoder) skipValue() error {
	tok, err := d.token()
	if err != nil {
		return err
	}
	return d.skipRest(tok)
}

// skipRest reads the rest of the value tok opened (nothing for a scalar).
func (d *decoder) skipRest(tok json.Token) error {
	delim, ok := tok.(json.Delim)
	if !ok || delim == '}' || delim == ']' {
		return nil
	}
	for depth := 1; depth > 0; {
		tok, err := d.token()
		if err != nil {
			return err
		}
		if delim, ok := tok.(json.Delim); ok {
			if delim == '{' || delim == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

// describeToken names the JSON value a token starts, for messages.
func describeToken(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return "the number " + v.String()
	case string:
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return "the string " + strconv.Quote(v)
	case json.Delim:
		if v == '{' {
			return "an object"
		}
		return "an array"
	}
	return fmt.Sprintf("%v", tok)
}

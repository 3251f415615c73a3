package optimization

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/training"
)

// ErrInvalidSpace is wrapped by every search-space error; the message names
// the dimension that is wrong.
var ErrInvalidSpace = fault.New(fault.Invalid, "optimization: invalid search space")

// Kind is the type of a dimension.
type Kind string

// Dimension kinds.
const (
	// Float is a real interval [Low, High], sampled linearly or, with Log,
	// log-uniformly.
	Float Kind = "float"
	// Int is the integers in [Low, High], optionally on a log scale.
	Int Kind = "int"
	// Categorical is a finite list of Choices (strings, numbers or booleans).
	Categorical Kind = "categorical"
)

// Condition makes a dimension active only when an earlier dimension, Parent,
// takes one of Values (for example the width of a third layer only when
// the number of layers is 3).
type Condition struct {
	Parent string `json:"parent"`
	Values []any  `json:"values"`
}

// Dimension is one hyperparameter of a Space.
type Dimension struct {
	Name      string     `json:"name"`
	Kind      Kind       `json:"kind"`
	Low       float64    `json:"low,omitempty"`
	High      float64    `json:"high,omitempty"`
	Log       bool       `json:"log,omitempty"`
	Choices   []any      `json:"choices,omitempty"`
	Condition *Condition `json:"condition,omitempty"`
	// GridPoints is the number of levels of a Float dimension in a grid
	// search (default 5); Int and Categorical dimensions use every value
	// (an Int range wider than GridPoints is thinned to GridPoints levels).
	GridPoints int `json:"grid_points,omitempty"`
}

// Space is an ordered list of dimensions; a conditional dimension must come
// after its parent.
type Space struct {
	Dimensions []Dimension `json:"dimensions"`
}

// Params maps dimension names to values: float64 for Float, int for Int, the
// choice itself for Categorical. Inactive conditional dimensions are absent.
type Params map[string]any

// Float returns a numeric parameter as float64 (false if absent or not a number).
func (p Params) Float(name string) (float64, bool) {
	switch v := p[name].(type) {
	case float64:
		return v, true
	case int:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	}
	return 0, false
}

// Int returns a numeric parameter rounded to an int.
func (p Params) Int(name string) (int, bool) {
	f, ok := p.Float(name)
	return int(math.Round(f)), ok
}

// String returns a parameter formatted as text (false if absent).
func (p Params) String(name string) (string, bool) {
	v, ok := p[name]
	if !ok {
		return "", false
	}
	return valueText(v), true
}

// valueText formats a parameter value for keys and tables.
func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// Key is a canonical text of p (sorted names), equal for equal points.
func (p Params) Key() string {
	names := make([]string, 0, len(p))
	for k := range p {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(valueText(p[k]))
		b.WriteByte(';')
	}
	return b.String()
}

// sameValue compares two choice values, treating numbers by value.
func sameValue(a, b any) bool {
	fa, na := number(a)
	fb, nb := number(b)
	if na || nb {
		return na && nb && fa == fb
	}
	return a == b
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// Validate checks the space; the error names the first dimension that is
// wrong.
func (s Space) Validate() error {
	if len(s.Dimensions) == 0 {
		return fmt.Errorf("%w: no dimensions", ErrInvalidSpace)
	}
	seen := map[string]int{}
	for i, d := range s.Dimensions {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: dimension %q: %s", ErrInvalidSpace, d.Name, fmt.Sprintf(format, args...))
		}
		if d.Name == "" {
			return fmt.Errorf("%w: dimension %d has no name", ErrInvalidSpace, i)
		}
		if _, dup := seen[d.Name]; dup {
			return bad("named twice")
		}
		finite := !math.IsNaN(d.Low) && !math.IsInf(d.Low, 0) && !math.IsNaN(d.High) && !math.IsInf(d.High, 0)
		switch d.Kind {
		case Float:
			if !finite || d.Low >= d.High {
				return bad("float range [%v, %v] needs finite low < high", d.Low, d.High)
			}
		case Int:
			if !finite || d.Low > d.High || d.Low != math.Trunc(d.Low) || d.High != math.Trunc(d.High) {
				return bad("int range [%v, %v] needs integer low <= high", d.Low, d.High)
			}
		case Categorical:
			if len(d.Choices) == 0 {
				return bad("categorical needs at least one choice")
			}
			for j, c := range d.Choices {
				switch c.(type) {
				case string, float64, int, bool:
				default:
					return bad("choice %d (%v) is not a string, number or boolean", j, c)
				}
				for _, o := range d.Choices[:j] {
					if sameValue(o, c) {
						return bad("choice %v listed twice", c)
					}
				}
			}
		default:
			return bad("kind %q is not float, int or categorical", d.Kind)
		}
		if d.Log && (d.Kind == Categorical || d.Low <= 0) {
			return bad("a log scale needs a numeric dimension with low > 0")
		}
		if d.GridPoints < 0 {
			return bad("grid_points %d is negative", d.GridPoints)
		}
		if c := d.Condition; c != nil {
			pi, ok := seen[c.Parent]
			if !ok {
				return bad("condition parent %q is not an earlier dimension", c.Parent)
			}
			if len(c.Values) == 0 {
				return bad("condition on %q lists no values", c.Parent)
			}
			for _, v := range c.Values {
				if !s.Dimensions[pi].contains(v) {
					return bad("condition value %v is not a value of %q", v, c.Parent)
				}
			}
		}
		seen[d.Name] = i
	}
	return nil
}

// contains reports whether v is a possible value of d.
func (d Dimension) contains(v any) bool {
	if d.Kind == Categorical {
		return slices.ContainsFunc(d.Choices, func(c any) bool { return sameValue(c, v) })
	}
	f, ok := number(v)
	if !ok || f < d.Low || f > d.High {
		return false
	}
	return d.Kind == Float || f == math.Trunc(f)
}

// active reports whether d is active given the values decided so far.
func (d Dimension) active(p Params) bool {
	if d.Condition == nil {
		return true
	}
	v, ok := p[d.Condition.Parent]
	if !ok {
		return false
	}
	return slices.ContainsFunc(d.Condition.Values, func(c any) bool { return sameValue(c, v) })
}

// fromUnit maps u in [0,1] to the dimension's value (a choice index for
// categorical dimensions is floor(u·k)).
func (d Dimension) fromUnit(u float64) any {
	u = math.Min(math.Max(u, 0), 1)
	switch d.Kind {
	case Categorical:
		i := min(int(u*float64(len(d.Choices))), len(d.Choices)-1)
		return d.Choices[i]
	case Int:
		lo, hi := d.Low-0.5, d.High+0.5
		var v float64
		if d.Log {
			lo, hi = math.Log(math.Max(d.Low-0.5, d.Low/2)), math.Log(d.High+0.5)
			v = math.Exp(lo + u*(hi-lo))
		} else {
			v = lo + u*(hi-lo)
		}
		return int(math.Min(math.Max(math.Round(v), d.Low), d.High))
	}
	if d.Log {
		lo, hi := math.Log(d.Low), math.Log(d.High)
		return math.Min(math.Max(math.Exp(lo+u*(hi-lo)), d.Low), d.High)
	}
	return d.Low + u*(d.High-d.Low)
}

// toUnit maps a numeric value to [0,1] (the inverse of fromUnit, up to
// rounding).
func (d Dimension) toUnit(v float64) float64 {
	var u float64
	switch {
	case d.Kind == Int && d.Log:
		lo, hi := math.Log(math.Max(d.Low-0.5, d.Low/2)), math.Log(d.High+0.5)
		u = (math.Log(v) - lo) / (hi - lo)
	case d.Kind == Int:
		u = (v - d.Low + 0.5) / (d.High - d.Low + 1)
	case d.Log:
		u = (math.Log(v) - math.Log(d.Low)) / (math.Log(d.High) - math.Log(d.Low))
	default:
		u = (v - d.Low) / (d.High - d.Low)
	}
	return math.Min(math.Max(u, 0), 1)
}

// width is the number of feature columns the dimension takes in a GP input.
func (d Dimension) width() int {
	if d.Kind == Categorical && len(d.Choices) > 1 {
		return len(d.Choices)
	}
	return 1
}

// FromUnit decodes a point of the unit cube (one coordinate per dimension)
// into Params, skipping inactive conditional dimensions.
func (s Space) FromUnit(u []float64) Params {
	p := make(Params, len(s.Dimensions))
	for i, d := range s.Dimensions {
		if d.active(p) {
			p[d.Name] = d.fromUnit(u[i])
		}
	}
	return p
}

// Normalize checks p against the space and returns it with canonical value
// types (int for Int, float64 for Float, the listed choice for Categorical),
// so that params read back from JSON compare equal to suggested ones. The
// error names the first parameter that is missing, extra or out of range.
func (s Space) Normalize(p Params) (Params, error) {
	out := make(Params, len(p))
	for _, d := range s.Dimensions {
		v, ok := p[d.Name]
		if !d.active(out) {
			if ok {
				return nil, fmt.Errorf("%w: parameter %q is given but inactive", ErrInvalidSpace, d.Name)
			}
			continue
		}
		if !ok {
			return nil, fmt.Errorf("%w: parameter %q is missing", ErrInvalidSpace, d.Name)
		}
		if !d.contains(v) {
			return nil, fmt.Errorf("%w: parameter %q = %v is outside its dimension", ErrInvalidSpace, d.Name, v)
		}
		switch d.Kind {
		case Float:
			out[d.Name], _ = number(v)
		case Int:
			f, _ := number(v)
			out[d.Name] = int(f)
		default:
			for _, c := range d.Choices {
				if sameValue(c, v) {
					out[d.Name] = c
				}
			}
		}
	}
	for k := range p {
		if _, ok := out[k]; !ok && s.index(k) < 0 {
			return nil, fmt.Errorf("%w: parameter %q is not in the space", ErrInvalidSpace, k)
		}
	}
	return out, nil
}

func (s Space) index(name string) int {
	for i, d := range s.Dimensions {
		if d.Name == name {
			return i
		}
	}
	return -1
}

// features is the number of GP input columns (one per numeric dimension, one
// per choice of a categorical one).
func (s Space) features() int {
	n := 0
	for _, d := range s.Dimensions {
		n += d.width()
	}
	return n
}

// encode writes p as GP input features into x (length features()): numeric
// values on the unit scale, categorical choices one-hot; inactive dimensions
// are 0.
func (s Space) encode(p Params, x []float64) {
	col := 0
	for _, d := range s.Dimensions {
		w := d.width()
		clear(x[col : col+w])
		if v, ok := p[d.Name]; ok {
			if d.Kind == Categorical {
				if w > 1 {
					for j, c := range d.Choices {
						if sameValue(c, v) {
							x[col+j] = 1
						}
					}
				}
			} else if f, ok := number(v); ok {
				x[col] = d.toUnit(f)
			}
		}
		col += w
	}
}

// decode turns GP features back into Params: numeric columns through
// fromUnit (rounding ints), categorical blocks by their largest column.
func (s Space) decode(x []float64) Params {
	p := make(Params, len(s.Dimensions))
	col := 0
	for _, d := range s.Dimensions {
		w := d.width()
		if d.active(p) {
			if d.Kind == Categorical {
				best := 0
				for j := 1; j < w; j++ {
					if x[col+j] > x[col+best] {
						best = j
					}
				}
				p[d.Name] = d.Choices[best]
			} else {
				p[d.Name] = d.fromUnit(x[col])
			}
		}
		col += w
	}
	return p
}

// gridLevels returns the values a grid search tries for d.
func (d Dimension) gridLevels() []any {
	if d.Kind == Categorical {
		return d.Choices
	}
	n := d.GridPoints
	if n == 0 {
		n = 5
	}
	if d.Kind == Int && int(d.High-d.Low)+1 <= n {
		var out []any
		for v := int(d.Low); v <= int(d.High); v++ {
			out = append(out, v)
		}
		return out
	}
	var out []any
	for i := range n {
		u := 0.5
		if n > 1 {
			u = float64(i) / float64(n-1)
		}
		var v any
		switch {
		case d.Log:
			f := math.Min(math.Max(math.Exp(math.Log(d.Low)+u*(math.Log(d.High)-math.Log(d.Low))), d.Low), d.High)
			v = f
			if d.Kind == Int {
				v = int(math.Round(f))
			}
		case d.Kind == Int:
			v = int(math.Round(d.Low + u*(d.High-d.Low)))
		default:
			v = d.Low + u*(d.High-d.Low)
		}
		if len(out) == 0 || !sameValue(out[len(out)-1], v) {
			out = append(out, v)
		}
	}
	return out
}

// Grid enumerates every grid point in a fixed order (the last dimension
// varies fastest); inactive conditional dimensions do not multiply points.
func (s Space) Grid() []Params {
	points := []Params{{}}
	for _, d := range s.Dimensions {
		var next []Params
		for _, p := range points {
			if !d.active(p) {
				next = append(next, p)
				continue
			}
			for _, v := range d.gridLevels() {
				q := make(Params, len(p)+1)
				for k, x := range p {
					q[k] = x
				}
				q[d.Name] = v
				next = append(next, q)
			}
		}
		points = next
	}
	return points
}

// HyperparameterSpace is the seed's search space for the MLP trainer:
// ranges as [min, max] pairs and lists of choices. Space turns it into typed
// dimensions.
type HyperparameterSpace struct {
	LearningRate [2]float64 `json:"learning_rate"`
	BatchSize    []int      `json:"batch_size"`
	// HiddenLayers is the [min, max] number of hidden layers; each layer's
	// width is searched in HiddenUnits (log scale), conditional on the layer
	// existing.
	HiddenLayers   [2]int     `json:"hidden_layers"`
	HiddenUnits    [2]int     `json:"hidden_units,omitzero"`
	DropoutRate    [2]float64 `json:"dropout_rate"`
	Regularization [2]float64 `json:"regularization"`
	Activation     []string   `json:"activation"`
	Optimizer      []string   `json:"optimizer"`
}

// DefaultTreeSpace is the space `orrery tune` searches without --space
// when the base config's model_type is gradient_boosting (learning_rate
// 0.01–0.3 and l2_regularization 1e-3–10 on log scales, max_leaves 8–128
// and min_samples_leaf 5–100 as log-scale ints, subsample and colsample
// 0.5–1) or random_forest (max_features as a fraction 0.1–1,
// min_samples_leaf 1–20 log-scale, max_depth 0 (no limit) to 30). Trials
// of a boosted model report their validation metric every few iterations,
// so the pruner stops poor ones early.
func DefaultTreeSpace(modelType string) Space {
	if modelType == training.ModelRandomForest {
		return Space{Dimensions: []Dimension{
			{Name: "max_features", Kind: Float, Low: 0.1, High: 1},
			{Name: "min_samples_leaf", Kind: Int, Low: 1, High: 20, Log: true},
			{Name: "max_depth", Kind: Int, Low: 0, High: 30},
		}}
	}
	return Space{Dimensions: []Dimension{
		{Name: "learning_rate", Kind: Float, Low: 0.01, High: 0.3, Log: true},
		{Name: "max_leaves", Kind: Int, Low: 8, High: 128, Log: true},
		{Name: "min_samples_leaf", Kind: Int, Low: 5, High: 100, Log: true},
		{Name: "l2_regularization", Kind: Float, Low: 1e-3, High: 10, Log: true},
		{Name: "subsample", Kind: Float, Low: 0.5, High: 1},
		{Name: "colsample", Kind: Float, Low: 0.5, High: 1},
	}}
}

// DefaultHyperparameterSpace is the space `orrery tune` searches without
// --space.
func DefaultHyperparameterSpace() HyperparameterSpace {
	return HyperparameterSpace{
		LearningRate:   [2]float64{1e-4, 3e-2},
		BatchSize:      []int{64, 128, 256},
		HiddenLayers:   [2]int{1, 3},
		HiddenUnits:    [2]int{8, 128},
		DropoutRate:    [2]float64{0, 0.4},
		Regularization: [2]float64{1e-6, 1e-2},
		Activation:     []string{"relu", "tanh", "gelu"},
		Optimizer:      []string{"adamw", "adam", "rmsprop"},
	}
}

// Space returns the typed space: learning_rate and regularization on a log
// scale, dropout_rate linear, n_layers an int, units_1..units_max ints on a
// log scale (units_k active when n_layers >= k), the lists as categorical
// dimensions. Empty fields are left out.
func (h HyperparameterSpace) Space() (Space, error) {
	var s Space
	add := func(d Dimension) { s.Dimensions = append(s.Dimensions, d) }
	if h.LearningRate != [2]float64{} {
		add(Dimension{Name: "learning_rate", Kind: Float, Low: h.LearningRate[0], High: h.LearningRate[1], Log: true})
	}
	if len(h.BatchSize) > 0 {
		add(Dimension{Name: "batch_size", Kind: Categorical, Choices: anySlice(h.BatchSize)})
	}
	if h.HiddenLayers != [2]int{} {
		add(Dimension{Name: "n_layers", Kind: Int, Low: float64(h.HiddenLayers[0]), High: float64(h.HiddenLayers[1])})
		units := h.HiddenUnits
		if units == [2]int{} {
			units = DefaultHyperparameterSpace().HiddenUnits
		}
		for k := 1; k <= h.HiddenLayers[1]; k++ {
			d := Dimension{Name: fmt.Sprintf("units_%d", k), Kind: Int, Low: float64(units[0]), High: float64(units[1]), Log: true, GridPoints: 3}
			if k > h.HiddenLayers[0] {
				var vals []any
				for n := max(k, h.HiddenLayers[0]); n <= h.HiddenLayers[1]; n++ {
					vals = append(vals, n)
				}
				d.Condition = &Condition{Parent: "n_layers", Values: vals}
			}
			add(d)
		}
	}
	if h.DropoutRate != [2]float64{} {
		add(Dimension{Name: "dropout_rate", Kind: Float, Low: h.DropoutRate[0], High: h.DropoutRate[1], GridPoints: 3})
	}
	if h.Regularization != [2]float64{} {
		add(Dimension{Name: "regularization", Kind: Float, Low: h.Regularization[0], High: h.Regularization[1], Log: true, GridPoints: 3})
	}
	if len(h.Activation) > 0 {
		add(Dimension{Name: "activation", Kind: Categorical, Choices: anySlice(h.Activation)})
	}
	if len(h.Optimizer) > 0 {
		add(Dimension{Name: "optimizer", Kind: Categorical, Choices: anySlice(h.Optimizer)})
	}
	if h.HiddenLayers[0] < 0 || h.HiddenLayers[0] > h.HiddenLayers[1] {
		return Space{}, fmt.Errorf("%w: hidden_layers [%d, %d] needs 0 <= min <= max", ErrInvalidSpace, h.HiddenLayers[0], h.HiddenLayers[1])
	}
	return s, s.Validate()
}

func anySlice[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// UnmarshalJSON reads a dimension, keeping choice numbers as float64 and
// refusing unknown fields.
func (d *Dimension) UnmarshalJSON(b []byte) error {
	type plain Dimension
	var p plain
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("dimension: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	*d = Dimension(p)
	return nil
}

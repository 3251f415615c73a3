package nn

import (
	"fmt"
	"math"
)

// Preprocessing is the feature transform fitted on the training split and
// stored in the model so that prediction applies exactly the same transform:
// each missing (NaN) value of feature j is replaced by Impute[j], then the
// feature is standardised as (x - Mean[j]) / Scale[j].
type Preprocessing struct {
	Impute []float64 `json:"impute"`
	Mean   []float64 `json:"mean"`
	Scale  []float64 `json:"scale"`
	// Missing holds, per feature, catalog sentinels (99, -9999, ...) that
	// are missing values like NaN: a value equal to one, as float64 or at
	// single precision, is imputed. Nil when the model has none.
	Missing [][]float64 `json:"missing_values,omitempty"`
}

// Features returns the number of features the transform expects.
func (p *Preprocessing) Features() int { return len(p.Mean) }

// Check reports a malformed transform (mismatched lengths, zero or non-finite
// scales).
func (p *Preprocessing) Check() error {
	d := len(p.Mean)
	if len(p.Impute) != d || len(p.Scale) != d {
		return fmt.Errorf("nn: preprocessing has %d impute, %d mean and %d scale values", len(p.Impute), d, len(p.Scale))
	}
	if p.Missing != nil && len(p.Missing) != d {
		return fmt.Errorf("nn: preprocessing has missing values for %d features, %d features", len(p.Missing), d)
	}
	for j := range d {
		if p.Scale[j] == 0 || math.IsNaN(p.Scale[j]) || math.IsInf(p.Scale[j], 0) {
			return fmt.Errorf("nn: preprocessing scale of feature %d is %v", j, p.Scale[j])
		}
	}
	return nil
}

// Apply transforms the row-major matrix x (rows × Features()) in place.
func (p *Preprocessing) Apply(x []float64) {
	d := len(p.Mean)
	if d == 0 {
		return
	}
	for i := 0; i+d <= len(x); i += d {
		row := x[i : i+d]
		for j, v := range row {
			if math.IsNaN(v) || (p.Missing != nil && isSentinel(v, p.Missing[j])) {
				v = p.Impute[j]
			}
			row[j] = (v - p.Mean[j]) / p.Scale[j]
		}
	}
}

// isSentinel reports whether v equals one of sentinels as float64 or at
// single precision (so 99.99 matches a float32 column's 99.99).
func isSentinel(v float64, sentinels []float64) bool {
	for _, s := range sentinels {
		if v == s || float32(v) == float32(s) {
			return true
		}
	}
	return false
}

package evaluation

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/orrery-ml/orrery/shared/dataset"
)

// FeatureImportance ranks a model's features on an evaluation's rows.
type FeatureImportance struct {
	// Metric is what permutation importance measures the drop of: auc_roc
	// for a binary task, accuracy otherwise.
	Metric   string  `json:"metric"`
	Repeats  int     `json:"repeats"`
	Rows     int     `json:"rows"`
	Baseline float64 `json:"baseline"`
	// Features are sorted by PermutationMean, largest first.
	Features []FeatureScore `json:"features"`
}

// FeatureScore is one feature's importance: the mean and standard
// deviation over the repeats of the metric's drop when the feature's
// column is shuffled, and for tree ensembles the share of the split gain
// (absent for other models).
type FeatureScore struct {
	Feature         string   `json:"feature"`
	PermutationMean float64  `json:"permutation_mean"`
	PermutationStd  float64  `json:"permutation_std"`
	Gain            *float64 `json:"gain,omitempty"`
}

// DefaultPermutationRepeats is the number of shuffles per feature.
const DefaultPermutationRepeats = 5

// PermutationImportance measures each feature's permutation importance
// (Breiman 2001, "Random Forests", §10; as scikit-learn's
// permutation_importance): the model's score on d minus its score with the
// feature's column shuffled, repeats times per feature with a generator
// seeded by seed. The score is the ROC AUC of a binary task and the
// accuracy (most probable class) otherwise. Any Predictor will do. At most
// maxRows rows of d are used (0: all; the first ones, d being shuffled by
// its split). gain, when not nil, holds a tree ensemble's gain importance
// by feature index and is reported beside. It returns ctx's error once ctx
// is done.
func PermutationImportance(ctx context.Context, p Predictor, d *dataset.Dataset, repeats, maxRows int, seed uint64, gain []float64) (*FeatureImportance, error) {
	if p == nil {
		return nil, fmt.Errorf("permutation importance: %w", ErrNilPredictor)
	}
	if err := checkDataset(d); err != nil {
		return nil, fmt.Errorf("permutation importance: %w", err)
	}
	if repeats < 1 {
		return nil, fmt.Errorf("permutation importance: %d repeats: %w", repeats, ErrInvalidRequest)
	}
	f := d.Features()
	if gain != nil && len(gain) != f {
		return nil, fmt.Errorf("permutation importance: %d gain values for %d features: %w", len(gain), f, ErrInvalidRequest)
	}
	rows := d.Rows
	if maxRows > 0 {
		rows = min(rows, maxRows)
	}
	x := slices.Clone(d.X[:rows*f])
	y := d.Y[:rows]
	c := len(d.Classes)
	res := &FeatureImportance{Metric: "accuracy", Repeats: repeats, Rows: rows}
	if c == 2 {
		res.Metric = "auc_roc"
	}
	score := func() (float64, error) {
		proba, err := p.PredictProba(ctx, x, rows)
		if err != nil {
			return 0, err
		}
		if c == 2 {
			s := make([]float64, rows)
			for i := range s {
				s[i] = proba[2*i+1]
			}
			return BinaryAUCROC(y, s), nil
		}
		ok := 0
		for i, label := range y {
			row := proba[i*c : (i+1)*c]
			best := 0
			for k, v := range row {
				if v > row[best] {
					best = k
				}
			}
			if best == label {
				ok++
			}
		}
		return float64(ok) / float64(rows), nil
	}
	base, err := score()
	if err != nil {
		return nil, fmt.Errorf("permutation importance: %w", err)
	}
	res.Baseline = base
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	col := make([]float64, rows)
	perm := make([]int, rows)
	for j := range f {
		for i := range rows {
			col[i] = x[i*f+j]
		}
		drops := make([]float64, repeats)
		for r := range repeats {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("permutation importance: %w", err)
			}
			for i := range perm {
				perm[i] = i
			}
			rng.Shuffle(rows, func(a, b int) { perm[a], perm[b] = perm[b], perm[a] })
			for i, src := range perm {
				x[i*f+j] = col[src]
			}
			s, err := score()
			if err != nil {
				return nil, fmt.Errorf("permutation importance: feature %s: %w", d.FeatureNames[j], err)
			}
			drops[r] = base - s
		}
		for i := range rows {
			x[i*f+j] = col[i]
		}
		mean, sd := meanStd(drops)
		fs := FeatureScore{Feature: d.FeatureNames[j], PermutationMean: mean, PermutationStd: sd}
		if gain != nil {
			g := gain[j]
			fs.Gain = &g
		}
		res.Features = append(res.Features, fs)
	}
	sort.SliceStable(res.Features, func(a, b int) bool {
		return res.Features[a].PermutationMean > res.Features[b].PermutationMean
	})
	return res, nil
}

// meanStd returns the mean and population standard deviation (NumPy's
// default, which permutation_importance reports).
func meanStd(v []float64) (float64, float64) {
	var s float64
	for _, x := range v {
		s += x
	}
	m := s / float64(len(v))
	var ss float64
	for _, x := range v {
		ss += (x - m) * (x - m)
	}
	return m, math.Sqrt(ss / float64(len(v)))
}

package optimization_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/store"
)

// curveStudy holds finished trials with the given per-step values (one
// objective, maximised) and a running trial "last" with its own curve.
func curveStudy(dirs []optimization.Direction, finished [][][]float64, last [][]float64) *optimization.Study {
	st := &optimization.Study{ID: "p", Space: mixedSpace(), Directions: dirs}
	add := func(n int, curve [][]float64, state store.TrialState) {
		tr := optimization.Trial{Number: n, State: state, Params: optimization.Params{"x": float64(n)}}
		for i, v := range curve {
			tr.Intermediate = append(tr.Intermediate, optimization.Intermediate{Step: i + 1, Values: v})
		}
		if state == store.TrialComplete {
			tr.Values = curve[len(curve)-1]
		}
		st.Trials = append(st.Trials, tr)
	}
	for i, c := range finished {
		add(i, c, store.TrialComplete)
	}
	add(len(finished), last, store.TrialRunning)
	return st
}

func single(vs ...float64) [][]float64 {
	out := make([][]float64, len(vs))
	for i, v := range vs {
		out[i] = []float64{v}
	}
	return out
}

func TestPruners(t *testing.T) {
	max1 := []optimization.Direction{optimization.Maximize}
	five := [][][]float64{single(0.5, 0.6, 0.7), single(0.6, 0.7, 0.8), single(0.4, 0.5, 0.6), single(0.7, 0.8, 0.9), single(0.55, 0.65, 0.75)}
	cases := []struct {
		name   string
		pruner optimization.Pruner
		dirs   []optimization.Direction
		done   [][][]float64
		last   [][]float64
		want   bool
	}{
		{"median prunes a poor trial", optimization.MedianPruner(), max1, five, single(0.3, 0.4), true},
		{"median keeps a good trial", optimization.MedianPruner(), max1, five, single(0.6, 0.75), false},
		{"median waits for startup trials", optimization.MedianPruner(), max1, five[:3], single(0.1, 0.1), false},
		{"percentile 25 prunes the middle", optimization.PercentilePruner{Keep: 0.25, StartupTrials: 5}, max1, five, single(0.6, 0.68), true},
		{"nan is pruned", optimization.MedianPruner(), max1, five, [][]float64{{0.5}, {nan()}}, true},
		{"asha prunes at a rung", optimization.NewASHAPruner(1, 3), max1, five, single(0.3, 0.3, 0.3), true},
		{"asha keeps the top third", optimization.NewASHAPruner(1, 3), max1, five, single(0.8, 0.9, 0.95), false},
		{"asha ignores non-rung steps", optimization.NewASHAPruner(1, 3), max1, five, single(0.8, 0.1), false},
		{"patience alone prunes a stall", optimization.PatientPruner{Patience: 2}, max1, five, single(0.9, 0.8, 0.85), true},
		{"patience spares an improving trial", optimization.PatientPruner{Patience: 2}, max1, five, single(0.3, 0.35, 0.4), false},
		{"patience defers to the wrapped pruner", optimization.PatientPruner{Wrapped: optimization.MedianPruner(), Patience: 1}, max1, five, single(0.8, 0.79), false},
		// Two objectives (maximise AUC, minimise latency): a trial that is
		// poor on AUC but fastest is dominated by nobody, so never pruned.
		{"multi-objective: undominated survives the median", optimization.MedianPruner(),
			[]optimization.Direction{optimization.Maximize, optimization.Minimize},
			[][][]float64{{{0.8, 5}}, {{0.85, 6}}, {{0.9, 7}}, {{0.7, 4}}, {{0.75, 5}}}, [][]float64{{0.5, 1}}, false},
		{"multi-objective: dominated by most is pruned", optimization.MedianPruner(),
			[]optimization.Direction{optimization.Maximize, optimization.Minimize},
			[][][]float64{{{0.8, 5}}, {{0.85, 6}}, {{0.9, 7}}, {{0.7, 4}}, {{0.75, 5}}}, [][]float64{{0.6, 8}}, true},
		{"multi-objective asha", optimization.NewASHAPruner(1, 3),
			[]optimization.Direction{optimization.Maximize, optimization.Minimize},
			[][][]float64{{{0.8, 5}}, {{0.85, 6}}, {{0.9, 7}}, {{0.7, 4}}, {{0.75, 5}}}, [][]float64{{0.5, 3}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := curveStudy(c.dirs, c.done, c.last)
			assert.Equal(t, c.want, c.pruner.ShouldPrune(st, len(c.done)))
		})
	}
}

func TestHyperbandComparesWithinBrackets(t *testing.T) {
	h := optimization.HyperbandPruner{MinResource: 1, MaxResource: 9, ReductionFactor: 3}
	st := curveStudy([]optimization.Direction{optimization.Maximize}, nil, single(0.5))
	// With no peers in its bracket a trial always continues.
	assert.False(t, h.ShouldPrune(st, 0))
	for _, name := range []string{"none", "median", "percentile", "asha", "hyperband", "patience"} {
		p, err := optimization.ParsePruner(name, 9)
		assert.NoError(t, err)
		assert.NotNil(t, p)
	}
	_, err := optimization.ParsePruner("oracle", 9)
	assert.ErrorIs(t, err, optimization.ErrInvalidStudy)
}

func nan() float64 { var z float64; return z / z }

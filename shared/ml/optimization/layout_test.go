package optimization_test

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/figure"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/store"
)

// tuneSpace is the README's search space of `orrery tune`: long names, log
// axes over several decades, wide integer ranges.
func tuneSpace() optimization.Space {
	return optimization.Space{Dimensions: []optimization.Dimension{
		{Name: "learning_rate", Kind: optimization.Float, Low: 1e-4, High: 0.03, Log: true},
		{Name: "batch_size", Kind: optimization.Categorical, Choices: []any{64, 128}},
		{Name: "hidden_layers", Kind: optimization.Int, Low: 1, High: 3},
		{Name: "hidden_units", Kind: optimization.Int, Low: 8, High: 128},
		{Name: "dropout_rate", Kind: optimization.Float, Low: 0, High: 0.4},
		{Name: "regularization", Kind: optimization.Float, Low: 1e-6, High: 1e-2, Log: true},
		{Name: "activation", Kind: optimization.Categorical, Choices: []any{"relu", "tanh"}},
		{Name: "optimizer", Kind: optimization.Categorical, Choices: []any{"adamw", "adam"}},
	}}
}

// tuneStudy is 30 trials of a smooth synthetic val_auc_pr over tuneSpace,
// with 5 reported epochs each and some pruned after 2.
func tuneStudy() *optimization.Study {
	st := &optimization.Study{ID: "hpo-layout", Space: tuneSpace(), Objectives: []string{"val_auc_pr"},
		Directions: []optimization.Direction{optimization.Maximize}, Seed: 3}
	rng := rand.New(rand.NewPCG(5, 8))
	for i := range 30 {
		lr := math.Exp(math.Log(1e-4) + rng.Float64()*(math.Log(0.03)-math.Log(1e-4)))
		units := 8 + rng.IntN(121)
		p := optimization.Params{"learning_rate": lr, "batch_size": []int{64, 128}[rng.IntN(2)],
			"hidden_layers": 1 + rng.IntN(3), "hidden_units": units, "dropout_rate": 0.4 * rng.Float64(),
			"regularization": math.Exp(math.Log(1e-6) + rng.Float64()*math.Log(1e4)),
			"activation":     []string{"relu", "tanh"}[rng.IntN(2)], "optimizer": []string{"adamw", "adam"}[rng.IntN(2)]}
		q := 0.9 - 0.02*math.Pow(math.Log10(lr)+2.5, 2) - 0.05*math.Abs(float64(units-64))/64 + 0.01*rng.NormFloat64()
		tr := optimization.Trial{Number: i, Params: p, State: store.TrialComplete}
		steps := 5
		if i%4 == 3 {
			tr.State, steps = store.TrialPruned, 2
		}
		for e := 1; e <= steps; e++ {
			tr.Intermediate = append(tr.Intermediate, optimization.Intermediate{Step: e, Values: []float64{q * (1 - 0.5/float64(e))}})
		}
		if tr.State == store.TrialComplete {
			tr.Values = []float64{q}
		}
		tr.Cost = float64(steps)
		st.Trials = append(st.Trials, tr)
	}
	return st
}

// TestStudyPlotsAreReadable draws every plot of a realistic study and checks
// its layout from the drawing's text and legend boxes (no text clipped or
// overlapping — tick labels on log and integer axes, the objective's name
// on the last parallel axis — and no legend on the data), then compares it
// with its reviewed PNG in testdata/plots (ORRERY_UPDATE_FIXTURES=1
// rewrites them).
func TestStudyPlotsAreReadable(t *testing.T) {
	st := tuneStudy()
	a := optimization.Analyze(st)
	require.NotEmpty(t, a.Importance)
	ds, err := optimization.Drawings(st, a)
	require.NoError(t, err)
	var names []string
	for _, d := range ds {
		names = append(names, d.Name)
	}
	require.Equal(t, allPlots, names)
	for _, d := range ds {
		t.Run(d.Name, func(t *testing.T) {
			lay := d.Inspect()
			assert.Empty(t, lay.Problems(), "layout of %s:\n%s", d.Name, lay)
			png, err := figure.Encode(d.Draw, d.Width, d.Height, "png")
			require.NoError(t, err)
			diff, err := figure.CheckFixture(filepath.Join("testdata", "plots", d.Name+".png"), png)
			require.NoError(t, err)
			assert.LessOrEqual(t, diff, figure.MaxFixtureDifference, "%s.png differs from its fixture in %.2f %% of its pixels", d.Name, 100*diff)
		})
	}
	// The legends of the history and intermediate plots are measured.
	for _, d := range ds[:2] {
		assert.Positive(t, d.Inspect().Legend.Size().X, d.Name)
	}
}

func TestFewTrialsSayWhyImportanceAndContourAreMissing(t *testing.T) {
	st := tuneStudy()
	st.Trials = st.Trials[:3]
	a := optimization.Analyze(st)
	assert.Empty(t, a.Importance)
	assert.Contains(t, a.Omitted, "parameter importance: needs ≥ 4 complete trials (3 so far)")
	assert.Contains(t, a.Omitted, "contour: needs ≥ 4 complete trials (3 so far)")
	dir := t.TempDir()
	path, err := optimization.WriteReport(dir, st, a)
	require.NoError(t, err)
	page := readFile(t, path)
	assert.Contains(t, page, "parameter importance: needs ≥ 4 complete trials (3 so far)")
	assert.NotContains(t, page, `alt="importance"`)

	full := optimization.Analyze(tuneStudy())
	assert.Empty(t, full.Omitted, "nothing is left out of a study with enough trials")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestSliceLabelsOfLongChoicesDoNotRunTogether(t *testing.T) {
	st := tuneStudy()
	choices := []any{"32-16", "64-32", "128-64-32", "256-128", "512-256-128"}
	st.Space.Dimensions[1] = optimization.Dimension{Name: "hidden", Kind: optimization.Categorical, Choices: choices}
	for i := range st.Trials {
		delete(st.Trials[i].Params, "batch_size")
		st.Trials[i].Params["hidden"] = choices[i%len(choices)]
	}
	ds, err := optimization.Drawings(st, optimization.Analyze(st))
	require.NoError(t, err)
	for _, d := range ds {
		if d.Name == optimization.PlotSlice {
			lay := d.Inspect()
			assert.Empty(t, lay.Problems(), "layout:\n%s", lay)
			return
		}
	}
	t.Fatal("no slice plot")
}

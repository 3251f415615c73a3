package optimization_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
)

// curveObjective "trains" for steps epochs: the value at epoch e is
// quality·(1 − 0.5^e), quality = −mixedLoss, so poor trials stay poor.
func curveObjective(steps int, seenIntermediate *sync.Map) optimization.Objective {
	return optimization.ObjectiveFunc(func(ctx context.Context, t optimization.Trial, report optimization.ReportFunc) (optimization.Outcome, error) {
		if seenIntermediate != nil {
			seenIntermediate.Store(t.Number, len(t.Intermediate))
		}
		q := -mixedLoss(t.Params)
		start := len(t.Intermediate) // resume after the reported steps
		var v float64
		for e := start + 1; e <= steps; e++ {
			v = q * (2 - 1/float64(e))
			if err := report(ctx, e, []float64{v}); err != nil {
				return optimization.Outcome{Cost: float64(e - start)}, err
			}
		}
		return optimization.Outcome{Values: []float64{v}, Cost: float64(steps - start)}, nil
	})
}

func newStudy(id string) *optimization.Study {
	return &optimization.Study{ID: id, Space: mixedSpace(), Directions: []optimization.Direction{optimization.Maximize}, Seed: 11}
}

func TestOptimizerBudgetsAndPruning(t *testing.T) {
	ctx := t.Context()
	run := func(p optimization.Pruner, b optimization.Budget) *optimization.Result {
		o := &optimization.HyperparameterOptimizer{Sampler: optimization.RandomSearchOptimizer{}, Pruner: p, Budget: b, Workers: 2}
		res, err := o.Optimize(ctx, newStudy("b"), curveObjective(9, nil))
		require.NoError(t, err)
		return res
	}
	full := run(nil, optimization.Budget{Trials: 20})
	assert.Equal(t, optimization.StopTrials, full.StopReason)
	assert.Len(t, full.Study.Trials, 20)
	assert.Equal(t, 180.0, full.TotalCost)
	pruned := run(optimization.NewASHAPruner(1, 3), optimization.Budget{Trials: 20})
	assert.Less(t, pruned.TotalCost, full.TotalCost*0.8, "ASHA trains fewer epochs")
	states := map[store.TrialState]int{}
	for _, tr := range pruned.Study.Trials {
		states[tr.State]++
	}
	assert.Positive(t, states[store.TrialPruned])

	target := -1.5
	res := run(nil, optimization.Budget{Trials: 100, Target: &target})
	assert.Equal(t, optimization.StopTarget, res.StopReason)
	res = run(nil, optimization.Budget{Trials: 500, Patience: 3})
	assert.Equal(t, optimization.StopPatience, res.StopReason)
	res = run(nil, optimization.Budget{Trials: 500, Dollars: 1e-9, DollarsPerHour: 3})
	assert.Equal(t, optimization.StopDollars, res.StopReason)
	res = run(nil, optimization.Budget{Trials: 1 << 20, WallTime: time.Millisecond})
	assert.Equal(t, optimization.StopWallTime, res.StopReason)
}

func openDB(t *testing.T) *sqlitestore.DB {
	db, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "orrery.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOptimizerPersistsResumesAndExtends(t *testing.T) {
	ctx := t.Context()
	db := openDB(t)
	o := &optimization.HyperparameterOptimizer{Sampler: optimization.BayesianOptimizer{InitialTrials: 3},
		Budget: optimization.Budget{Trials: 6}, Studies: db, Trials: db, Worker: "w1", Strategy: "bayesian"}
	res, err := o.Optimize(ctx, newStudy("st"), curveObjective(4, nil))
	require.NoError(t, err)
	require.Len(t, res.Study.Trials, 6)
	rec, err := db.GetStudy(ctx, "st")
	require.NoError(t, err)
	assert.Equal(t, store.Succeeded, rec.Status)
	assert.Contains(t, string(rec.State), "log_length", "the GP fit is kept for the next invocation")

	// A worker crashes in trial 6 after two epochs: its trial stays
	// RUNNING with the two reports.
	p, err := json.Marshal(optimization.Params{"x": 0.5, "lr": 0.01, "n": 3, "act": "tanh"})
	require.NoError(t, err)
	require.NoError(t, db.AddTrials(ctx, "st", []store.Trial{{Number: 6, Params: p}}))
	_, err = db.ClaimTrial(ctx, "st", "crashed", time.Now().Add(-time.Hour), time.Minute)
	require.NoError(t, err)
	inter := `{"steps":[{"step":1,"values":[-0.1]},{"step":2,"values":[-0.05]}]}`
	_, err = db.UpdateTrial(ctx, "st", 6, "crashed", store.TrialUpdate{Intermediate: json.RawMessage(inter)})
	require.NoError(t, err)

	// Extending the study to 9 trials re-queues trial 6 from its reports.
	var seenInter sync.Map
	o2 := *o
	o2.Worker, o2.Budget = "w2", optimization.Budget{Trials: 9}
	res, err = o2.Optimize(ctx, newStudy("st"), curveObjective(4, &seenInter))
	require.NoError(t, err)
	require.Len(t, res.Study.Trials, 9)
	n, ok := seenInter.Load(6)
	require.True(t, ok, "trial 6 ran again")
	assert.Equal(t, 2, n, "with its two earlier reports")
	stored, err := db.ListTrials(ctx, "st")
	require.NoError(t, err)
	for _, tr := range stored {
		assert.Equal(t, store.TrialComplete, tr.State, "trial %d", tr.Number)
	}
	assert.Equal(t, 2, stored[6].Attempts)
	assert.Equal(t, 4, len(res.Study.Trials[6].Intermediate))

	// A warm-started study: a new study seeded with the old trials' results.
	old, err := optimization.LoadStudy(ctx, db, db, "st")
	require.NoError(t, err)
	warm := optimization.WarmStart(newStudy("st2"), old)
	assert.Len(t, warm.Trials, 9)
	ts, err := warm.Ask(ctx, optimization.BayesianOptimizer{}, 1)
	require.NoError(t, err)
	assert.Equal(t, 9, ts[0].Number)
}

func TestConcurrentGridOptimizersNeverDuplicate(t *testing.T) {
	ctx := t.Context()
	db := openDB(t)
	sp := optimization.Space{Dimensions: []optimization.Dimension{
		{Name: "a", Kind: optimization.Categorical, Choices: []any{"x", "y", "z"}},
		{Name: "b", Kind: optimization.Int, Low: 1, High: 4},
	}}
	obj := optimization.ObjectiveFunc(func(ctx context.Context, t optimization.Trial, report optimization.ReportFunc) (optimization.Outcome, error) {
		b, _ := t.Params.Int("b")
		return optimization.Outcome{Values: []float64{float64(b)}, Cost: 1}, nil
	})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := &optimization.HyperparameterOptimizer{Sampler: optimization.GridSearchOptimizer{}, Studies: db, Trials: db,
				Worker: fmt.Sprintf("w%d", w), Workers: 2}
			st := &optimization.Study{ID: "grid", Space: sp, Directions: []optimization.Direction{optimization.Minimize}}
			_, err := o.Optimize(ctx, st, obj)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	stored, err := db.ListTrials(ctx, "grid")
	require.NoError(t, err)
	keys := map[string]bool{}
	for _, tr := range stored {
		assert.False(t, keys[tr.Key], "grid point %s queued twice", tr.Key)
		keys[tr.Key] = true
		assert.Equal(t, store.TrialComplete, tr.State)
	}
	assert.Len(t, stored, 12)
}

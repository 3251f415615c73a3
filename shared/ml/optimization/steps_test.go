package optimization_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/filestore"
)

func stepStores(t *testing.T) optimization.Stores {
	db := openDB(t)
	files, err := filestore.New(t.TempDir())
	require.NoError(t, err)
	return optimization.Stores{Studies: db, Trials: db, Artifacts: files}
}

func stepSpec(trials, parallel int, pruner string) optimization.StudySpec {
	return optimization.StudySpec{Space: mixedSpace(), Directions: []optimization.Direction{optimization.Maximize}, Seed: 3,
		Strategy: "random", Pruner: pruner, Parallel: parallel, Budget: optimization.Budget{Trials: trials}}
}

// drive runs the state machine's loop by hand: Suggest, every suggested
// trial, Tell, until Tell says stop; then Finalize.
func drive(t *testing.T, st optimization.Stores, id string, obj optimization.Objective) (rounds int, fin optimization.FinalizeOutput) {
	ctx := t.Context()
	for {
		rounds++
		require.Less(t, rounds, 100, "the loop ends")
		sug, err := optimization.Suggest(ctx, st, optimization.SuggestInput{StudyID: id})
		require.NoError(t, err)
		for _, n := range sug.Trials {
			out, err := optimization.RunTrial(ctx, st, obj, optimization.TrialInput{StudyID: id, Number: n})
			require.NoError(t, err)
			assert.True(t, out.Claimed)
			assert.True(t, out.State.Finished(), "trial %d ends finished, got %s", out.Number, out.State)
		}
		tell, err := optimization.Tell(ctx, st, optimization.TellInput{StudyID: id, Exhausted: sug.Exhausted})
		require.NoError(t, err)
		if !tell.Continue {
			fin, err = optimization.Finalize(ctx, st, optimization.FinalizeInput{StudyID: id, StopReason: tell.StopReason})
			require.NoError(t, err)
			return rounds, fin
		}
	}
}

func TestStepsRunAStudy(t *testing.T) {
	for _, tc := range []struct {
		name             string
		trials, parallel int
		pruner           string
		rounds           int
	}{
		{"one at a time", 4, 1, "none", 4},
		{"rounds of three, last one short", 7, 3, "asha", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			st := stepStores(t)
			require.NoError(t, optimization.CreateStudy(ctx, st, "s1", "steps", stepSpec(tc.trials, tc.parallel, tc.pruner)))
			rounds, fin := drive(t, st, "s1", curveObjective(5, nil))
			assert.Equal(t, tc.rounds, rounds)
			assert.Equal(t, optimization.StopTrials, fin.StopReason)
			assert.Equal(t, tc.trials, fin.Trials)
			require.NotNil(t, fin.BestTrial)
			res, err := optimization.Results(ctx, st, "s1")
			require.NoError(t, err)
			assert.Equal(t, store.Succeeded, res.Status)
			assert.Len(t, res.Trials, tc.trials)
			assert.Equal(t, fin.BestTrial.Number, res.BestTrial.Number)
			assert.Equal(t, optimization.ReportKey("s1"), res.ReportKey)
			require.NotNil(t, res.Analysis)
			r, err := st.Artifacts.Get(ctx, res.ReportKey)
			require.NoError(t, err)
			html, err := io.ReadAll(r)
			r.Close()
			require.NoError(t, err)
			assert.Contains(t, string(html), "<html")
		})
	}
}

func TestRunTrialFailsTheTrialNotTheStep(t *testing.T) {
	ctx := t.Context()
	st := stepStores(t)
	require.NoError(t, optimization.CreateStudy(ctx, st, "f", "", stepSpec(1, 1, "none")))
	sug, err := optimization.Suggest(ctx, st, optimization.SuggestInput{StudyID: "f"})
	require.NoError(t, err)
	require.Equal(t, []int{0}, sug.Trials)
	bad := optimization.ObjectiveFunc(func(context.Context, optimization.Trial, optimization.ReportFunc) (optimization.Outcome, error) {
		return optimization.Outcome{}, errors.New("diverged")
	})
	out, err := optimization.RunTrial(ctx, st, bad, optimization.TrialInput{StudyID: "f", Number: 0})
	require.NoError(t, err)
	assert.Equal(t, store.TrialFailed, out.State)
	assert.Equal(t, "diverged", out.Error)
	// Nothing left to claim: a retried iteration does nothing.
	again, err := optimization.RunTrial(ctx, st, bad, optimization.TrialInput{StudyID: "f", Number: 0})
	require.NoError(t, err)
	assert.False(t, again.Claimed)
	tell, err := optimization.Tell(ctx, st, optimization.TellInput{StudyID: "f"})
	require.NoError(t, err)
	assert.False(t, tell.Continue)
	assert.Nil(t, tell.Best)

	var in optimization.FailureInput
	in.StudyID, in.Error.Error, in.Error.Cause = "f", "States.TaskFailed", "boom"
	require.NoError(t, optimization.MarkFailed(ctx, st, in))
	res, err := optimization.Results(ctx, st, "f")
	require.NoError(t, err)
	assert.Equal(t, store.Failed, res.Status)
	assert.Equal(t, "States.TaskFailed: boom", res.Error)
}

func TestSuggestKeepsUnfinishedTrialsAndTheGridEnds(t *testing.T) {
	ctx := t.Context()
	st := stepStores(t)
	spec := optimization.StudySpec{Space: optimization.Space{Dimensions: []optimization.Dimension{
		{Name: "act", Kind: optimization.Categorical, Choices: []any{"relu", "tanh", "gelu"}}}},
		Directions: []optimization.Direction{optimization.Maximize}, Strategy: "grid", Parallel: 2, Budget: optimization.Budget{Trials: 10}}
	require.NoError(t, optimization.CreateStudy(ctx, st, "g", "", spec))
	first, err := optimization.Suggest(ctx, st, optimization.SuggestInput{StudyID: "g"})
	require.NoError(t, err)
	assert.Equal(t, []int{0, 1}, first.Trials)
	// The round crashed before running anything: the next Suggest plans
	// the same trials instead of asking for more.
	again, err := optimization.Suggest(ctx, st, optimization.SuggestInput{StudyID: "g"})
	require.NoError(t, err)
	assert.Equal(t, first.Trials, again.Trials)
	byName := optimization.ObjectiveFunc(func(ctx context.Context, tr optimization.Trial, report optimization.ReportFunc) (optimization.Outcome, error) {
		v := float64(len(tr.Params["act"].(string)))
		if err := report(ctx, 1, []float64{v}); err != nil {
			return optimization.Outcome{}, err
		}
		return optimization.Outcome{Values: []float64{v}, Cost: 1}, nil
	})
	rounds, fin := drive(t, st, "g", byName)
	assert.Equal(t, optimization.StopExhausted, fin.StopReason)
	assert.Equal(t, 3, fin.Trials, "every grid point once")
	assert.Equal(t, 3, rounds)
}

func TestStepErrors(t *testing.T) {
	ctx := t.Context()
	st := stepStores(t)
	_, err := optimization.Suggest(ctx, st, optimization.SuggestInput{StudyID: "nope"})
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = optimization.Results(ctx, st, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)
	for name, spec := range map[string]optimization.StudySpec{
		"no budget":     {Space: mixedSpace(), Directions: []optimization.Direction{optimization.Maximize}},
		"bad strategy":  func() optimization.StudySpec { s := stepSpec(2, 1, ""); s.Strategy = "cma"; return s }(),
		"bad pruner":    stepSpec(2, 1, "hypoband"),
		"no directions": {Space: mixedSpace(), Budget: optimization.Budget{Trials: 1}},
	} {
		err := optimization.CreateStudy(ctx, st, "x", "", spec)
		require.ErrorIs(t, err, optimization.ErrInvalidStudy, name)
	}
	require.NoError(t, optimization.CreateStudy(ctx, st, "dup", "", stepSpec(1, 1, "")))
	require.ErrorIs(t, optimization.CreateStudy(ctx, st, "dup", "", stepSpec(1, 1, "")), store.ErrConflict)
	_, err = optimization.RunTrial(ctx, optimization.Stores{}, nil, optimization.TrialInput{StudyID: "dup"})
	require.ErrorIs(t, err, optimization.ErrInvalidStudy)
}

func TestLayersChoice(t *testing.T) {
	for _, tc := range []struct {
		layers []int
		text   string
	}{{[]int{64, 32}, "64-32"}, {[]int{8}, "8"}, {nil, "0"}} {
		assert.Equal(t, tc.text, optimization.LayersChoice(tc.layers))
		got, err := optimization.ParseLayers(tc.text)
		require.NoError(t, err)
		assert.Equal(t, len(tc.layers), len(got))
	}
	for _, bad := range []string{"", "64,32", "-1", "a-b"} {
		_, err := optimization.ParseLayers(bad)
		require.ErrorIs(t, err, optimization.ErrInvalidSpace, bad)
	}
}

func TestSuggestWaitsForTrialsOthersHold(t *testing.T) {
	ctx := t.Context()
	st := stepStores(t)
	require.NoError(t, optimization.CreateStudy(ctx, st, "h", "", stepSpec(2, 2, "none")))
	first, err := optimization.Suggest(ctx, st, optimization.SuggestInput{StudyID: "h"})
	require.NoError(t, err)
	require.Equal(t, []int{0, 1}, first.Trials)
	// Another worker holds trial 0 with a live lease; trial 1 was claimed
	// by a worker whose lease has expired.
	_, err = st.Trials.ClaimTrial(ctx, "h", "other", time.Now(), time.Hour)
	require.NoError(t, err)
	_, err = st.Trials.ClaimTrial(ctx, "h", "crashed", time.Now().Add(-time.Hour), time.Minute)
	require.NoError(t, err)
	round, err := optimization.Suggest(ctx, st, optimization.SuggestInput{StudyID: "h"})
	require.NoError(t, err)
	assert.Equal(t, []int{1}, round.Trials, "the abandoned trial is planned again, the held one is not, and the budget is spent")
	assert.Zero(t, round.WaitSeconds)
	out, err := optimization.RunTrial(ctx, st, curveObjective(2, nil), optimization.TrialInput{StudyID: "h", Number: 1})
	require.NoError(t, err)
	assert.Equal(t, 1, out.Number)
	round, err = optimization.Suggest(ctx, st, optimization.SuggestInput{StudyID: "h"})
	require.NoError(t, err)
	assert.Empty(t, round.Trials)
	assert.Equal(t, optimization.HeldTrialWait, round.WaitSeconds, "only a held trial is left: wait")
	tell, err := optimization.Tell(ctx, st, optimization.TellInput{StudyID: "h"})
	require.NoError(t, err)
	assert.True(t, tell.Continue, "the held trial has not finished")
}

func TestRunTrialKeepsItsLeaseWhileAStepIsLong(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a lease renewal (a third of a 2 s lease)")
	}
	ctx := t.Context()
	st := stepStores(t)
	require.NoError(t, optimization.CreateStudy(ctx, st, "l", "", stepSpec(1, 1, "none")))
	_, err := optimization.Suggest(ctx, st, optimization.SuggestInput{StudyID: "l"})
	require.NoError(t, err)
	var stolen error
	// One long epoch with no report: the objective holds until the store
	// shows the lease renewed past the end of the lease it was claimed with
	// (an event, not a sleep: however slow the machine, the renewal comes
	// before the claim is tried), then a thief tries to claim the trial at
	// an instant after that first lease ran out.
	slow := optimization.ObjectiveFunc(func(ctx context.Context, tr optimization.Trial, report optimization.ReportFunc) (optimization.Outcome, error) {
		first := leaseUntil(t, st, "l", tr.Number)
		wait, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		for !leaseUntil(t, st, "l", tr.Number).After(first) {
			select {
			case <-wait.Done():
				return optimization.Outcome{}, fmt.Errorf("the lease of trial %d was never renewed: %w", tr.Number, wait.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
		_, stolen = st.Trials.ClaimTrial(ctx, "l", "thief", first.Add(time.Millisecond), time.Minute)
		return optimization.Outcome{Values: []float64{1}, Cost: 1}, report(ctx, 1, []float64{1})
	})
	out, err := optimization.RunTrial(ctx, st, slow, optimization.TrialInput{StudyID: "l", LeaseSeconds: 2})
	require.NoError(t, err)
	assert.Equal(t, store.TrialComplete, out.State)
	require.ErrorIs(t, stolen, store.ErrNotFound, "nobody could claim the trial while it ran")
}

// leaseUntil is the end of the lease of the study's trial number.
func leaseUntil(t *testing.T, st optimization.Stores, studyID string, number int) time.Time {
	t.Helper()
	trials, err := st.Trials.ListTrials(t.Context(), studyID)
	require.NoError(t, err)
	for _, tr := range trials {
		if tr.Number == number {
			return tr.LeaseUntil
		}
	}
	require.Failf(t, "no such trial", "study %s has no trial %d", studyID, number)
	return time.Time{}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store"
)

// fakeSteps answers every step with err (or a SuggestOutput), and records
// the request.
type fakeSteps struct {
	err  error
	seen []optimization.StepRequest
}

func (f *fakeSteps) Step(_ context.Context, req optimization.StepRequest) (any, error) {
	f.seen = append(f.seen, req)
	if f.err != nil {
		return nil, f.err
	}
	return optimization.SuggestOutput{StudyID: req.StudyID, Trials: []int{0, 1}}, nil
}

// TestRouting: "stage" goes to the training stages, "step" to the
// optimization steps, and a request naming neither or both runs nothing.
func TestRouting(t *testing.T) {
	for _, tc := range []struct {
		name, payload      string
		wantStage, wantStp int
		wantErr            string
	}{
		{name: "stage", payload: `{"stage":"validate","refs":{"job_id":"j"}}`, wantStage: 1},
		{name: "step", payload: `{"step":"suggest","study_id":"hpo-1"}`, wantStp: 1},
		{name: "neither", payload: `{"study_id":"hpo-1"}`, wantErr: training.ErrorNameInvalidInput},
		{name: "both", payload: `{"stage":"validate","step":"suggest","study_id":"hpo-1","refs":{"job_id":"j"}}`, wantErr: training.ErrorNameInvalidInput},
		{name: "not an object", payload: `["step"]`, wantErr: training.ErrorNameInvalidInput},
		{name: "empty", payload: ``, wantErr: training.ErrorNameInvalidInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stages, steps := &fakeStages{}, &fakeSteps{}
			h := &handler{stages: stages, steps: steps, log: slog.New(slog.DiscardHandler)}
			out, err := h.Handle(t.Context(), json.RawMessage(tc.payload))
			if tc.wantErr != "" {
				e := requireInvokeError(t, err, tc.wantErr)
				assert.Contains(t, e.Message, `"stage" "step"`, "the message names the kinds")
			} else {
				require.NoError(t, err)
				assert.NotNil(t, out)
			}
			assert.Len(t, stages.seen, tc.wantStage)
			assert.Len(t, steps.seen, tc.wantStp)
		})
	}
}

// TestStepRequests: a step request is decoded strictly and passed on whole;
// its output is what the runner returned, encoded as the state machine
// reads it; failures carry the names pipeline.StepErrorName gives, which is
// what the local executor names them too.
func TestStepRequests(t *testing.T) {
	t.Run("decoded whole", func(t *testing.T) {
		steps := &fakeSteps{}
		h := &handler{steps: steps, log: slog.New(slog.DiscardHandler)}
		_, err := h.Handle(t.Context(), json.RawMessage(`{"step":"mark_failed","study_id":"hpo-1",
			"error":{"Error":"States.TaskFailed","Cause":"trial job exited 1"}}`))
		require.NoError(t, err)
		require.Len(t, steps.seen, 1)
		assert.Equal(t, optimization.StepRequest{Step: optimization.StepMarkFailed, StudyID: "hpo-1",
			Error: &optimization.StepFailure{Error: "States.TaskFailed", Cause: "trial job exited 1"}}, steps.seen[0])

		out, err := h.Handle(t.Context(), json.RawMessage(`{"step":"suggest","study_id":"hpo-2"}`))
		require.NoError(t, err)
		b, err := json.Marshal(out)
		require.NoError(t, err)
		assert.JSONEq(t, `{"study_id":"hpo-2","trials":[0,1],"exhausted":false,"wait_seconds":0}`, string(b))
	})

	for _, tc := range []struct {
		name, payload string
		err           error
		want          string
	}{
		{"unknown field", `{"step":"tell","study_id":"hpo-1","exhuasted":true}`, nil, training.ErrorNameInvalidInput},
		{"trailing data", `{"step":"tell","study_id":"hpo-1"} {}`, nil, training.ErrorNameInvalidInput},
		{"no step", `{"step":"","study_id":"hpo-1"}`, nil, training.ErrorNameInvalidInput},
		{"no study", `{"step":"suggest"}`, nil, training.ErrorNameInvalidInput},
		{"wrong type", `{"step":"tell","study_id":"hpo-1","exhausted":"yes"}`, nil, training.ErrorNameInvalidInput},
		{"unknown step", `{"step":"train","study_id":"hpo-1"}`, fmt.Errorf("step %q: %w", "train", optimization.ErrInvalidStudy), training.ErrorNameInvalidInput},
		{"unknown study", `{"step":"suggest","study_id":"hpo-1"}`, fmt.Errorf("load study hpo-1: %w", store.ErrNotFound), training.ErrorNameNotFound},
		{"lost a race", `{"step":"suggest","study_id":"hpo-1"}`, fmt.Errorf("suggest: %w", store.ErrConflict), training.ErrorNameConflict},
		{"cancelled", `{"step":"finalize","study_id":"hpo-1"}`, fmt.Errorf("finalize: %w", context.Canceled), training.ErrorNameCancelled},
		{"anything else", `{"step":"finalize","study_id":"hpo-1"}`, errors.New("S3 is having a bad day"), pipeline.ErrorStepFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			steps := &fakeSteps{err: tc.err}
			h := &handler{steps: steps, log: slog.New(slog.DiscardHandler)}
			_, err := h.Handle(t.Context(), json.RawMessage(tc.payload))
			e := requireInvokeError(t, err, tc.want)
			if tc.err != nil {
				assert.Equal(t, tc.err.Error(), e.Message)
				require.Len(t, steps.seen, 1)
			} else {
				assert.Empty(t, steps.seen, "a bad request runs no step")
			}
		})
	}
}

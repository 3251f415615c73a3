package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient"
	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
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
		{name: "neither", payload: `{"study_id":"hpo-1"}`, wantErr: fault.Invalid.Name()},
		{name: "both", payload: `{"stage":"validate","step":"suggest","study_id":"hpo-1","refs":{"job_id":"j"}}`, wantErr: fault.Invalid.Name()},
		{name: "not an object", payload: `["step"]`, wantErr: fault.Invalid.Name()},
		{name: "empty", payload: ``, wantErr: fault.Invalid.Name()},
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
// reads it; failures carry the names of their fault codes, which is what
// the local executor names them too.
func TestStepRequests(t *testing.T) {
	t.Run("decoded whole", func(t *testing.T) {
		steps := &fakeSteps{}
		h := &handler{steps: steps, log: slog.New(slog.DiscardHandler)}
		_, err := h.Handle(t.Context(), json.RawMessage(`{"step":"mark_failed","study_id":"hpo-1",
			"error":{"Error":"States.TaskFailed","Cause":"trial job exited 1"}}`))
		require.NoError(t, err)
		require.Len(t, steps.seen, 1)
		assert.Equal(t, optimization.StepRequest{Step: optimization.StepMarkFailed, StudyID: "hpo-1",
			Error: &fault.Failure{Error: "States.TaskFailed", Cause: "trial job exited 1"}}, steps.seen[0])

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
		{"unknown field", `{"step":"tell","study_id":"hpo-1","exhuasted":true}`, nil, fault.Invalid.Name()},
		{"trailing data", `{"step":"tell","study_id":"hpo-1"} {}`, nil, fault.Invalid.Name()},
		{"no step", `{"step":"","study_id":"hpo-1"}`, nil, fault.Invalid.Name()},
		{"no study", `{"step":"suggest"}`, nil, fault.Invalid.Name()},
		{"wrong type", `{"step":"tell","study_id":"hpo-1","exhausted":"yes"}`, nil, fault.Invalid.Name()},
		{"unknown step", `{"step":"train","study_id":"hpo-1"}`, fmt.Errorf("step %q: %w", "train", optimization.ErrInvalidStudy), fault.Invalid.Name()},
		{"unknown study", `{"step":"suggest","study_id":"hpo-1"}`, fmt.Errorf("load study hpo-1: %w", store.ErrNotFound), fault.NotFound.Name()},
		{"lost a race", `{"step":"suggest","study_id":"hpo-1"}`, fmt.Errorf("suggest: %w", store.ErrConflict), fault.Conflict.Name()},
		{"cancelled", `{"step":"finalize","study_id":"hpo-1"}`, fmt.Errorf("finalize: %w", context.Canceled), fault.Cancelled.Name()},
		{"anything else", `{"step":"finalize","study_id":"hpo-1"}`, errors.New("S3 is having a bad day"), fault.Internal.Name()},
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

// TestStepsAgainstEmulator wires the function as main does, against
// DynamoDB and S3 in the emulator, and invokes it as the optimization state
// machine does: suggest a round, (the round's trials run elsewhere: here a
// cheap objective through optimization.RunTrial over the same table), tell,
// finalize — the study SUCCEEDED with its report in the artifacts bucket —
// and mark_failed on another study. None of these steps reads a data set:
// the study's dataset_path does not exist.
func TestStepsAgainstEmulator(t *testing.T) {
	cfg := awstest.Config(t)
	ctx := t.Context()
	awstest.UseEmulator(t)

	ddb := dynamodb.NewFromConfig(cfg)
	table := awstest.Name(t, "steps")
	require.NoError(t, dynamostore.CreateTable(ctx, ddb, table))
	t.Cleanup(func() {
		_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	s3c := s3.NewFromConfig(cfg, awsclient.S3Options(cfg))
	artifacts := awstest.Name(t, "artifacts")
	_, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(artifacts)})
	require.NoError(t, err)
	t.Cleanup(func() { awstest.RemoveBucket(s3c, artifacts) })

	c, err := FromEnv(func(k string) string {
		return map[string]string{config.EnvJobsTable: table, config.EnvModelsTable: table, config.EnvStudiesTable: table,
			config.EnvArtifactsBucket: artifacts}[k]
	})
	require.NoError(t, err)
	h, err := newHandler(ctx, c, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	db, err := dynamostore.New(ddb, dynamostore.Tables{Studies: table})
	require.NoError(t, err)
	st := optimization.Stores{Studies: db, Trials: db}

	base := training.Defaults()
	base.DatasetPath, base.TargetColumn = "s3://"+artifacts+"/absent.csv", "class"
	spec := optimization.StudySpec{Space: optimization.Space{Dimensions: []optimization.Dimension{
		{Name: "learning_rate", Kind: optimization.Float, Low: 1e-4, High: 1e-1, Log: true}}},
		Directions: []optimization.Direction{optimization.Minimize}, Strategy: "random", Parallel: 2,
		Budget: optimization.Budget{Trials: 2}, Base: &base}
	id := awstest.Name(t, "hpo")
	require.NoError(t, optimization.CreateStudy(ctx, st, id, "steps", spec))

	invoke := func(t *testing.T, payload string, out any) {
		t.Helper()
		res, err := h.Handle(ctx, json.RawMessage(payload))
		require.NoError(t, err)
		b, err := json.Marshal(res)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, out), "%s", b)
	}
	var round optimization.SuggestOutput
	invoke(t, `{"step":"suggest","study_id":"`+id+`"}`, &round)
	assert.Equal(t, []int{0, 1}, round.Trials)
	stored, err := db.ListTrials(ctx, id)
	require.NoError(t, err)
	require.Len(t, stored, 2, "the round's trials are queued in DynamoDB")

	var tell optimization.TellOutput
	invoke(t, `{"step":"tell","study_id":"`+id+`","exhausted":false}`, &tell)
	assert.True(t, tell.Continue, "no trial finished yet")

	obj := optimization.ObjectiveFunc(func(_ context.Context, tr optimization.Trial, report optimization.ReportFunc) (optimization.Outcome, error) {
		lr, _ := tr.Params.Float("learning_rate")
		return optimization.Outcome{Values: []float64{lr}}, nil
	})
	for _, n := range round.Trials {
		out, err := optimization.RunTrial(ctx, st, obj, optimization.TrialInput{StudyID: id, Number: n})
		require.NoError(t, err)
		assert.Equal(t, store.TrialComplete, out.State)
	}
	invoke(t, `{"step":"tell","study_id":"`+id+`"}`, &tell)
	assert.False(t, tell.Continue)
	assert.Equal(t, optimization.StopTrials, tell.StopReason)
	assert.Equal(t, 2, tell.Finished)

	var fin optimization.FinalizeOutput
	invoke(t, `{"step":"finalize","study_id":"`+id+`","stop_reason":"`+tell.StopReason+`"}`, &fin)
	assert.Equal(t, 2, fin.Trials)
	require.NotNil(t, fin.BestTrial)
	assert.Equal(t, optimization.ReportKey(id), fin.ReportKey)
	obj2, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(artifacts), Key: aws.String(fin.ReportKey)})
	require.NoError(t, err, "the report is in the artifacts bucket")
	_ = obj2.Body.Close()
	rec, err := db.GetStudy(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, store.Succeeded, rec.Status)

	other := awstest.Name(t, "hpo")
	require.NoError(t, optimization.CreateStudy(ctx, st, other, "failing", spec))
	var empty map[string]any
	invoke(t, `{"step":"mark_failed","study_id":"`+other+`","error":{"Error":"States.TaskFailed","Cause":"trial exited 1"}}`, &empty)
	res, err := optimization.Results(ctx, st, other)
	require.NoError(t, err)
	assert.Equal(t, store.Failed, res.Status)
	assert.Equal(t, "States.TaskFailed: trial exited 1", res.Error)

	_, err = h.Handle(ctx, json.RawMessage(`{"step":"suggest","study_id":"hpo-absent"}`))
	requireInvokeError(t, err, fault.NotFound.Name())
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient"
	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
	"github.com/orrery-ml/orrery/shared/synthetic"
)

// fakeEvaluations answers every step with err (or SUCCEEDED), and records
// the request.
type fakeEvaluations struct {
	err  error
	seen []evaluationjob.Request
}

func (f *fakeEvaluations) Step(_ context.Context, req evaluationjob.Request) (evaluationjob.Output, error) {
	f.seen = append(f.seen, req)
	if f.err != nil {
		return evaluationjob.Output{}, f.err
	}
	return evaluationjob.Output{JobID: req.JobID, Status: string(store.Succeeded)}, nil
}

// TestEvaluationRequests: "evaluation" goes to the evaluation steps,
// decoded strictly and passed on whole (the fixtures of events/aws); the
// output is the step's; failures carry the names of their fault codes,
// which is what the local executor names them too.
func TestEvaluationRequests(t *testing.T) {
	t.Run("routed and decoded whole", func(t *testing.T) {
		stages, steps, evals := &fakeStages{}, &fakeSteps{}, &fakeEvaluations{}
		h := &handler{stages: stages, steps: steps, evaluations: evals, log: slog.New(slog.DiscardHandler)}
		out, err := h.Handle(t.Context(), fixture(t, "stages-evaluation.json"))
		require.NoError(t, err)
		assert.Equal(t, evaluationjob.Output{JobID: "evj-20260301120000-5e6f7a8b", Status: "SUCCEEDED"}, out)
		_, err = h.Handle(t.Context(), fixture(t, "stages-evaluation-mark-failed.json"))
		require.NoError(t, err)
		require.Len(t, evals.seen, 2)
		assert.Equal(t, evaluationjob.Request{JobID: "evj-20260301120000-5e6f7a8b"}, evals.seen[0])
		mf := evals.seen[1]
		assert.Equal(t, evaluationjob.StepMarkFailed, mf.Step)
		require.NotNil(t, mf.Failure)
		assert.Equal(t, fault.Invalid.Name(), mf.Failure.Error)
		assert.Contains(t, mf.Failure.Message(), `column "klass" not found`, "the Lambda cause unwraps to the message")
		assert.Empty(t, stages.seen)
		assert.Empty(t, steps.seen)

		// The heavy path's steps (the Plan and Reduce tasks) pass through the same way.
		for _, f := range []string{"stages-evaluation-plan.json", "stages-evaluation-reduce.json"} {
			_, err := h.Handle(t.Context(), fixture(t, f))
			require.NoError(t, err, f)
		}
		require.Len(t, evals.seen, 4)
		assert.Equal(t, evaluationjob.Request{JobID: "evj-20260301120000-5e6f7a8b", Step: evaluationjob.StepPlan}, evals.seen[2])
		assert.Equal(t, evaluationjob.Request{JobID: "evj-20260301120000-5e6f7a8b", Step: evaluationjob.StepReduce}, evals.seen[3])
	})

	for _, tc := range []struct {
		name, payload string
	}{
		{"unknown field", `{"evaluation": {"job_id": "evj-1", "model_id": "mdl-1"}}`},
		{"no job id", `{"evaluation": {"step": "evaluate"}}`},
		{"null", `{"evaluation": null}`},
		{"trailing data", `{"evaluation": {"job_id": "evj-1"}} {}`},
		{"evaluation and stage", `{"evaluation": {"job_id": "evj-1"}, "stage": "validate", "refs": {"job_id": "j"}}`},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			evals := &fakeEvaluations{}
			h := &handler{stages: &fakeStages{}, steps: &fakeSteps{}, evaluations: evals, log: slog.New(slog.DiscardHandler)}
			_, err := h.Handle(t.Context(), json.RawMessage(tc.payload))
			requireInvokeError(t, err, fault.Invalid.Name())
			assert.Empty(t, evals.seen, "nothing runs")
		})
	}

	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("evaluate model m: %w", store.ErrNotFound), fault.NotFound.Name()},
		{fmt.Errorf("evaluation job j: %w: it is already SUCCEEDED", store.ErrConflict), fault.Conflict.Name()},
		{fmt.Errorf("%w: cv_folds: 1", evaluation.ErrInvalidRequest), fault.Invalid.Name()},
		{fmt.Errorf("evaluate model m: %w: classes differ", evaluationjob.ErrEvaluation), fault.Invalid.Name()},
		{fmt.Errorf("evaluate model m: %w", training.ErrDataPath), fault.Invalid.Name()},
		{errors.New("report: render failed"), fault.Internal.Name()},
	} {
		t.Run("error type "+tc.want, func(t *testing.T) {
			h := &handler{evaluations: &fakeEvaluations{err: tc.err}, log: slog.New(slog.DiscardHandler)}
			_, err := h.Handle(t.Context(), fixture(t, "stages-evaluation.json"))
			e := requireInvokeError(t, err, tc.want)
			assert.Equal(t, tc.err.Error(), e.Message)
		})
	}
}

// evaluationWorld is moto's DynamoDB and S3 with a model registered on a
// data set in S3, and the function's handler wired over them as main
// wires it.
type evaluationWorld struct {
	table, artifacts, data string
	dataPath               string
	modelID                string
	h                      *handler
	svc                    *evaluationjob.Service
}

func newEvaluationWorld(t *testing.T) *evaluationWorld {
	t.Helper()
	cfg := awstest.Config(t)
	ctx := t.Context()
	awstest.UseEmulator(t)
	w := &evaluationWorld{table: awstest.Name(t, "stages-eval"), artifacts: awstest.Name(t, "artifacts"), data: awstest.Name(t, "datasets")}
	ddb := dynamodb.NewFromConfig(cfg)
	require.NoError(t, dynamostore.CreateTable(ctx, ddb, w.table))
	t.Cleanup(func() {
		_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(w.table)})
	})
	s3c := s3.NewFromConfig(cfg, awsclient.S3Options(cfg))
	for _, b := range []string{w.artifacts, w.data} {
		_, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)})
		require.NoError(t, err)
		t.Cleanup(func() { awstest.RemoveBucket(s3c, b) })
	}
	_, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(w.data), Key: aws.String("incoming/syn.csv"),
		Body: strings.NewReader(synthetic.TwoClassCSV(400, 11))})
	require.NoError(t, err)
	w.dataPath = "s3://" + w.data + "/incoming/syn.csv"

	c, err := FromEnv(func(k string) string {
		return map[string]string{config.EnvJobsTable: w.table, config.EnvModelsTable: w.table, config.EnvStudiesTable: w.table,
			config.EnvArtifactsBucket: w.artifacts}[k]
	})
	require.NoError(t, err)
	w.h, err = newHandler(ctx, c, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	var ok bool
	w.svc, ok = w.h.evaluations.(*evaluationjob.Service)
	require.True(t, ok, "main wires the evaluation service")
	p, ok := w.h.stages.(*training.TrainingPipeline)
	require.True(t, ok, "main wires the training pipeline")
	trained, err := pipeline.RunTraining(ctx, p, training.TrainingConfig{DatasetPath: w.dataPath, TargetColumn: "label", PositiveClass: "pulsar",
		Epochs: 5, HiddenLayers: []int{8}, BatchSize: 32, LearningRate: 0.01})
	require.NoError(t, err)
	w.modelID = trained.ModelID
	return w
}

// TestEvaluationAgainstEmulator runs evaluation jobs through the handler
// as the evaluation state machine invokes it, over DynamoDB and S3 in the
// emulator: the job the API stores (evaluationjob.Service.Submit) is
// evaluated — the model fetched from S3, the data read from S3, the report
// written to S3 — and a job that cannot be evaluated fails with its error
// type, then mark_failed records why.
func TestEvaluationAgainstEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("trains and evaluates a small network against the AWS emulator")
	}
	w := newEvaluationWorld(t)
	ctx := t.Context()

	job, err := w.svc.Submit(ctx, evaluationjob.Config{EvaluateRequest: evaluation.EvaluateRequest{ModelID: w.modelID, BootstrapResamples: 100, SaveThreshold: "f1"}})
	require.NoError(t, err)
	out, err := w.h.Handle(ctx, json.RawMessage(`{"evaluation": {"job_id": "`+job.ID+`"}}`))
	require.NoError(t, err)
	o, ok := out.(evaluationjob.Output)
	require.True(t, ok, "%T", out)
	assert.Equal(t, string(store.Succeeded), o.Status)
	require.NotEmpty(t, o.DerivedModelID, "decision_threshold f1 registers a new model version")
	got, err := w.svc.Jobs.GetJob(ctx, job.ID)
	require.NoError(t, err)
	require.Equal(t, store.Succeeded, got.Status, got.Error)
	var res evaluationjob.Result
	require.NoError(t, json.Unmarshal(got.Result, &res))
	var ev evaluation.EvaluationResult
	require.NoError(t, json.Unmarshal(res.Evaluation, &ev))
	assert.Contains(t, ev.Split, "own test split", "the s3:// training file is recognised by its hash")
	assert.Greater(t, ev.Metrics.AUCROC, 0.8)
	assert.Greater(t, ev.Latency.ModelBytes, int64(0))
	assert.True(t, strings.HasPrefix(ev.Report["report.html"], "s3://"+w.artifacts+"/evaluations/"+w.modelID+"/"), ev.Report["report.html"])
	derived, err := w.svc.Models.GetModel(ctx, o.DerivedModelID)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(derived.ArtifactURI, "s3://"+w.artifacts+"/models/"+o.DerivedModelID), derived.ArtifactURI)
	latest, err := w.svc.EvaluationMetrics(ctx, w.modelID)
	require.NoError(t, err)
	assert.JSONEq(t, string(res.Evaluation), string(latest))

	t.Run("a finished job is a Conflict", func(t *testing.T) {
		_, err := w.h.Handle(ctx, json.RawMessage(`{"evaluation": {"job_id": "`+job.ID+`"}}`))
		requireInvokeError(t, err, fault.Conflict.Name())
	})
	t.Run("an unknown job is NotFound", func(t *testing.T) {
		_, err := w.h.Handle(ctx, json.RawMessage(`{"evaluation": {"job_id": "evj-absent"}}`))
		requireInvokeError(t, err, fault.NotFound.Name())
	})
	t.Run("a data set missing from S3 fails, and mark_failed records why", func(t *testing.T) {
		bad, err := w.svc.Submit(ctx, evaluationjob.Config{EvaluateRequest: evaluation.EvaluateRequest{ModelID: w.modelID, DatasetPath: "s3://" + w.data + "/incoming/absent.csv", TargetColumn: "label"}})
		require.NoError(t, err)
		_, err = w.h.Handle(ctx, json.RawMessage(`{"evaluation": {"job_id": "`+bad.ID+`"}}`))
		e := requireInvokeError(t, err, fault.NotFound.Name())
		assert.Contains(t, e.Message, "absent.csv")
		// The state machine's Catch hands the failure to mark_failed.
		in, err := json.Marshal(evaluationjob.Task{Evaluation: &evaluationjob.Request{Step: evaluationjob.StepMarkFailed, JobID: bad.ID,
			Failure: &fault.Failure{Error: e.Type, Cause: `{"errorMessage":` + mustJSON(t, e.Message) + `}`}}})
		require.NoError(t, err)
		_, err = w.h.Handle(ctx, in)
		require.NoError(t, err)
		failed, err := w.svc.Jobs.GetJob(ctx, bad.ID)
		require.NoError(t, err)
		assert.Equal(t, store.Failed, failed.Status)
		assert.Contains(t, failed.Error, "absent.csv")
		assert.NotContains(t, failed.Error, "errorMessage", "the Lambda cause is unwrapped")
		// A duplicated mark_failed leaves the job as it is.
		_, err = w.h.Handle(ctx, in)
		require.NoError(t, err)
	})
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient"
	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
)

func fixture(t *testing.T, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "aws", name))
	require.NoError(t, err)
	return b
}

// fakeStages answers every stage with err, and records the request.
type fakeStages struct {
	err  error
	seen []training.StageRequest
}

func (f *fakeStages) RunStage(_ context.Context, req training.StageRequest) (training.Refs, error) {
	f.seen = append(f.seen, req)
	if f.err != nil {
		return training.Refs{}, f.err
	}
	req.Refs.ModelID = "mdl-1"
	return req.Refs, nil
}

func requireInvokeError(t *testing.T, err error, wantType string) messages.InvokeResponse_Error {
	t.Helper()
	var e messages.InvokeResponse_Error
	require.ErrorAs(t, err, &e, "aws-lambda-go passes only this type's Type through verbatim")
	assert.Equal(t, wantType, e.Type)
	assert.NotEmpty(t, e.Message)
	return e
}

// TestErrorTypes: every failure comes back as messages.InvokeResponse_Error
// whose Type is the Orrery.* name the state machine's Retry/Catch match.
func TestErrorTypes(t *testing.T) {
	validate := fixture(t, "stages-validate.json")
	tests := []struct {
		name    string
		payload string
		err     error
		want    string
	}{
		{"invalid config", string(validate), fmt.Errorf("validate: %w: epochs", training.ErrInvalidConfig), fault.Invalid.Name()},
		{"invalid data", string(validate), fmt.Errorf("validate: %w", training.ErrInvalidData), fault.Invalid.Name()},
		{"unknown job", string(validate), fmt.Errorf("validate job x: %w", store.ErrNotFound), fault.NotFound.Name()},
		{"finished job", string(validate), fmt.Errorf("validate job x: %w", store.ErrConflict), fault.Conflict.Name()},
		{"data changed", string(validate), fmt.Errorf("train: %w", training.ErrDataChanged), fault.DataChanged.Name()},
		{"diverged", string(validate), fmt.Errorf("train: %w", training.ErrDiverged), fault.Diverged.Name()},
		{"cancelled", string(validate), fmt.Errorf("train: %w", context.Canceled), fault.Cancelled.Name()},
		{"anything else", string(validate), errors.New("S3 is having a bad day"), fault.Internal.Name()},
		{"not JSON", `{"stage":`, nil, fault.Invalid.Name()},
		{"unknown field", `{"stage":"validate","refs":{"job_id":"j"},"stgae":"x"}`, nil, fault.Invalid.Name()},
		{"unknown refs field", `{"stage":"validate","refs":{"jobid":"j"}}`, nil, fault.Invalid.Name()},
		{"trailing data", `{"stage":"validate","refs":{"job_id":"j"}} {}`, nil, fault.Invalid.Name()},
		{"no stage", `{"refs":{"job_id":"j"}}`, nil, fault.Invalid.Name()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeStages{err: tc.err}
			h := &handler{stages: fake, log: slog.New(slog.DiscardHandler)}
			_, err := h.Handle(t.Context(), json.RawMessage(tc.payload))
			e := requireInvokeError(t, err, tc.want)
			if tc.err != nil {
				assert.Equal(t, tc.err.Error(), e.Message, "the message is the stage's error")
				require.Len(t, fake.seen, 1)
			} else {
				assert.Empty(t, fake.seen, "a bad request runs no stage")
			}
		})
	}

	t.Run("fixtures decode", func(t *testing.T) {
		fake := &fakeStages{}
		h := &handler{stages: fake, log: slog.New(slog.DiscardHandler)}
		refs, err := handleStage(t, h, fixture(t, "stages-validate.json"))
		require.NoError(t, err)
		assert.Equal(t, "trn-20260301-120000-5f0c2a9d", refs.JobID)
		assert.Equal(t, "mdl-1", refs.ModelID)
		_, err = h.Handle(t.Context(), fixture(t, "stages-mark-failed.json"))
		require.NoError(t, err)
		require.Len(t, fake.seen, 2)
		assert.Equal(t, training.StageMarkFailed, fake.seen[1].Stage)
		require.NotNil(t, fake.seen[1].Failure)
		assert.Equal(t, "States.TaskFailed", fake.seen[1].Failure.Error)
	})
}

func TestFromEnv(t *testing.T) {
	_, err := FromEnv(func(string) string { return "" })
	require.ErrorIs(t, err, config.ErrMissing)
	for _, name := range []string{config.EnvJobsTable, config.EnvModelsTable, config.EnvStudiesTable, config.EnvArtifactsBucket} {
		assert.Contains(t, err.Error(), name)
	}
	c, err := FromEnv(func(k string) string {
		return map[string]string{config.EnvJobsTable: "jobs", config.EnvModelsTable: "models", config.EnvStudiesTable: "studies",
			config.EnvArtifactsBucket: "artifacts", config.EnvLogLevel: "debug"}[k]
	})
	require.NoError(t, err)
	assert.Equal(t, Config{JobsTable: "jobs", ModelsTable: "models", StudiesTable: "studies", ArtifactsBucket: "artifacts",
		Environment: "dev", AlarmPrefix: "orrery-dev", LogLevel: slog.LevelDebug}, c)

	base := map[string]string{config.EnvJobsTable: "jobs", config.EnvModelsTable: "models", config.EnvStudiesTable: "studies",
		config.EnvArtifactsBucket: "artifacts", config.EnvPredictFunction: "orrery-prod-predict", config.EnvEnvironment: "prod"}
	_, err = FromEnv(func(k string) string { return base[k] })
	require.ErrorIs(t, err, config.ErrMissing, "deployments need their table")
	assert.Contains(t, err.Error(), config.EnvDeploymentsTable)
	base[config.EnvDeploymentsTable] = "deployments"
	c, err = FromEnv(func(k string) string { return base[k] })
	require.NoError(t, err)
	assert.Equal(t, "orrery-prod", c.AlarmPrefix)
	assert.Equal(t, "orrery-prod-predict", c.PredictFunction)
}

// TestAgainstEmulator wires the function as main does, against DynamoDB and
// S3 in the emulator, with HTRU2 uploaded to a data bucket, and invokes it
// the way the training state machine does: the validate fixture, then each
// stage with the Refs the stage before returned (the Train stage, a Batch job
// on AWS, runs through the same handler here). Then it checks the error
// types of real failures.
func TestAgainstEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small network on HTRU2 against the AWS emulator")
	}
	cfg := awstest.Config(t)
	ctx := t.Context()
	awstest.UseEmulator(t)

	ddb := dynamodb.NewFromConfig(cfg)
	table := awstest.Name(t, "stages")
	require.NoError(t, dynamostore.CreateTable(ctx, ddb, table))
	t.Cleanup(func() {
		_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	s3c := s3.NewFromConfig(cfg, awsclient.S3Options(cfg))
	artifacts, data := awstest.Name(t, "artifacts"), awstest.Name(t, "datasets")
	for _, b := range []string{artifacts, data} {
		_, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)})
		require.NoError(t, err)
		t.Cleanup(func() { awstest.RemoveBucket(s3c, b) })
	}
	htru2, err := os.Open(filepath.Join("..", "..", "events", "data", "htru2.csv"))
	require.NoError(t, err)
	defer htru2.Close()
	_, err = s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(data), Key: aws.String("incoming/htru2.csv"), Body: htru2})
	require.NoError(t, err)

	c, err := FromEnv(func(k string) string {
		return map[string]string{config.EnvJobsTable: table, config.EnvModelsTable: table, config.EnvStudiesTable: table,
			config.EnvArtifactsBucket: artifacts}[k]
	})
	require.NoError(t, err)
	h, err := newHandler(ctx, c, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	p, ok := h.stages.(*training.TrainingPipeline)
	require.True(t, ok, "main wires the training pipeline")

	// The job the fixture names, as the API or the trigger submits it.
	var first training.StageRequest
	require.NoError(t, json.Unmarshal(fixture(t, "stages-validate.json"), &first))
	p.NewID = func(string) string { return first.Refs.JobID }
	cfgJob := training.TrainingConfig{DatasetPath: "s3://" + data + "/incoming/htru2.csv", TargetColumn: "class",
		PositiveClass: "1", Epochs: 3, HiddenLayers: []int{8}, BatchSize: 256, LearningRate: 0.01}
	job, err := p.Submit(ctx, cfgJob)
	require.NoError(t, err)

	refs, err := handleStage(t, h, fixture(t, "stages-validate.json"))
	require.NoError(t, err)
	assert.NotEmpty(t, refs.DataHash)
	for _, stage := range []string{training.StagePreprocess, training.StageTrain, training.StageEvaluate, training.StageRegister} {
		in, err := json.Marshal(training.StageRequest{Stage: stage, Refs: refs})
		require.NoError(t, err)
		refs, err = handleStage(t, h, in)
		require.NoError(t, err, stage)
	}
	require.NotEmpty(t, refs.ModelID)
	got, err := p.Jobs.GetJob(ctx, job.ID)
	require.NoError(t, err)
	assert.Equal(t, store.Succeeded, got.Status)
	var res training.Result
	require.NoError(t, json.Unmarshal(got.Result, &res))
	assert.Greater(t, res.Metrics.AUCROC, 0.9)
	model, err := p.Models.GetModel(ctx, refs.ModelID)
	require.NoError(t, err)
	assert.Contains(t, model.ArtifactURI, "s3://"+artifacts+"/")

	failures := []struct {
		name    string
		payload func(t *testing.T) json.RawMessage
		want    string
	}{
		{"finished job validated again", func(t *testing.T) json.RawMessage { return fixture(t, "stages-validate.json") }, fault.Conflict.Name()},
		{"unknown job", func(t *testing.T) json.RawMessage {
			return json.RawMessage(`{"stage":"validate","refs":{"job_id":"trn-absent"}}`)
		}, fault.NotFound.Name()},
		{"unknown stage", func(t *testing.T) json.RawMessage {
			return json.RawMessage(`{"stage":"deploy","refs":{"job_id":"` + job.ID + `"}}`)
		}, fault.Invalid.Name()},
		{"stage out of order", func(t *testing.T) json.RawMessage {
			return json.RawMessage(`{"stage":"train","refs":{"job_id":"` + job.ID + `"}}`)
		}, fault.Invalid.Name()},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.Handle(ctx, tc.payload(t))
			requireInvokeError(t, err, tc.want)
		})
	}

	t.Run("data set missing from S3", func(t *testing.T) {
		p.NewID = func(string) string { return "trn-missing-data" }
		cfgJob.DatasetPath = "s3://" + data + "/incoming/absent.csv"
		_, err := p.Submit(ctx, cfgJob)
		require.NoError(t, err)
		_, err = h.Handle(ctx, json.RawMessage(`{"stage":"validate","refs":{"job_id":"trn-missing-data"}}`))
		e := requireInvokeError(t, err, fault.NotFound.Name())
		assert.Contains(t, e.Message, "absent.csv")

		// The state machine's Catch hands the failure to mark_failed.
		in, err := json.Marshal(training.StageRequest{Stage: training.StageMarkFailed, Refs: training.Refs{JobID: "trn-missing-data"},
			Failure: &fault.Failure{Error: e.Type, Cause: `{"errorMessage":` + mustJSON(t, e.Message) + `}`}})
		require.NoError(t, err)
		_, err = h.Handle(ctx, in)
		require.NoError(t, err)
		failed, err := p.Jobs.GetJob(ctx, "trn-missing-data")
		require.NoError(t, err)
		assert.Equal(t, store.Failed, failed.Status)
		assert.Contains(t, failed.Error, "absent.csv")
	})
}

// handleStage invokes h with a stage request and returns its Refs.
func handleStage(t *testing.T, h *handler, raw json.RawMessage) (training.Refs, error) {
	t.Helper()
	out, err := h.Handle(t.Context(), raw)
	if err != nil {
		return training.Refs{}, err
	}
	refs, ok := out.(training.Refs)
	require.True(t, ok, "a stage request answers training.Refs, got %T", out)
	return refs, nil
}

func mustJSON(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	require.NoError(t, err)
	return string(b)
}

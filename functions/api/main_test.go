package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/awsclient"
	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/embedded"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func fullEnv() map[string]string {
	return map[string]string{
		config.EnvJobsTable:               "orrery-jobs",
		config.EnvModelsTable:             "orrery-models",
		config.EnvIdempotencyTable:        "orrery-idempotency",
		config.EnvArtifactsBucket:         "orrery-artifacts",
		config.EnvDatasetsBucket:          "orrery-datasets",
		config.EnvTrainingStateMachineARN: "arn:aws:states:us-east-1:123456789012:stateMachine:orrery-training",
	}
}

func TestFromEnv(t *testing.T) {
	c, err := FromEnv(envOf(fullEnv()))
	require.NoError(t, err)
	assert.Equal(t, []string{"s3://orrery-datasets/"}, c.DataRoots, "the datasets bucket is the default root")
	assert.Equal(t, int64(api.DefaultMaxBodyBytes), c.MaxBodyBytes)
	assert.Equal(t, api.DefaultIdempotencyRetention, c.IdempotencyRetention)
	assert.Equal(t, slog.LevelInfo, c.LogLevel)
	assert.Equal(t, "dev", c.Environment)
	assert.Empty(t, c.PredictFunction, "without it the endpoint views answer 501")

	tests := []struct {
		name   string
		change map[string]string
		want   []string
	}{
		{"missing tables", map[string]string{config.EnvJobsTable: "", config.EnvIdempotencyTable: ""},
			[]string{config.EnvJobsTable, config.EnvIdempotencyTable}},
		{"no data roots at all", map[string]string{config.EnvDatasetsBucket: ""}, []string{config.EnvDataRoots}},
		{"a local data root", map[string]string{config.EnvDataRoots: "/nonexistent-dir"}, []string{config.EnvDataRoots}},
		{"malformed numbers", map[string]string{config.EnvMaxBodyBytes: "lots", config.EnvIdempotencyRetention: "forever"},
			[]string{config.EnvMaxBodyBytes, config.EnvIdempotencyRetention}},
		{"an unknown environment", map[string]string{config.EnvEnvironment: "qa"}, []string{config.EnvEnvironment}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := fullEnv()
			for k, v := range tc.change {
				env[k] = v
			}
			_, err := FromEnv(envOf(env))
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
	env := fullEnv()
	env[config.EnvDataRoots] = "s3://orrery-datasets/incoming, s3://shared-data/astro"
	c, err = FromEnv(envOf(env))
	require.NoError(t, err)
	assert.Equal(t, []string{"s3://orrery-datasets/incoming", "s3://shared-data/astro"}, c.DataRoots)
}

// readEvent loads an API Gateway HTTP API (v2) event from events/api.
func readEvent(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "api", name))
	require.NoError(t, err)
	var ev events.APIGatewayV2HTTPRequest
	require.NoError(t, json.Unmarshal(b, &ev))
	return ev
}

// TestAgainstEmulator runs the function's handler, wired as main wires it,
// against DynamoDB, S3 and Step Functions in the emulator, fed the API
// Gateway events of events/api through the Lambda adapter.
func TestAgainstEmulator(t *testing.T) {
	cfg := awstest.Config(t)
	ctx := t.Context()
	awstest.UseEmulator(t)

	table := awstest.Name(t, "api")
	require.NoError(t, dynamostore.CreateTable(ctx, dynamodb.NewFromConfig(cfg), table))
	bucket := awstest.Name(t, "artifacts")
	_, err := s3.NewFromConfig(cfg, awsclient.S3Options(cfg)).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	sfnClient := sfn.NewFromConfig(cfg)
	machine, err := sfnClient.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String(awstest.Name(t, "training")),
		Definition: aws.String(`{"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 60, "End": true}}}`),
		RoleArn:    aws.String("arn:aws:iam::123456789012:role/orrery-test"),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = sfnClient.DeleteStateMachine(context.Background(), &sfn.DeleteStateMachineInput{StateMachineArn: machine.StateMachineArn})
	})

	env := fullEnv()
	env[config.EnvJobsTable], env[config.EnvModelsTable], env[config.EnvIdempotencyTable] = table, table, table
	env[config.EnvArtifactsBucket] = bucket
	env[config.EnvTrainingStateMachineARN] = aws.ToString(machine.StateMachineArn)
	c, err := FromEnv(envOf(env))
	require.NoError(t, err)
	h, err := newHandler(ctx, c, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	lambdaHandler := httpadapter.NewV2(h).ProxyWithContext

	resp, err := lambdaHandler(ctx, readEvent(t, "get-openapi.json"))
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, resp.Body, `"openapi":"3.1.0"`)

	resp, err = lambdaHandler(ctx, readEvent(t, "post-training-start-invalid.json"))
	require.NoError(t, err)
	assert.Equal(t, 400, resp.StatusCode)
	assert.Equal(t, api.ProblemContentType, resp.Headers["Content-Type"])
	assert.Contains(t, resp.Body, `"field":"epochs"`)

	start := readEvent(t, "post-training-start.json")
	first, err := lambdaHandler(ctx, start)
	require.NoError(t, err)
	require.Equal(t, 202, first.StatusCode, first.Body)
	var accepted api.Accepted
	require.NoError(t, json.Unmarshal([]byte(first.Body), &accepted))
	again, err := lambdaHandler(ctx, start)
	require.NoError(t, err)
	assert.Equal(t, first.Body, again.Body, "the retried POST replays the first answer from DynamoDB")
	assert.Equal(t, "true", again.Headers[api.ReplayedHeader])

	list, err := sfnClient.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: machine.StateMachineArn})
	require.NoError(t, err)
	require.Len(t, list.Executions, 1, "one execution for the retried request")
	assert.Equal(t, accepted.JobID, aws.ToString(list.Executions[0].Name))

	status := readEvent(t, "get-training-status.json")
	status.RawPath = accepted.StatusURL
	status.RequestContext.HTTP.Path = accepted.StatusURL
	resp, err = lambdaHandler(ctx, status)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, resp.Body)
	assert.Contains(t, resp.Body, `"status":"QUEUED"`)

	resp, err = lambdaHandler(ctx, readEvent(t, "get-training-status.json"))
	require.NoError(t, err)
	assert.Equal(t, 404, resp.StatusCode, "unknown job")

	cancel := readEvent(t, "get-training-status.json")
	cancel.RequestContext.HTTP.Method = "POST"
	cancel.RawPath = "/ml/training/" + accepted.JobID + "/cancel"
	cancel.RequestContext.HTTP.Path = cancel.RawPath
	resp, err = lambdaHandler(ctx, cancel)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, resp.Body)
	// The emulator's interpreter ends a stopped execution on its own
	// thread: poll (bounded) instead of reading the status once.
	var execStatus string
	for deadline := time.Now().Add(time.Minute); ; {
		desc, err := sfnClient.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: list.Executions[0].ExecutionArn})
		require.NoError(t, err)
		execStatus = string(desc.Status)
		if execStatus != "RUNNING" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	assert.Equal(t, "ABORTED", execStatus, "cancelling stops the execution")
}

// TestEventsThroughTheAdapter feeds the API Gateway events of events/api to
// the Lambda adapter over the embedded stores, so the adapter path is
// exercised without an emulator too.
func TestEventsThroughTheAdapter(t *testing.T) {
	rt, err := embedded.Open(t.Context(), filepath.Join(t.TempDir(), "home"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	roots, err := api.NewDataRoots("s3://orrery-datasets/incoming")
	require.NoError(t, err)
	x, err := rt.Executions(embedded.ExecutionOptions{Parallel: 1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = x.Close(context.Background()) })
	h, err := api.NewHandler(&api.Service{Jobs: rt.DB, Models: rt.DB, Executions: pipeline.Flows{Executions: x}, DataRoots: roots},
		api.Options{Idempotency: rt.DB})
	require.NoError(t, err)
	proxy := httpadapter.NewV2(h).ProxyWithContext
	tests := []struct {
		event  string
		status int
		body   string
	}{
		{"get-openapi.json", 200, `"openapi":"3.1.0"`},
		{"post-training-start-invalid.json", 400, `"field":"epochs"`},
		{"get-training-status.json", 404, `trn-20260301120000-1a2b3c4d`},
	}
	for _, tc := range tests {
		t.Run(tc.event, func(t *testing.T) {
			resp, err := proxy(t.Context(), readEvent(t, tc.event))
			require.NoError(t, err)
			assert.Equal(t, tc.status, resp.StatusCode, resp.Body)
			assert.Contains(t, resp.Body, tc.body)
		})
	}
}

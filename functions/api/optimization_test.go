package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"

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
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/optimizationjob"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
)

func TestFromEnvOptimization(t *testing.T) {
	env := fullEnv()
	c, err := FromEnv(envOf(env))
	require.NoError(t, err)
	assert.Empty(t, c.OptimizationStateMachineARN, "optional: the optimization routes answer 501 without it")

	env[config.EnvOptimizationStateMachineARN] = "arn:aws:states:us-east-1:123456789012:stateMachine:orrery-optimization"
	_, err = FromEnv(envOf(env))
	require.ErrorIs(t, err, config.ErrMissing)
	assert.Contains(t, err.Error(), config.EnvStudiesTable, "the studies table is required with the machine")

	env[config.EnvStudiesTable] = "orrery-studies"
	c, err = FromEnv(envOf(env))
	require.NoError(t, err)
	assert.Equal(t, "orrery-studies", c.StudiesTable)
	assert.Equal(t, env[config.EnvOptimizationStateMachineARN], c.OptimizationStateMachineARN)
}

// TestOptimizationAgainstEmulator wires the function as main does against
// moto, with the optimization state machine (the definition that ships)
// created in moto's Step Functions: POST /ml/optimization/start (the
// events/api fixture) stores the RUNNING study in DynamoDB and starts the
// execution named after it with the study's input; a retried POST replays
// the answer and starts nothing new; GET .../results renders the study from
// DynamoDB. Without the machine's ARN the routes answer 501.
func TestOptimizationAgainstEmulator(t *testing.T) {
	cfg := awstest.Config(t)
	ctx := t.Context()
	awstest.UseEmulator(t)

	ddb := dynamodb.NewFromConfig(cfg)
	table, studies := awstest.Name(t, "api"), awstest.Name(t, "studies")
	for _, name := range []string{table, studies} {
		require.NoError(t, dynamostore.CreateTable(ctx, ddb, name))
		t.Cleanup(func() {
			_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		})
	}
	bucket := awstest.Name(t, "artifacts")
	_, err := s3.NewFromConfig(cfg, awsclient.S3Options(cfg)).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)

	sfnClient := sfn.NewFromConfig(cfg)
	def, err := pipeline.Optimization(pipeline.OptimizationResources{
		StepsFunction: "arn:aws:lambda:us-east-1:123456789012:function:orrery-stages",
		JobQueue:      "arn:aws:batch:us-east-1:123456789012:job-queue/orrery-train",
		JobDefinition: "arn:aws:batch:us-east-1:123456789012:job-definition/orrery-train:1"})
	require.NoError(t, err)
	body, err := def.JSON()
	require.NoError(t, err)
	machine, err := sfnClient.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name: aws.String(awstest.Name(t, "optimization")), Definition: aws.String(string(body)),
		RoleArn: aws.String("arn:aws:iam::123456789012:role/orrery-test"),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = sfnClient.DeleteStateMachine(context.Background(), &sfn.DeleteStateMachineInput{StateMachineArn: machine.StateMachineArn})
	})

	env := fullEnv()
	env[config.EnvJobsTable], env[config.EnvModelsTable], env[config.EnvIdempotencyTable] = table, table, table
	env[config.EnvArtifactsBucket] = bucket

	// No optimization machine: 501.
	c, err := FromEnv(envOf(env))
	require.NoError(t, err)
	h, err := newHandler(ctx, c, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	resp, err := httpadapter.NewV2(h).ProxyWithContext(ctx, readEvent(t, "post-optimization-start.json"))
	require.NoError(t, err)
	assert.Equal(t, 501, resp.StatusCode, resp.Body)

	env[config.EnvOptimizationStateMachineARN] = aws.ToString(machine.StateMachineArn)
	env[config.EnvStudiesTable] = studies
	c, err = FromEnv(envOf(env))
	require.NoError(t, err)
	h, err = newHandler(ctx, c, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	lambdaHandler := httpadapter.NewV2(h).ProxyWithContext

	start := readEvent(t, "post-optimization-start.json")
	first, err := lambdaHandler(ctx, start)
	require.NoError(t, err)
	require.Equal(t, 202, first.StatusCode, first.Body)
	var accepted api.Accepted
	require.NoError(t, json.Unmarshal([]byte(first.Body), &accepted))
	assert.Equal(t, "optimization", accepted.Kind)
	assert.Equal(t, optimizationjob.ResultsURL(accepted.JobID), accepted.StatusURL)
	again, err := lambdaHandler(ctx, start)
	require.NoError(t, err)
	assert.Equal(t, first.Body, again.Body, "the retried POST replays the first answer")

	db, err := dynamostore.New(ddb, dynamostore.Tables{Studies: studies})
	require.NoError(t, err)
	st := optimization.Stores{Studies: db, Trials: db}
	rec, spec, _, err := optimization.LoadSpec(ctx, st, accepted.JobID)
	require.NoError(t, err)
	assert.Equal(t, "htru2-lr", rec.Name)
	assert.Equal(t, 12, spec.Budget.Trials)
	assert.Equal(t, []any{"32", "64-32"}, spec.Space.Dimensions[1].Choices)
	all, err := db.ListStudies(ctx, 0)
	require.NoError(t, err)
	assert.Len(t, all, 1, "one study for the retried request")

	list, err := sfnClient.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: machine.StateMachineArn})
	require.NoError(t, err)
	require.Len(t, list.Executions, 1, "one execution, named after the study")
	assert.Equal(t, accepted.JobID, aws.ToString(list.Executions[0].Name))
	desc, err := sfnClient.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: list.Executions[0].ExecutionArn})
	require.NoError(t, err)
	assert.JSONEq(t, `{"study_id":"`+accepted.JobID+`","max_parallel":3}`, aws.ToString(desc.Input))

	results := readEvent(t, "get-training-status.json")
	results.RawPath, results.RequestContext.HTTP.Path = accepted.StatusURL, accepted.StatusURL
	resp, err = lambdaHandler(ctx, results)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, resp.Body)
	var res optimizationjob.Result
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &res), resp.Body)
	assert.Equal(t, accepted.JobID, res.StudyID)
	assert.Equal(t, store.Running, res.Status)
	assert.Equal(t, "bayesian", res.Spec.Strategy)
	assert.Equal(t, accepted.StatusURL, res.Links["self"])
	assert.Empty(t, res.Trials)

	missing := readEvent(t, "get-training-status.json")
	missing.RawPath, missing.RequestContext.HTTP.Path = "/ml/optimization/hpo-absent/results", "/ml/optimization/hpo-absent/results"
	resp, err = lambdaHandler(ctx, missing)
	require.NoError(t, err)
	assert.Equal(t, 404, resp.StatusCode, resp.Body)
}

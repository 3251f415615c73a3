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
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
)

func TestFromEnvDeployment(t *testing.T) {
	env := fullEnv()
	c, err := FromEnv(envOf(env))
	require.NoError(t, err)
	assert.Empty(t, c.DeploymentStateMachineARN, "optional: the deployment routes answer 501 without it")

	env[config.EnvDeploymentStateMachineARN] = "arn:aws:states:us-east-1:123456789012:stateMachine:orrery-dev-deployment"
	_, err = FromEnv(envOf(env))
	require.ErrorIs(t, err, config.ErrMissing)
	assert.Contains(t, err.Error(), config.EnvDeploymentsTable)
	assert.Contains(t, err.Error(), config.EnvPredictFunction)

	env[config.EnvDeploymentsTable], env[config.EnvPredictFunction], env[config.EnvEnvironment] = "d", "orrery-staging-predict", "staging"
	c, err = FromEnv(envOf(env))
	require.NoError(t, err)
	assert.Equal(t, "orrery-staging", c.AlarmPrefix)
	assert.Equal(t, "staging", c.Environment)
}

// TestDeploymentAgainstEmulator wires the function as main does against
// moto, with the deployment state machine (the definition that ships)
// created in moto's Step Functions: POST /ml/deployment/deploy (the
// events/api fixture) stores the PENDING deployment and the endpoint's
// lock in DynamoDB and starts the execution named after it with the
// traffic plan; a second deployment to the endpoint is 409 naming the
// first; another environment than the stack's is refused; the status
// route reads the record.
func TestDeploymentAgainstEmulator(t *testing.T) {
	cfg := awstest.Config(t)
	ctx := t.Context()
	t.Setenv(awsclient.EnvEndpointURL, awstest.Endpoint(t))
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv(awsclient.EnvRegion, awstest.Region)

	ddb := dynamodb.NewFromConfig(cfg)
	table := awstest.Name(t, "api")
	require.NoError(t, dynamostore.CreateTable(ctx, ddb, table))
	t.Cleanup(func() {
		_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	bucket := awstest.Name(t, "artifacts")
	_, err := s3.NewFromConfig(cfg, awsclient.S3Options(cfg)).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	db, err := dynamostore.New(ddb, dynamostore.Tables{Jobs: table, Models: table, Deployments: table})
	require.NoError(t, err)
	const modelID = "mdl-20260301120000-1a2b3c4d"
	require.NoError(t, db.RegisterModel(ctx, store.Model{ID: modelID, Name: "htru2-pulsar-mlp", ArtifactKey: "models/" + modelID}))

	sfnClient := sfn.NewFromConfig(cfg)
	def, err := pipeline.Deployment(pipeline.DeploymentResources{StagesFunction: "arn:aws:lambda:us-east-1:123456789012:function:orrery-stages"})
	require.NoError(t, err)
	body, err := def.JSON()
	require.NoError(t, err)
	machine, err := sfnClient.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name: aws.String(awstest.Name(t, "deployment")), Definition: aws.String(string(body)),
		RoleArn: aws.String("arn:aws:iam::123456789012:role/orrery-test"),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = sfnClient.DeleteStateMachine(context.Background(), &sfn.DeleteStateMachineInput{StateMachineArn: machine.StateMachineArn})
	})

	env := fullEnv()
	env[config.EnvJobsTable], env[config.EnvModelsTable], env[config.EnvIdempotencyTable] = table, table, table
	env[config.EnvArtifactsBucket] = bucket
	env[config.EnvDeploymentStateMachineARN] = aws.ToString(machine.StateMachineArn)
	env[config.EnvDeploymentsTable], env[config.EnvPredictFunction] = table, "orrery-dev-predict"
	c, err := FromEnv(envOf(env))
	require.NoError(t, err)
	h, err := newHandler(ctx, c, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	lambdaHandler := httpadapter.NewV2(h).ProxyWithContext

	first, err := lambdaHandler(ctx, readEvent(t, "post-deployment-deploy.json"))
	require.NoError(t, err)
	require.Equal(t, 202, first.StatusCode, first.Body)
	var accepted api.DeploymentAccepted
	require.NoError(t, json.Unmarshal([]byte(first.Body), &accepted))
	assert.Equal(t, store.DeploymentPending, accepted.Status)
	assert.Equal(t, "/ml/deployment/"+accepted.DeploymentID+"/status", accepted.StatusURL)
	assert.Equal(t, "pulsars", accepted.Endpoint)
	assert.Equal(t, "all_at_once", accepted.Strategy, "nothing is live on the endpoint yet")

	ep, err := db.GetEndpoint(ctx, "dev", "pulsars")
	require.NoError(t, err)
	assert.Equal(t, accepted.DeploymentID, ep.LockedBy, "the endpoint's lock")

	list, err := sfnClient.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: machine.StateMachineArn})
	require.NoError(t, err)
	require.Len(t, list.Executions, 1)
	assert.Equal(t, accepted.DeploymentID, aws.ToString(list.Executions[0].Name))
	desc, err := sfnClient.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: list.Executions[0].ExecutionArn})
	require.NoError(t, err)
	var in pipeline.DeploymentInput
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(desc.Input)), &in))
	assert.Equal(t, "orrery-dev-predict", in.FunctionName)
	assert.Equal(t, "pulsars", in.Endpoint)
	assert.Equal(t, map[string]string{config.EnvModelID: modelID}, in.ModelEnv)
	require.Len(t, in.Steps, 1)
	assert.Equal(t, 100, in.Steps[0].Percent)
	assert.Len(t, in.AlarmSpecs, 5)
	for _, name := range in.CreatedAlarms {
		assert.Contains(t, name, "orrery-dev-deploy-"+accepted.DeploymentID+"-")
	}

	second := readEvent(t, "post-deployment-deploy.json")
	second.Headers["idempotency-key"] = "another-key"
	resp, err := lambdaHandler(ctx, second)
	require.NoError(t, err)
	assert.Equal(t, 409, resp.StatusCode, resp.Body)
	assert.Contains(t, resp.Body, accepted.DeploymentID, "the 409 names the deployment holding the endpoint")

	prod := readEvent(t, "post-deployment-deploy.json")
	prod.Headers["idempotency-key"] = "prod-key"
	prod.Body = `{"model_id": "` + modelID + `", "environment": "prod"}`
	resp, err = lambdaHandler(ctx, prod)
	require.NoError(t, err)
	assert.Equal(t, 400, resp.StatusCode, resp.Body)
	assert.Contains(t, resp.Body, "environment")

	status := readEvent(t, "get-training-status.json")
	status.RawPath, status.RequestContext.HTTP.Path = accepted.StatusURL, accepted.StatusURL
	resp, err = lambdaHandler(ctx, status)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, resp.Body)
	var st map[string]any
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &st))
	assert.Equal(t, accepted.DeploymentID, st["deployment_id"])
	assert.Equal(t, "pulsars", st["endpoint"])
}

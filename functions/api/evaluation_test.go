package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

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
	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
	"github.com/orrery-ml/orrery/shared/store/s3store"
	"github.com/orrery-ml/orrery/shared/store/s3store/s3table"
	"github.com/orrery-ml/orrery/shared/synthetic"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// apiEvent is an API Gateway HTTP API (v2) event for method and path with
// body, built from the events/api sample.
func apiEvent(t *testing.T, method, path, body string, headers map[string]string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	ev := readEvent(t, "post-training-start.json")
	ev.RawPath, ev.RequestContext.HTTP.Path, ev.RequestContext.HTTP.Method, ev.Body = path, path, method, body
	delete(ev.Headers, "idempotency-key")
	for k, v := range headers {
		ev.Headers[k] = v
	}
	return ev
}

// TestEvaluationAgainstEmulator wires the function as main does, with the
// evaluation state machine's ARN set, over DynamoDB, S3 and Step Functions
// in the emulator: a model trained on an s3:// data set is registered
// there first. POST /ml/evaluation/evaluate stores the QUEUED job (the
// request mapped by evaluationjob, defaults from the model's manifest in
// S3) and starts one execution named after it; the job is then run as the
// stages function runs it (evaluationjob over DynamoDB and S3), and GET
// /ml/evaluation/{model_id}/metrics serves the stored evaluation. Without
// the ARN, the route answers 501 as before.
func TestEvaluationAgainstEmulator(t *testing.T) {
	cfg := awstest.Config(t)
	ctx := t.Context()
	awstest.UseEmulator(t)

	table := awstest.Name(t, "api-eval")
	require.NoError(t, dynamostore.CreateTable(ctx, dynamodb.NewFromConfig(cfg), table))
	s3Client := s3.NewFromConfig(cfg, awsclient.S3Options(cfg))
	bucket, datasets := awstest.Name(t, "artifacts"), awstest.Name(t, "datasets")
	for _, b := range []string{bucket, datasets} {
		_, err := s3Client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)})
		require.NoError(t, err)
	}
	_, err := s3Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(datasets), Key: aws.String("surveys/syn.csv"),
		Body: strings.NewReader(synthetic.TwoClassCSV(400, 7))})
	require.NoError(t, err)
	dataPath := "s3://" + datasets + "/surveys/syn.csv"

	db, err := dynamostore.New(dynamodb.NewFromConfig(cfg), dynamostore.Tables{Jobs: table, Models: table, Idempotency: table})
	require.NoError(t, err)
	artifacts, err := s3store.New(s3Client, bucket, "")
	require.NoError(t, err)
	p := &training.TrainingPipeline{Jobs: db, Models: db, Artifacts: artifacts, Recorder: tracking.Discard,
		ReadTable: s3table.TableReader(s3Client)}
	trained, err := pipeline.RunTraining(ctx, p, training.TrainingConfig{DatasetPath: dataPath, TargetColumn: "label", PositiveClass: "pulsar",
		Epochs: 5, HiddenLayers: []int{8}, BatchSize: 32, LearningRate: 0.01})
	require.NoError(t, err)

	sfnClient := sfn.NewFromConfig(cfg)
	machines := map[string]*string{}
	for _, name := range []string{"training", "evaluation"} {
		m, err := sfnClient.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
			Name:       aws.String(awstest.Name(t, name)),
			Definition: aws.String(`{"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 60, "End": true}}}`),
			RoleArn:    aws.String("arn:aws:iam::123456789012:role/orrery-test"),
		})
		require.NoError(t, err)
		machines[name] = m.StateMachineArn
		t.Cleanup(func() {
			_, _ = sfnClient.DeleteStateMachine(context.Background(), &sfn.DeleteStateMachineInput{StateMachineArn: m.StateMachineArn})
		})
	}

	env := fullEnv()
	env[config.EnvJobsTable], env[config.EnvModelsTable], env[config.EnvIdempotencyTable] = table, table, table
	env[config.EnvArtifactsBucket], env[config.EnvDatasetsBucket] = bucket, datasets
	env[config.EnvTrainingStateMachineARN] = aws.ToString(machines["training"])
	handler := func(env map[string]string) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		c, err := FromEnv(envOf(env))
		require.NoError(t, err)
		h, err := newHandler(ctx, c, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		return httpadapter.NewV2(h).ProxyWithContext
	}
	metricsPath := "/ml/evaluation/" + trained.ModelID + "/metrics"
	body := `{"model_id": "` + trained.ModelID + `", "bootstrap": {"iterations": 100}}`

	t.Run("without the evaluation machine: 501", func(t *testing.T) {
		call := handler(env)
		resp, err := call(ctx, apiEvent(t, "POST", "/ml/evaluation/evaluate", body, nil))
		require.NoError(t, err)
		assert.Equal(t, 501, resp.StatusCode, resp.Body)
		resp, err = call(ctx, apiEvent(t, "GET", metricsPath, "", nil))
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode, resp.Body)
		assert.Contains(t, resp.Body, `"source":"registry"`)
	})

	env[config.EnvEvaluationStateMachineARN] = aws.ToString(machines["evaluation"])
	call := handler(env)

	t.Run("bad requests store nothing and start nothing", func(t *testing.T) {
		for _, tc := range []struct {
			body string
			code int
		}{
			{`{"model_id": "mdl-absent"}`, 404},
			{`{"model_id": "` + trained.ModelID + `", "compare_to": ["` + trained.ModelID + `"]}`, 400},
			{`{"model_id": "` + trained.ModelID + `", "dataset_path": "s3://elsewhere/x.csv"}`, 400},
			{`{"model_id": "` + trained.ModelID + `", "decision_threshold": "0"}`, 400},
			{`{"model_id": "` + trained.ModelID + `", "decision_threshold": "1.5"}`, 400},
		} {
			resp, err := call(ctx, apiEvent(t, "POST", "/ml/evaluation/evaluate", tc.body, nil))
			require.NoError(t, err)
			assert.Equal(t, tc.code, resp.StatusCode, "%s: %s", tc.body, resp.Body)
		}
		list, err := sfnClient.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: machines["evaluation"]})
		require.NoError(t, err)
		assert.Empty(t, list.Executions)
		jobs, err := db.ListJobs(ctx, 0)
		require.NoError(t, err)
		for _, j := range jobs {
			assert.NotEqual(t, api.JobKindEvaluation, j.Kind, "no evaluation job stored: %s", j.ID)
		}
	})

	key := map[string]string{"idempotency-key": "eval-" + table}
	first, err := call(ctx, apiEvent(t, "POST", "/ml/evaluation/evaluate", body, key))
	require.NoError(t, err)
	require.Equal(t, 202, first.StatusCode, first.Body)
	var acc api.Accepted
	require.NoError(t, json.Unmarshal([]byte(first.Body), &acc))
	assert.Equal(t, api.JobKindEvaluation, acc.Kind)
	assert.Equal(t, store.Queued, acc.Status)
	assert.Equal(t, api.EvaluationStatusURL(acc.JobID), acc.StatusURL)
	again, err := call(ctx, apiEvent(t, "POST", "/ml/evaluation/evaluate", body, key))
	require.NoError(t, err)
	assert.Equal(t, first.Body, again.Body, "the retried POST replays the first answer")

	// One execution, named after the job, whose input is the job id.
	list, err := sfnClient.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: machines["evaluation"]})
	require.NoError(t, err)
	require.Len(t, list.Executions, 1)
	assert.Equal(t, acc.JobID, aws.ToString(list.Executions[0].Name))
	desc, err := sfnClient.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: list.Executions[0].ExecutionArn})
	require.NoError(t, err)
	assert.JSONEq(t, `{"job_id": "`+acc.JobID+`"}`, aws.ToString(desc.Input))

	// The stored job is what the embedded runtime stores: the request with
	// the manifest's defaults (the training data set and target).
	job, err := db.GetJob(ctx, acc.JobID)
	require.NoError(t, err)
	assert.Equal(t, store.Queued, job.Status)
	var jc evaluationjob.Config
	require.NoError(t, json.Unmarshal(job.Config, &jc))
	assert.Equal(t, trained.ModelID, jc.ModelID)
	assert.Equal(t, dataPath, jc.DatasetPath)
	assert.Equal(t, "label", jc.TargetColumn)
	assert.Equal(t, 100, jc.BootstrapResamples)

	// The stages function's work, over DynamoDB and S3.
	svc := &evaluationjob.Service{Jobs: db, Models: db, Artifacts: artifacts, ReadTable: s3table.TableReader(s3Client)}
	out, err := svc.Step(ctx, evaluationjob.Request{JobID: acc.JobID})
	require.NoError(t, err)
	assert.Equal(t, string(store.Succeeded), out.Status)

	status := apiEvent(t, "GET", acc.StatusURL, "", nil)
	resp, err := call(ctx, status)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, resp.Body)
	var st api.JobStatus
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &st))
	assert.Equal(t, store.Succeeded, st.Status)
	var res evaluationjob.Result
	require.NoError(t, json.Unmarshal(st.Result, &res))
	var ev map[string]any
	require.NoError(t, json.Unmarshal(res.Evaluation, &ev))
	assert.Contains(t, ev["split"], "own test split", "the s3:// training file is recognised")
	report, _ := ev["report"].(map[string]any)
	assert.Contains(t, report["report.html"], "s3://"+bucket+"/evaluations/"+trained.ModelID+"/")

	resp, err = call(ctx, apiEvent(t, "GET", metricsPath, "", nil))
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, resp.Body)
	var metrics api.ModelMetrics
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &metrics))
	assert.Equal(t, "evaluation", metrics.Source)
	assert.JSONEq(t, string(res.Evaluation), string(metrics.Evaluation), "the latest evaluation, read from S3")
	assert.Equal(t, "model", ev["threshold_source"])

	t.Run("a numeric decision_threshold evaluates at that threshold", func(t *testing.T) {
		resp, err := call(ctx, apiEvent(t, "POST", "/ml/evaluation/evaluate",
			`{"model_id": "`+trained.ModelID+`", "decision_threshold": "0.3", "bootstrap": {"iterations": 100}}`, nil))
		require.NoError(t, err)
		require.Equal(t, 202, resp.StatusCode, resp.Body)
		var acc api.Accepted
		require.NoError(t, json.Unmarshal([]byte(resp.Body), &acc))
		job, err := db.GetJob(ctx, acc.JobID)
		require.NoError(t, err)
		var jc evaluationjob.Config
		require.NoError(t, json.Unmarshal(job.Config, &jc))
		assert.Equal(t, 0.3, jc.Threshold)
		assert.Empty(t, jc.SaveThreshold)
		out, err := svc.Step(ctx, evaluationjob.Request{JobID: acc.JobID})
		require.NoError(t, err)
		assert.Equal(t, string(store.Succeeded), out.Status)
		assert.Empty(t, out.DerivedModelID, "the model is evaluated as it is; no version is saved")

		resp, err = call(ctx, apiEvent(t, "GET", acc.StatusURL, "", nil))
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode, resp.Body)
		var st api.JobStatus
		require.NoError(t, json.Unmarshal([]byte(resp.Body), &st))
		require.Equal(t, store.Succeeded, st.Status)
		var res evaluationjob.Result
		require.NoError(t, json.Unmarshal(st.Result, &res))
		var fixed map[string]any
		require.NoError(t, json.Unmarshal(res.Evaluation, &fixed))
		assert.Equal(t, 0.3, fixed["decision_threshold"])
		assert.Equal(t, "request", fixed["threshold_source"])
		assert.Equal(t, ev["decision_threshold"], fixed["model_threshold"])

		resp, err = call(ctx, apiEvent(t, "GET", metricsPath, "", nil))
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode, resp.Body)
		var latest struct {
			Source  string `json:"source"`
			Metrics struct {
				DecisionThreshold float64 `json:"decision_threshold"`
			} `json:"metrics"`
			Evaluation struct {
				DecisionThreshold float64 `json:"decision_threshold"`
				ThresholdSource   string  `json:"threshold_source"`
			} `json:"evaluation"`
		}
		require.NoError(t, json.Unmarshal([]byte(resp.Body), &latest))
		assert.Equal(t, "evaluation", latest.Source)
		assert.Equal(t, 0.3, latest.Metrics.DecisionThreshold)
		assert.Equal(t, 0.3, latest.Evaluation.DecisionThreshold)
		assert.Equal(t, "request", latest.Evaluation.ThresholdSource)
	})
}

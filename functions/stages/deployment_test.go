package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
	"github.com/orrery-ml/orrery/shared/awsclient/cloudwatchclient"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/deployment"
	"github.com/orrery-ml/orrery/shared/store"
)

// fakeDeployments answers every step with err, recording the requests.
type fakeDeployments struct {
	err  error
	seen []deployment.StepRequest
}

func (f *fakeDeployments) Step(_ context.Context, req deployment.StepRequest) (deployment.StepOutput, error) {
	f.seen = append(f.seen, req)
	if f.err != nil {
		return deployment.StepOutput{}, f.err
	}
	return deployment.StepOutput{DeploymentID: req.DeploymentID, Status: "IN_PROGRESS"}, nil
}

func TestDeploymentSteps(t *testing.T) {
	steps := &fakeDeployments{}
	h := &handler{deployments: steps, log: slog.New(slog.DiscardHandler)}
	out, err := h.Handle(t.Context(), json.RawMessage(`{"deployment": {"step": "check", "deployment_id": "dep-1", "percent": 20, "stage": "bake", "check": 3}}`))
	require.NoError(t, err)
	assert.Equal(t, deployment.StepOutput{DeploymentID: "dep-1", Status: "IN_PROGRESS"}, out)
	require.Len(t, steps.seen, 1)
	assert.Equal(t, 20, *steps.seen[0].Percent)
	assert.Equal(t, 3, *steps.seen[0].Check)

	for name, tc := range map[string]struct {
		payload string
		err     error
		want    string
	}{
		"unknown step":          {`{"deployment": {"step": "dance", "deployment_id": "dep-1"}}`, nil, fault.Invalid.Name()},
		"no id":                 {`{"deployment": {"step": "validate"}}`, nil, fault.Invalid.Name()},
		"unknown field":         {`{"deployment": {"step": "validate", "deployment_id": "d", "x": 1}}`, nil, fault.Invalid.Name()},
		"a gate refused it":     {`{"deployment": {"step": "validate", "deployment_id": "d"}}`, deployment.ErrInvalidRequest, fault.Invalid.Name()},
		"unknown deployment":    {`{"deployment": {"step": "promote", "deployment_id": "d"}}`, store.ErrNotFound, fault.NotFound.Name()},
		"rollback asked for":    {`{"deployment": {"step": "check", "deployment_id": "d"}}`, deployment.ErrRollbackRequested, fault.Cancelled.Name()},
		"two kinds in one call": {`{"deployment": {"step": "check", "deployment_id": "d"}, "stage": "validate"}`, nil, fault.Invalid.Name()},
	} {
		t.Run(name, func(t *testing.T) {
			h := &handler{deployments: &fakeDeployments{err: tc.err}, log: slog.New(slog.DiscardHandler)}
			_, err := h.Handle(t.Context(), json.RawMessage(tc.payload))
			requireInvokeError(t, err, tc.want)
		})
	}
	t.Run("without a predict function", func(t *testing.T) {
		h := &handler{log: slog.New(slog.DiscardHandler)}
		_, err := h.Handle(t.Context(), json.RawMessage(`{"deployment": {"step": "check", "deployment_id": "d"}}`))
		e := requireInvokeError(t, err, fault.Internal.Name())
		assert.Contains(t, e.Message, "not configured")
	})
}

// TestCloudWatchTraffic puts the predict function's metrics for two
// versions into moto's CloudWatch as the EMF metrics arrive there, and
// reads them back as the deployment's traffic window; the check step's
// figures go back the same way.
func TestCloudWatchTraffic(t *testing.T) {
	cfg := awstest.Config(t)
	client := cloudwatchclient.New(cfg)
	env, endpoint := "dev", awstest.Name(t, "ep")
	now := time.Now().UTC()
	put := func(model, metric string, v float64) {
		t.Helper()
		var dims []types.Dimension
		for _, d := range deployment.MetricDimensions(env, endpoint, model) {
			dims = append(dims, types.Dimension{Name: aws.String(d["Name"]), Value: aws.String(d["Value"])})
		}
		_, err := client.PutMetricData(t.Context(), &cloudwatch.PutMetricDataInput{Namespace: aws.String(deployment.MetricNamespace),
			MetricData: []types.MetricDatum{{MetricName: aws.String(metric), Dimensions: dims, Value: aws.Float64(v), Timestamp: aws.Time(now.Add(-time.Minute))}}})
		require.NoError(t, err)
	}
	for _, m := range []struct {
		id                    string
		requests, errors, pos float64
		low, high             float64
	}{{"mdl-new", 40, 1, 30, 10, 30}, {"mdl-old", 160, 0, 15, 145, 15}} {
		put(m.id, deployment.MetricRequests, m.requests)
		put(m.id, deployment.MetricErrors, m.errors)
		put(m.id, deployment.MetricPositives, m.pos)
		put(m.id, deployment.MetricScoreBin(0), m.low)
		put(m.id, deployment.MetricScoreBin(19), m.high)
	}
	traffic := cloudWatchTraffic{client: client, now: func() time.Time { return now }}
	got, err := traffic.Window(t.Context(), env, endpoint, []string{"mdl-new", "mdl-old"}, 5*time.Minute)
	require.NoError(t, err)
	assert.EqualValues(t, 40, got["mdl-new"].Requests)
	assert.EqualValues(t, 1, got["mdl-new"].Errors)
	assert.EqualValues(t, 30, got["mdl-new"].Positives)
	assert.EqualValues(t, 10, got["mdl-new"].ScoreHistogram[0])
	assert.EqualValues(t, 30, got["mdl-new"].ScoreHistogram[19])
	assert.EqualValues(t, 160, got["mdl-old"].Requests)
	assert.EqualValues(t, 145, got["mdl-old"].ScoreHistogram[0])
	assert.Zero(t, got["mdl-old"].Errors)

	require.NoError(t, traffic.PutDeploymentMetrics(t.Context(), env, endpoint, "mdl-new", map[string]float64{deployment.MetricScoreDrift: 3.25}))
	var dims []types.Dimension
	for _, d := range deployment.MetricDimensions(env, endpoint, "mdl-new") {
		dims = append(dims, types.Dimension{Name: aws.String(d["Name"]), Value: aws.String(d["Value"])})
	}
	out, err := client.GetMetricData(t.Context(), &cloudwatch.GetMetricDataInput{StartTime: aws.Time(now.Add(-10 * time.Minute)),
		EndTime: aws.Time(time.Now().Add(time.Minute)), MetricDataQueries: []types.MetricDataQuery{{Id: aws.String("drift"),
			MetricStat: &types.MetricStat{Period: aws.Int32(60), Stat: aws.String("Maximum"), Metric: &types.Metric{
				Namespace: aws.String(deployment.MetricNamespace), MetricName: aws.String(deployment.MetricScoreDrift), Dimensions: dims}}}}})
	require.NoError(t, err)
	require.Len(t, out.MetricDataResults, 1)
	assert.Contains(t, out.MetricDataResults[0].Values, 3.25, "the drift metric the score-psi alarm watches")
}

package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/orrery-ml/orrery/shared/ml/deployment"
)

// cloudWatchAPI is the part of the CloudWatch client the adapters use
// (*cloudwatch.Client has it).
type cloudWatchAPI interface {
	GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
	PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

// cloudWatchTraffic reads the predict function's traffic per model version
// from the EMF metrics it emits (namespace Orrery/Predict, dimensions
// Environment, Endpoint, ModelId): the deployment service's Traffic on AWS.
type cloudWatchTraffic struct {
	client cloudWatchAPI
	now    func() time.Time
}

// counts are the summed metrics of a VersionStats, by field.
func counts(s *deployment.VersionStats) map[string]*int64 {
	return map[string]*int64{deployment.MetricRequests: &s.Requests, deployment.MetricErrors: &s.Errors,
		deployment.MetricSchemaViolations: &s.SchemaViolations, deployment.MetricPositives: &s.Positives}
}

// Window sums each model's counters and score bins over the window (one
// GetMetricData call, paginated) and takes the latency's p99.
func (c cloudWatchTraffic) Window(ctx context.Context, env, endpoint string, models []string, window time.Duration) (map[string]deployment.VersionStats, error) {
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	end := now().UTC()
	period := int32(deployment.AlarmPeriodSeconds(int(window.Seconds())))
	type target struct {
		model int
		sum   string // a counter's metric name, or "" for the latency
		bin   int    // a score bin's index, or -1
	}
	var queries []types.MetricDataQuery
	targets := map[string]target{}
	add := func(mi int, metric, stat string, t target) {
		id := fmt.Sprintf("m%d_%s", mi, strings.ToLower(metric))
		targets[id] = t
		var dims []types.Dimension
		for _, d := range deployment.MetricDimensions(env, endpoint, models[mi]) {
			dims = append(dims, types.Dimension{Name: aws.String(d["Name"]), Value: aws.String(d["Value"])})
		}
		queries = append(queries, types.MetricDataQuery{Id: aws.String(id), ReturnData: aws.Bool(true),
			MetricStat: &types.MetricStat{Period: aws.Int32(period), Stat: aws.String(stat),
				Metric: &types.Metric{Namespace: aws.String(deployment.MetricNamespace), MetricName: aws.String(metric), Dimensions: dims}}})
	}
	for mi := range models {
		for _, m := range []string{deployment.MetricRequests, deployment.MetricErrors, deployment.MetricSchemaViolations, deployment.MetricPositives} {
			add(mi, m, "Sum", target{model: mi, sum: m, bin: -1})
		}
		add(mi, deployment.MetricLatency, "p99", target{model: mi, bin: -1})
		for b := range deployment.ScoreBins {
			add(mi, deployment.MetricScoreBin(b), "Sum", target{model: mi, bin: b})
		}
	}
	stats := make([]deployment.VersionStats, len(models))
	in := &cloudwatch.GetMetricDataInput{MetricDataQueries: queries, StartTime: aws.Time(end.Add(-window)), EndTime: aws.Time(end)}
	for {
		out, err := c.client.GetMetricData(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("get the traffic of endpoint %s in %s: %w", endpoint, env, err)
		}
		for _, r := range out.MetricDataResults {
			t, ok := targets[aws.ToString(r.Id)]
			if !ok {
				continue
			}
			s := &stats[t.model]
			for _, v := range r.Values {
				switch {
				case t.bin >= 0:
					s.ScoreHistogram[t.bin] += int64(v)
				case t.sum != "":
					*counts(s)[t.sum] += int64(v)
				default:
					s.P99LatencyMS = max(s.P99LatencyMS, v)
				}
			}
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	res := make(map[string]deployment.VersionStats, len(models))
	for i, m := range models {
		res[m] = stats[i]
	}
	return res, nil
}

// PutDeploymentMetrics puts the check step's figures for the model, which
// the deployment's score-drift and positive-rate alarms watch.
func (c cloudWatchTraffic) PutDeploymentMetrics(ctx context.Context, env, endpoint, modelID string, values map[string]float64) error {
	var dims []types.Dimension
	for _, d := range deployment.MetricDimensions(env, endpoint, modelID) {
		dims = append(dims, types.Dimension{Name: aws.String(d["Name"]), Value: aws.String(d["Value"])})
	}
	var data []types.MetricDatum
	for name, v := range values {
		data = append(data, types.MetricDatum{MetricName: aws.String(name), Dimensions: dims, Value: aws.Float64(v), Unit: types.StandardUnitNone})
	}
	if _, err := c.client.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(deployment.MetricNamespace), MetricData: data}); err != nil {
		return fmt.Errorf("put the deployment metrics of model %s on endpoint %s: %w", modelID, endpoint, err)
	}
	return nil
}

package deployment

import (
	"fmt"
)

// The CloudWatch metrics of the predict function's traffic (EMF, emitted
// per request by the predict function) and of a deployment's model-quality
// checks (put by the deployment's check step), in one namespace, each with
// the dimensions MetricDimensions names.
const (
	MetricNamespace = "Orrery/Predict"
	// Emitted by the predict function: counts (Sum) and the latency in
	// milliseconds (p99).
	MetricRequests         = "Requests"
	MetricErrors           = "Errors"
	MetricSchemaViolations = "SchemaViolations"
	MetricPositives        = "Positives"
	MetricLatency          = "Latency"
	// Put by the deployment's check step: the score PSI beyond its chance
	// level (ScoreDriftMetric) and the positive rate's distance outside the
	// validation band (PositiveRateDeviation).
	MetricScoreDrift            = "ScoreDrift"
	MetricPositiveRateDeviation = "PositiveRateDeviation"
)

// Dimension names of the metrics.
const (
	DimensionEnvironment = "Environment"
	DimensionEndpoint    = "Endpoint"
	DimensionModelID     = "ModelId"
)

// MetricScoreBin is the name of the counter of score bin i (ScoreBin00 ..
// ScoreBin19), emitted by the predict function like the other counts.
func MetricScoreBin(i int) string { return fmt.Sprintf("ScoreBin%02d", i) }

// MetricDimensions are the dimensions of one model's metrics on an
// endpoint, in CloudWatch's [{Name, Value}] form.
func MetricDimensions(environment, endpoint, modelID string) []map[string]string {
	return []map[string]string{
		{"Name": DimensionEnvironment, "Value": environment},
		{"Name": DimensionEndpoint, "Value": endpoint},
		{"Name": DimensionModelID, "Value": modelID},
	}
}

// AlarmPeriodSeconds is the CloudWatch period of the alarms of a window:
// the window rounded up to a whole minute.
func AlarmPeriodSeconds(windowSeconds int) int { return max(60, ceilDiv(windowSeconds, 60)*60) }

// CloudWatchAlarms returns the PutMetricAlarm requests (the API's member
// names, as the Step Functions aws-sdk integration passes them) of a
// deployment's alarms on AWS, one per kind, named by names: the error
// rate, p99 latency and schema-violation rate of the new model's EMF
// metrics (metric math that reads 0 below MinRequests), and the drift and
// positive-rate metrics the check step puts. Missing data does not breach:
// a quiet endpoint never rolls back for lack of traffic.
func CloudWatchAlarms(spec Spec, names map[string]string, deploymentID string) []map[string]any {
	dims := MetricDimensions(spec.Environment, spec.Endpoint, spec.ModelID)
	period := AlarmPeriodSeconds(spec.Alarms.WindowSeconds)
	stat := func(id, metric, statistic string) map[string]any {
		return map[string]any{
			"Id": id, "ReturnData": false,
			"MetricStat": map[string]any{
				"Metric": map[string]any{"Namespace": MetricNamespace, "MetricName": metric, "Dimensions": dims},
				"Period": period, "Stat": statistic,
			},
		}
	}
	expr := func(e, label string) map[string]any {
		return map[string]any{"Id": "value", "Expression": e, "Label": label, "ReturnData": true}
	}
	minReq := spec.Alarms.MinRequests
	guarded := func(e string) string { return fmt.Sprintf("IF(requests >= %d, %s, 0)", minReq, e) }
	alarm := func(kind, description string, threshold float64, metrics []map[string]any) map[string]any {
		return map[string]any{
			"AlarmName":          names[kind],
			"AlarmDescription":   fmt.Sprintf("Orrery deployment %s of model %s to %s (%s): %s", deploymentID, spec.ModelID, spec.Endpoint, spec.Environment, description),
			"ComparisonOperator": "GreaterThanThreshold",
			"Threshold":          threshold,
			"EvaluationPeriods":  1,
			"DatapointsToAlarm":  1,
			"TreatMissingData":   "notBreaching",
			"ActionsEnabled":     false,
			"Metrics":            metrics,
		}
	}
	return []map[string]any{
		alarm(AlarmErrorRate, "share of failed requests", spec.Alarms.ErrorRate, []map[string]any{
			stat("errors", MetricErrors, "Sum"), stat("requests", MetricRequests, "Sum"),
			expr(guarded("errors / requests"), "error rate"),
		}),
		alarm(AlarmP99Latency, "p99 latency in milliseconds", spec.Alarms.P99LatencyMS, []map[string]any{
			stat("latency", MetricLatency, "p99"), stat("requests", MetricRequests, "Sum"),
			expr(guarded("latency"), "p99 latency"),
		}),
		alarm(AlarmSchemaViolation, "share of requests refused for their features", spec.Alarms.SchemaViolationRate, []map[string]any{
			stat("violations", MetricSchemaViolations, "Sum"), stat("requests", MetricRequests, "Sum"),
			expr(guarded("violations / requests"), "schema-violation rate"),
		}),
		alarm(AlarmPositiveRate, "predicted positive rate outside the validation split's Wilson interval", 0, []map[string]any{
			stat("deviation", MetricPositiveRateDeviation, "Maximum"), expr("deviation", "positive-rate deviation"),
		}),
		alarm(AlarmScoreDrift, "PSI of the scores against the live version's, beyond chance", spec.Alarms.ScorePSI, []map[string]any{
			stat("drift", MetricScoreDrift, "Maximum"), expr("drift", "score drift"),
		}),
	}
}

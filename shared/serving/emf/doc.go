// Package emf writes the predict function's per-request figures in the
// CloudWatch Embedded Metric Format: one JSON object per line whose _aws
// member tells CloudWatch Logs which of its members are metrics, under
// which namespace and dimensions (the format's specification, "Embedded
// metric format specification" in the Amazon CloudWatch User Guide: a
// root object with _aws {Timestamp (ms since the epoch), CloudWatchMetrics:
// [{Namespace, Dimensions: [[names]], Metrics: [{Name, Unit,
// StorageResolution}]}]}, every dimension and metric a member of the root;
// at most 100 metrics per directive and 30 dimensions per set).
//
// The figures are those of serving.Traffic, per version: namespace
// Orrery/Predict, dimensions Environment, Endpoint and ModelId, metrics
// Requests, Errors, SchemaViolations, Latency (ms), Rows, Positives and
// ScoreBin00..ScoreBin19 (the names the deployment's alarms read),
// all at one-second storage resolution so that a deployment's bake alarms
// can use short periods.
//
// Lambda sends the function's stdout to CloudWatch Logs, which extracts the
// metrics, so it needs no client.
//
// It must not import the AWS SDK or aws-lambda-go.
package emf

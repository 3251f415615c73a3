package emf

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/orrery-ml/orrery/shared/serving"
)

// Namespace is the CloudWatch namespace of the predict metrics.
const Namespace = "Orrery/Predict"

// Dimension and metric names: the ones the deployment's alarms and drift
// checks read (shared/ml/deployment's Metric* and Dimension* names; a test
// there holds the two to one set).
const (
	DimensionEnvironment = "Environment"
	DimensionEndpoint    = "Endpoint"
	DimensionModelID     = "ModelId"

	MetricRequests         = "Requests"
	MetricErrors           = "Errors"
	MetricSchemaViolations = "SchemaViolations"
	MetricLatency          = "Latency"
	MetricRows             = "Rows"
	MetricPositives        = "Positives"
)

// ScoreBinMetric returns the name of score bin i's counter (ScoreBin00 ..
// ScoreBin19).
func ScoreBinMetric(i int) string { return fmt.Sprintf("ScoreBin%02d", i) }

// storageResolution is the metrics' resolution in seconds (1: high
// resolution).
const storageResolution = 1

// metricDef is one entry of a directive's Metrics.
type metricDef struct {
	Name              string `json:"Name"`
	Unit              string `json:"Unit"`
	StorageResolution int    `json:"StorageResolution"`
}

type directive struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []metricDef `json:"Metrics"`
}

type metadata struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

// definitions are the metrics every document declares, in order.
var definitions = func() []metricDef {
	defs := []metricDef{
		{MetricRequests, "Count", storageResolution},
		{MetricErrors, "Count", storageResolution},
		{MetricSchemaViolations, "Count", storageResolution},
		{MetricLatency, "Milliseconds", storageResolution},
		{MetricRows, "Count", storageResolution},
		{MetricPositives, "Count", storageResolution},
	}
	for i := range serving.NumScoreBins {
		defs = append(defs, metricDef{ScoreBinMetric(i), "Count", storageResolution})
	}
	return defs
}()

// Writer writes one EMF document per observation to W, a line each. It is
// safe for concurrent use.
type Writer struct {
	W io.Writer
	// Now is the clock of the documents' Timestamp (default time.Now).
	Now func() time.Time

	mu sync.Mutex
}

// Document returns the EMF document of one request to endpoint of
// environment answered by modelID (properties are added to the root as plain log fields, e.g. the
// function version and request id; they must not collide with the metric
// or dimension names).
func Document(at time.Time, environment, endpoint, modelID string, o serving.Observation, properties map[string]string) map[string]any {
	doc := map[string]any{
		"_aws": metadata{Timestamp: at.UnixMilli(), CloudWatchMetrics: []directive{{
			Namespace: Namespace, Dimensions: [][]string{{DimensionEnvironment, DimensionEndpoint, DimensionModelID}},
			Metrics: definitions}}},
		DimensionEnvironment: environment,
		DimensionEndpoint:    endpoint,
		DimensionModelID:     modelID,
	}
	for k, v := range properties {
		doc[k] = v
	}
	flag := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	doc[MetricRequests] = 1
	doc[MetricErrors] = flag(o.Outcome == serving.Failed)
	doc[MetricSchemaViolations] = flag(o.Outcome == serving.SchemaViolation)
	doc[MetricLatency] = float64(o.Latency) / float64(time.Millisecond)
	doc[MetricRows] = o.Rows
	doc[MetricPositives] = o.Positive
	for i, n := range o.Bins {
		doc[ScoreBinMetric(i)] = n
	}
	return doc
}

// Write writes the document of one request to endpoint of environment (dev,
// staging, prod), answered by modelID, as a line.
func (w *Writer) Write(environment, endpoint, modelID string, o serving.Observation, properties map[string]string) error {
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	b, err := json.Marshal(Document(now(), environment, endpoint, modelID, o, properties))
	if err != nil {
		return fmt.Errorf("emf: encode: %w", err)
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.W.Write(b); err != nil {
		return fmt.Errorf("emf: write: %w", err)
	}
	return nil
}

package emf

import (
	"encoding/json"
	"fmt"
	"time"
)

// TrainingNamespace is the CloudWatch namespace of the training jobs'
// resource metrics.
const TrainingNamespace = "Orrery/Training"

// DimensionJobID is the dimension of the training metrics: one series per
// job.
const DimensionJobID = "JobId"

// Training metric names, with the progress metric each one carries
// (training.ProgressMetrics).
const (
	MetricCPUPercent     = "CPUPercent"
	MetricRSSBytes       = "RSSBytes"
	MetricGPUUtilization = "GPUUtilization"
	MetricGPUMemoryBytes = "GPUMemoryBytes"
)

// trainingMetrics maps progress metric keys to EMF metrics and units.
var trainingMetrics = []struct{ key, name, unit string }{
	{"cpu_percent", MetricCPUPercent, "Percent"},
	{"rss_bytes", MetricRSSBytes, "Bytes"},
	{"gpu_util_percent", MetricGPUUtilization, "Percent"},
	{"gpu_memory_bytes", MetricGPUMemoryBytes, "Bytes"},
}

// TrainingDocument returns the EMF document of one epoch's resource use of
// job jobID from its progress metrics (nil when they hold none of them). A
// metric absent from metrics (no GPU) is absent from the document, not
// zero.
func TrainingDocument(at time.Time, jobID string, epoch int, metrics map[string]float64) map[string]any {
	doc := map[string]any{DimensionJobID: jobID, "epoch": epoch}
	var defs []metricDef
	for _, m := range trainingMetrics {
		if v, ok := metrics[m.key]; ok {
			doc[m.name] = v
			defs = append(defs, metricDef{Name: m.name, Unit: m.unit, StorageResolution: 60})
		}
	}
	if len(defs) == 0 {
		return nil
	}
	doc["_aws"] = metadata{Timestamp: at.UnixMilli(), CloudWatchMetrics: []directive{{
		Namespace: TrainingNamespace, Dimensions: [][]string{{DimensionJobID}}, Metrics: defs}}}
	return doc
}

// WriteTraining writes the document of one epoch's resource use of job
// jobID as a line; nothing when metrics hold no resource figure.
func (w *Writer) WriteTraining(jobID string, epoch int, metrics map[string]float64) error {
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	doc := TrainingDocument(now(), jobID, epoch, metrics)
	if doc == nil {
		return nil
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("emf: encode training metrics of job %s: %w", jobID, err)
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.W.Write(b); err != nil {
		return fmt.Errorf("emf: write training metrics of job %s: %w", jobID, err)
	}
	return nil
}

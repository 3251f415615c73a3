package deployment_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/orrery-ml/orrery/shared/ml/deployment"
	"github.com/orrery-ml/orrery/shared/serving/emf"
)

// TestAlarmsReadWhatThePredictFunctionEmits holds the metric and dimension
// names the deployment's alarms and drift checks read on AWS to the ones the
// predict function writes (shared/serving/emf).
func TestAlarmsReadWhatThePredictFunctionEmits(t *testing.T) {
	assert.Equal(t, emf.Namespace, deployment.MetricNamespace)
	for read, written := range map[string]string{
		deployment.MetricRequests:         emf.MetricRequests,
		deployment.MetricErrors:           emf.MetricErrors,
		deployment.MetricSchemaViolations: emf.MetricSchemaViolations,
		deployment.MetricPositives:        emf.MetricPositives,
		deployment.MetricLatency:          emf.MetricLatency,
		deployment.DimensionEnvironment:   emf.DimensionEnvironment,
		deployment.DimensionEndpoint:      emf.DimensionEndpoint,
		deployment.DimensionModelID:       emf.DimensionModelID,
		deployment.MetricScoreBin(0):      emf.ScoreBinMetric(0),
		deployment.MetricScoreBin(19):     emf.ScoreBinMetric(19),
	} {
		assert.Equal(t, written, read)
	}
}

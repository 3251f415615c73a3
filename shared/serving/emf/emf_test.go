package emf_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/serving"
	"github.com/orrery-ml/orrery/shared/serving/emf"
)

// TestDocumentFollowsTheSpecification checks the structure the Embedded
// Metric Format requires: a root object whose _aws member has a
// millisecond Timestamp and CloudWatchMetrics directives, every dimension
// and metric named there a member of the root holding a number (metrics)
// or a string (dimensions), at most 100 metrics and 30 dimensions.
func TestDocumentFollowsTheSpecification(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 250e6, time.UTC)
	var buf bytes.Buffer
	w := &emf.Writer{W: &buf, Now: func() time.Time { return at }}
	var bins serving.ScoreBins
	bins[0], bins[19] = 3, 1
	require.NoError(t, w.Write("prod", "live", "mdl-1", serving.Observation{Outcome: serving.Served, Latency: 2500 * time.Microsecond,
		Rows: 4, Positive: 1, Bins: bins}, map[string]string{"FunctionVersion": "7"}))
	require.NoError(t, w.Write("prod", "live", "mdl-1", serving.Observation{Outcome: serving.SchemaViolation, Latency: time.Millisecond}, nil))
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	require.Len(t, lines, 2, "one document per line")

	var doc map[string]any
	require.NoError(t, json.Unmarshal(lines[0], &doc))
	meta := doc["_aws"].(map[string]any)
	assert.EqualValues(t, at.UnixMilli(), meta["Timestamp"])
	directives := meta["CloudWatchMetrics"].([]any)
	require.Len(t, directives, 1)
	d := directives[0].(map[string]any)
	assert.Equal(t, "Orrery/Predict", d["Namespace"])
	dims := d["Dimensions"].([]any)
	require.Len(t, dims, 1)
	assert.Equal(t, []any{"Environment", "Endpoint", "ModelId"}, dims[0])
	for _, name := range dims[0].([]any) {
		assert.IsType(t, "", doc[name.(string)], "dimension %s is a string member", name)
	}
	metrics := d["Metrics"].([]any)
	assert.LessOrEqual(t, len(metrics), 100)
	var names []string
	for _, m := range metrics {
		def := m.(map[string]any)
		name := def["Name"].(string)
		names = append(names, name)
		assert.IsType(t, 0.0, doc[name], "metric %s is a number member", name)
		assert.EqualValues(t, 1, def["StorageResolution"])
		assert.Contains(t, []string{"Count", "Milliseconds"}, def["Unit"])
	}
	for _, want := range []string{"Requests", "Errors", "SchemaViolations", "Latency", "Rows", "Positives", "ScoreBin00", "ScoreBin19"} {
		assert.Contains(t, names, want)
	}
	assert.Len(t, names, 6+serving.NumScoreBins)
	assert.Equal(t, "prod", doc["Environment"])
	assert.Equal(t, "live", doc["Endpoint"])
	assert.Equal(t, "mdl-1", doc["ModelId"])
	assert.Equal(t, "7", doc["FunctionVersion"])
	assert.EqualValues(t, 1, doc["Requests"])
	assert.EqualValues(t, 0, doc["Errors"])
	assert.EqualValues(t, 2.5, doc["Latency"])
	assert.EqualValues(t, 4, doc["Rows"])
	assert.EqualValues(t, 1, doc["Positives"])
	assert.EqualValues(t, 3, doc["ScoreBin00"])
	assert.EqualValues(t, 1, doc["ScoreBin19"])
	assert.EqualValues(t, 0, doc["ScoreBin10"], "empty bins are written as 0, so sums over versions compare")

	require.NoError(t, json.Unmarshal(lines[1], &doc))
	assert.EqualValues(t, 1, doc["SchemaViolations"])
	assert.EqualValues(t, 0, doc["Rows"])
}

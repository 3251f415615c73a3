package stacks

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/serving/emf"
)

// dashboardBody returns a dashboard's body as JSON, each CloudFormation token
// of its Fn::Join (the region, ...) replaced by a placeholder.
func dashboardBody(t *testing.T, r map[string]any) map[string]any {
	t.Helper()
	var body strings.Builder
	switch v := props(r)["DashboardBody"].(type) {
	case string:
		body.WriteString(v)
	case map[string]any:
		join, ok := v["Fn::Join"].([]any)
		require.True(t, ok, "DashboardBody is neither a string nor an Fn::Join: %v", v)
		for _, part := range join[1].([]any) {
			if s, ok := part.(string); ok {
				body.WriteString(s)
			} else {
				body.WriteString("TOKEN")
			}
		}
	default:
		t.Fatalf("DashboardBody: %T", v)
	}
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(body.String()), &out), body.String())
	return out
}

// TestDashboardGraphsTrainingResources checks the dashboard's training row
// (issue 16 item 6): one graph per resource metric the trainer emits, each
// searching that metric over every job in the namespace and dimension of
// the EMF documents shared/serving/emf writes — read from a document it
// writes, so that a renamed metric fails here.
func TestDashboardGraphsTrainingResources(t *testing.T) {
	b := build(t, "dev")
	dashboards := b.resources("monitoring", "AWS::CloudWatch::Dashboard")
	require.Len(t, dashboards, 1)
	var searches []string
	titles := map[string]string{}
	for _, r := range dashboards {
		widgets, _ := dashboardBody(t, r)["widgets"].([]any)
		for _, w := range widgets {
			w := w.(map[string]any)
			wp, _ := w["properties"].(map[string]any)
			metrics, _ := wp["metrics"].([]any)
			for _, m := range metrics {
				for _, part := range m.([]any) {
					opts, ok := part.(map[string]any)
					if e, _ := opts["expression"].(string); ok && strings.HasPrefix(e, "SEARCH(") {
						searches = append(searches, e)
						titles[e], _ = wp["title"].(string)
					}
				}
			}
		}
	}

	doc := emf.TrainingDocument(time.Unix(0, 0), "job-1", 1,
		map[string]float64{"cpu_percent": 150, "rss_bytes": 1 << 30, "gpu_util_percent": 80, "gpu_memory_bytes": 1 << 32})
	raw, err := json.Marshal(doc["_aws"])
	require.NoError(t, err)
	var meta struct {
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name string }
		}
	}
	require.NoError(t, json.Unmarshal(raw, &meta))
	require.Len(t, meta.CloudWatchMetrics, 1)
	emitted := meta.CloudWatchMetrics[0]
	require.Len(t, emitted.Metrics, 4, "CPU, RSS, GPU utilisation and memory")
	require.Equal(t, [][]string{{"JobId"}}, emitted.Dimensions)
	for _, m := range emitted.Metrics {
		want := fmt.Sprintf(`SEARCH('{%s,%s} MetricName="%s"', 'Average', 60)`, emitted.Namespace, emitted.Dimensions[0][0], m.Name)
		assert.Contains(t, searches, want, "no dashboard graph of %s", m.Name)
		assert.Contains(t, titles[want], "Training", "%s: its graph's title", m.Name)
	}
	assert.Len(t, searches, len(emitted.Metrics), "one search per metric: %v", searches)
}

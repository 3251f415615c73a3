package emf_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/serving/emf"
)

func TestWriteTraining(t *testing.T) {
	var buf bytes.Buffer
	w := &emf.Writer{W: &buf, Now: func() time.Time { return time.UnixMilli(1700000000000) }}
	require.NoError(t, w.WriteTraining("trn-1", 3, map[string]float64{"loss": 0.2, "cpu_percent": 0, "rss_bytes": 1 << 20}))
	require.NoError(t, w.WriteTraining("trn-1", 4, map[string]float64{"loss": 0.1}), "no resource figure: no document")
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	require.Len(t, lines, 1)
	var doc struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		JobID string   `json:"JobId"`
		CPU   *float64 `json:"CPUPercent"`
		RSS   float64  `json:"RSSBytes"`
		GPU   *float64 `json:"GPUUtilization"`
	}
	require.NoError(t, json.Unmarshal(lines[0], &doc))
	assert.Equal(t, "trn-1", doc.JobID)
	require.NotNil(t, doc.CPU, "zero CPU is a value")
	assert.Zero(t, *doc.CPU)
	assert.Equal(t, float64(1<<20), doc.RSS)
	assert.Nil(t, doc.GPU, "no GPU: the metric is absent, not zero")
	require.Len(t, doc.AWS.CloudWatchMetrics, 1)
	d := doc.AWS.CloudWatchMetrics[0]
	assert.Equal(t, emf.TrainingNamespace, d.Namespace)
	assert.Equal(t, [][]string{{emf.DimensionJobID}}, d.Dimensions)
	assert.Len(t, d.Metrics, 2)
	assert.Equal(t, int64(1700000000000), doc.AWS.Timestamp)
}

package training

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/resources"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// scriptedSampler advances a fake clock by a second per sample, with the
// process using half a core, and reports a GPU at gpuUtil when it is set.
type scriptedSampler struct {
	mu      sync.Mutex // the meter's background sampling calls it too
	n       int
	gpuUtil *float64
}

func (s *scriptedSampler) Sample(context.Context) (resources.Sample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	out := resources.Sample{Time: time.Unix(int64(s.n), 0), CPUSeconds: 0.5 * float64(s.n), RSSBytes: 64 << 20}
	if s.gpuUtil != nil {
		out.GPUs = []resources.GPU{{UtilPercent: *s.gpuUtil, MemoryUsedBytes: 2 << 30}}
	}
	return out, nil
}

// TestTrainRecordsResources checks that every epoch's CPU and memory use
// reach its stats and its progress event, that GPU figures are omitted
// without a GPU, and that a mostly idle GPU is recorded and warned about.
func TestTrainRecordsResources(t *testing.T) {
	idle := 20.0
	for _, tc := range []struct {
		name    string
		gpu     *float64
		warning bool
	}{{"CPU host", nil, false}, {"idle GPU", &idle, true}} {
		t.Run(tc.name, func(t *testing.T) {
			in := trainerInput(t, func(c *TrainingConfig) { c.Epochs, c.EarlyStop.Enabled = 3, new(bool) })
			mem := &tracking.Memory{}
			res, err := ModelTrainer{Recorder: mem, Resources: &scriptedSampler{gpuUtil: tc.gpu}}.Train(t.Context(), in)
			require.NoError(t, err)
			require.Len(t, res.History, 3)
			for _, h := range res.History {
				require.NotNil(t, h.Resources, "epoch %d", h.Epoch)
				assert.InDelta(t, 50, h.Resources.CPUPercent, 1e-9)
				assert.Equal(t, int64(64<<20), h.Resources.RSSBytes)
				assert.Equal(t, tc.gpu == nil, h.Resources.GPUUtilPercent == nil)
			}
			var progress int
			for _, e := range mem.Events() {
				if e.Kind != tracking.Progress {
					continue
				}
				progress++
				assert.InDelta(t, 50, e.Metrics["cpu_percent"], 1e-9)
				assert.Equal(t, float64(64<<20), e.Metrics["rss_bytes"])
				_, hasGPU := e.Metrics["gpu_util_percent"]
				assert.Equal(t, tc.gpu != nil, hasGPU, "GPU metrics only where there is a GPU")
			}
			assert.Equal(t, 3, progress)
			if tc.warning {
				require.Len(t, res.Warnings, 3)
				assert.Contains(t, res.Warnings[0], "epoch 1: the GPU was under 50% busy")
			} else {
				assert.Empty(t, res.Warnings)
			}
		})
	}
}

package resources_test

import (
	"context"
	"errors"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/resources"
)

// fakeSampler returns its samples in order, then fails.
type fakeSampler struct{ samples []resources.Sample }

func (f *fakeSampler) Sample(context.Context) (resources.Sample, error) {
	if len(f.samples) == 0 {
		return resources.Sample{}, resources.ErrSample
	}
	s := f.samples[0]
	f.samples = f.samples[1:]
	return s, nil
}

func at(sec float64) time.Time {
	return time.Unix(1000, 0).Add(time.Duration(sec * float64(time.Second)))
}

func TestMeterEpochs(t *testing.T) {
	t.Run("CPU only: GPU fields omitted", func(t *testing.T) {
		f := &fakeSampler{samples: []resources.Sample{
			{Time: at(0), CPUSeconds: 10, RSSBytes: 100},
			{Time: at(2), CPUSeconds: 13, RSSBytes: 300}, // 3 CPU s in 2 s: 150 %
			{Time: at(3), CPUSeconds: 13, RSSBytes: 250}, // idle second: 0 %
		}}
		m := resources.NewMeter(t.Context(), f, 0)
		u, ok := m.Epoch(t.Context())
		require.True(t, ok)
		assert.InDelta(t, 150, u.CPUPercent, 1e-9)
		assert.Equal(t, int64(300), u.RSSBytes)
		assert.Nil(t, u.GPUUtilPercent)
		assert.Nil(t, u.GPUMemoryBytes)
		assert.Equal(t, map[string]float64{"cpu_percent": 150, "rss_bytes": 300}, u.Metrics())
		assert.Empty(t, u.Warning(1))
		u, ok = m.Epoch(t.Context())
		require.True(t, ok)
		assert.Zero(t, u.CPUPercent, "zero is a value")
		_, ok = m.Epoch(t.Context())
		assert.False(t, ok, "a failed sample reports nothing")
		m.Stop()
	})
	t.Run("GPU mostly idle warns", func(t *testing.T) {
		gpu := func(util float64) []resources.GPU {
			return []resources.GPU{{UtilPercent: util, MemoryUsedBytes: 1 << 30}, {UtilPercent: util, MemoryUsedBytes: 1 << 29}}
		}
		f := &fakeSampler{samples: []resources.Sample{
			{Time: at(0), GPUs: gpu(90)},
			{Time: at(1), GPUs: gpu(10)}, // polls
			{Time: at(2), GPUs: gpu(20)},
			{Time: at(3), GPUs: gpu(90)}, // end of epoch 1
			{Time: at(4), GPUs: gpu(95)}, // end of epoch 2
		}}
		m := resources.NewMeter(t.Context(), f, 0) // Poll driven by the test
		m.Poll(t.Context())
		m.Poll(t.Context())
		u, ok := m.Epoch(t.Context())
		require.True(t, ok)
		require.NotNil(t, u.GPUUtilPercent)
		assert.InDelta(t, 40, *u.GPUUtilPercent, 1e-9)
		assert.Equal(t, int64(3<<29), *u.GPUMemoryBytes, "memory summed over GPUs")
		assert.InDelta(t, 2.0/3, *u.GPUIdleFraction, 1e-9)
		assert.Contains(t, u.Warning(1), "epoch 1: the GPU was under 50% busy for 67% of the epoch")
		assert.Contains(t, u.Metrics(), "gpu_util_percent")
		u, ok = m.Epoch(t.Context())
		require.True(t, ok)
		assert.InDelta(t, 95, *u.GPUUtilPercent, 1e-9, "the polls belong to the epoch they fell in")
		assert.Empty(t, u.Warning(2))
	})
}

// TestProcessSampler reads this process's real figures: CPU time grows
// with work done, the resident set is positive, and GPUs appear only where
// nvidia-smi answers.
func TestProcessSampler(t *testing.T) {
	s := resources.Process()
	a, err := s.Sample(t.Context())
	require.NoError(t, err)
	x := 0.0
	for i := range 20_000_000 {
		x += float64(i % 7)
	}
	require.NotZero(t, x)
	b, err := s.Sample(t.Context())
	require.NoError(t, err)
	assert.Greater(t, b.CPUSeconds, a.CPUSeconds)
	assert.Greater(t, b.RSSBytes, int64(1<<20))
	for _, g := range b.GPUs {
		assert.GreaterOrEqual(t, g.UtilPercent, 0.0)
	}
}

func TestParseSMI(t *testing.T) {
	gpus, err := resources.ParseSMI([]byte("37, 1024\n0, 0\n"))
	require.NoError(t, err)
	assert.Equal(t, []resources.GPU{{UtilPercent: 37, MemoryUsedBytes: 1 << 30}, {}}, gpus)
	_, err = resources.ParseSMI([]byte("[N/A], 1024\n"))
	assert.True(t, errors.Is(err, resources.ErrSample), "an unreadable field is an error, not an idle GPU")
	_, err = resources.ParseSMI([]byte("37\n"))
	assert.ErrorIs(t, err, resources.ErrSample)
}

// TestHoldDataGC: the collector runs at DataGCPercent while a hold is
// out, overlapping holds restore the setting only when the last is
// released (twice releasing is once), and a GOGC in the environment is
// left alone.
func TestHoldDataGC(t *testing.T) {
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	t.Setenv("GOGC", "")
	a := resources.HoldDataGC()
	b := resources.HoldDataGC()
	assert.Equal(t, resources.DataGCPercent, debug.SetGCPercent(resources.DataGCPercent))
	a()
	a()
	assert.Equal(t, resources.DataGCPercent, debug.SetGCPercent(resources.DataGCPercent), "one hold is still out")
	b()
	assert.Equal(t, 100, debug.SetGCPercent(100), "the last release restores it")
	t.Setenv("GOGC", "200")
	resources.HoldDataGC()()
	assert.Equal(t, 100, debug.SetGCPercent(100), "a GOGC the user set is theirs")
}

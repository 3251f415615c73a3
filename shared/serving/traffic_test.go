package serving_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/serving"
)

func TestTrafficCountsOutcomes(t *testing.T) {
	clock := newFakeClock()
	tr := &serving.Traffic{Now: clock.Now}
	var bins serving.ScoreBins
	bins[3], bins[19] = 2, 1
	served := serving.Observation{Outcome: serving.Served, Latency: 2 * time.Millisecond, Rows: 3, Positive: 1, Bins: bins}
	tr.Record("dev", "pulsars", "mdl-a", served)
	tr.Record("dev", "pulsars", "mdl-a", served)
	tr.Record("dev", "pulsars", "mdl-a", serving.Observation{Outcome: serving.SchemaViolation, Latency: time.Millisecond})
	tr.Record("dev", "pulsars", "mdl-a", serving.Observation{Outcome: serving.Failed, Latency: time.Millisecond})
	tr.Record("dev", "pulsars", "mdl-a", serving.Observation{Outcome: serving.Rejected, Latency: time.Millisecond})
	tr.Record("dev", "pulsars", "mdl-b", served)
	tr.Record("prod", "pulsars", "mdl-a", served)
	tr.Record("dev", "other", "mdl-a", served)

	snap := tr.Snapshot("dev", "pulsars", time.Minute)
	require.Len(t, snap, 2, "one entry per version of that environment's endpoint")
	a := snap["mdl-a"]
	assert.Equal(t, "mdl-a", a.ModelID)
	assert.Equal(t, int64(5), a.Requests)
	assert.Equal(t, int64(1), a.Errors)
	assert.Equal(t, int64(1), a.SchemaViolations)
	assert.Equal(t, int64(6), a.Rows)
	assert.Equal(t, int64(2), a.Positive)
	assert.Equal(t, int64(4), a.ScoreBins[3])
	assert.Equal(t, int64(2), a.ScoreBins[19])
	assert.Equal(t, time.Minute, a.Window)
	rate, ok := a.ErrorRate()
	assert.True(t, ok)
	assert.InDelta(t, 0.2, rate, 1e-12)
	rate, ok = a.SchemaViolationRate()
	assert.True(t, ok)
	assert.InDelta(t, 0.2, rate, 1e-12)
	rate, ok = a.PositiveRate()
	assert.True(t, ok)
	assert.InDelta(t, 2.0/6, rate, 1e-12)
	assert.Equal(t, int64(1), snap["mdl-b"].Requests)

	_, ok = serving.VersionStats{}.PositiveRate()
	assert.False(t, ok, "no rows: no rate, rather than a rate of zero")
	assert.Empty(t, tr.Snapshot("staging", "pulsars", time.Minute))
}

func TestTrafficWindows(t *testing.T) {
	clock := newFakeClock()
	tr := &serving.Traffic{Now: clock.Now, Retention: time.Minute}
	obs := serving.Observation{Outcome: serving.Served, Latency: time.Millisecond, Rows: 1}
	// One request at each second from t0 to t0+29.
	for range 30 {
		tr.Record("dev", "e", "m", obs)
		clock.Advance(time.Second)
	}
	clock.Advance(-time.Second) // now is the second of the last request
	tests := []struct {
		window time.Duration
		want   int64
	}{
		{time.Second, 1},
		{10 * time.Second, 10},
		{9500 * time.Millisecond, 10}, // whole seconds, rounded up
		{0, 1},                        // at least one second
		{time.Hour, 30},               // capped at the retention
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, tr.Snapshot("dev", "e", tc.window)["m"].Requests, "window %v", tc.window)
	}
	assert.Equal(t, time.Minute, tr.Covered(time.Hour))

	// Past the retention a bucket is reused: old seconds drop out.
	clock.Advance(45 * time.Second)
	tr.Record("dev", "e", "m", obs)
	assert.Equal(t, int64(1), tr.Snapshot("dev", "e", time.Second)["m"].Requests)
	assert.Equal(t, int64(16), tr.Snapshot("dev", "e", time.Minute)["m"].Requests,
		"the requests of seconds 15 to 29, and it (second 74)")
	clock.Advance(2 * time.Minute)
	assert.Empty(t, tr.Snapshot("dev", "e", time.Minute), "nothing in the window: the version is not listed")
}

func TestTrafficLatencyQuantiles(t *testing.T) {
	clock := newFakeClock()
	tr := &serving.Traffic{Now: clock.Now}
	rng := rand.New(rand.NewPCG(7, 8))
	var lat []float64
	for range 5000 {
		// Log-uniform from 50 µs to 50 ms.
		d := time.Duration(50e3 * math.Pow(1000, rng.Float64()))
		lat = append(lat, float64(d)/1e6)
		tr.Record("dev", "e", "m", serving.Observation{Outcome: serving.Served, Latency: d})
	}
	slices.Sort(lat)
	st := tr.Snapshot("dev", "e", time.Minute)["m"]
	for _, q := range []struct {
		name string
		p    float64
		got  float64
	}{{"p50", 0.50, st.LatencyP50Ms}, {"p95", 0.95, st.LatencyP95Ms}, {"p99", 0.99, st.LatencyP99Ms}} {
		exact := lat[int(math.Ceil(q.p*float64(len(lat))))-1]
		assert.InEpsilon(t, exact, q.got, 0.045, "%s: histogram %v ms, exact %v ms", q.name, q.got, exact)
	}
	assert.Zero(t, serving.VersionStats{}.LatencyP99Ms)
}

// TestTrafficConcurrentRecords checks that concurrent recording loses
// nothing, across second boundaries too (run with -race).
func TestTrafficConcurrentRecords(t *testing.T) {
	clock := newFakeClock()
	tr := &serving.Traffic{Now: clock.Now}
	s := tr.Series("dev", "e", "m")
	const workers, each = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var bins serving.ScoreBins
			bins[w] = 1
			for i := range each {
				if w == 0 && i%500 == 0 {
					clock.Advance(time.Second)
				}
				s.Record(serving.Observation{Outcome: serving.Served, Latency: time.Millisecond, Rows: 1, Bins: bins})
			}
		}()
	}
	wg.Wait()
	st := tr.Snapshot("dev", "e", time.Minute)["m"]
	assert.Equal(t, int64(workers*each), st.Requests)
	assert.Equal(t, int64(workers*each), st.Rows)
	for w := range workers {
		assert.Equal(t, int64(each), st.ScoreBins[w], "bin %d", w)
	}
}

func TestSeriesRecordAllocatesNothing(t *testing.T) {
	s := (&serving.Traffic{}).Series("dev", "e", "m")
	o := serving.Observation{Outcome: serving.Served, Latency: 3 * time.Millisecond, Rows: 100, Positive: 7}
	o.Bins[2] = 100
	assert.Zero(t, testing.AllocsPerRun(1000, func() { s.Record(o) }))
}

// BenchmarkSeriesRecord measures recording one request from every
// processor at once: the cost Traffic adds to the request path.
func BenchmarkSeriesRecord(b *testing.B) {
	s := (&serving.Traffic{}).Series("dev", "e", "m")
	o := serving.Observation{Outcome: serving.Served, Latency: 3 * time.Millisecond, Rows: 100, Positive: 7}
	o.Bins[2], o.Bins[17] = 93, 7
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Record(o)
		}
	})
}

// BenchmarkTrafficSnapshot measures a snapshot over a full 10-minute window.
func BenchmarkTrafficSnapshot(b *testing.B) {
	clock := newFakeClock()
	tr := &serving.Traffic{Now: clock.Now}
	for range 600 {
		tr.Record("dev", "e", "a", serving.Observation{Outcome: serving.Served, Latency: time.Millisecond, Rows: 1})
		tr.Record("dev", "e", "b", serving.Observation{Outcome: serving.Served, Latency: time.Millisecond, Rows: 1})
		clock.Advance(time.Second)
	}
	b.ReportAllocs()
	for b.Loop() {
		tr.Snapshot("dev", "e", 10*time.Minute)
	}
}

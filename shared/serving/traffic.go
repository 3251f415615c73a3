package serving

import (
	"context"
	"errors"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orrery-ml/orrery/shared/fault"
)

// DefaultRetention is how far back Traffic keeps statistics.
const DefaultRetention = 10 * time.Minute

// Latency histogram: 1/8-octave bins from latencyFloor up, 20 octaves (to
// about 10.5 s), plus an underflow and an overflow bin.
const (
	latencyFloor      = 10 * time.Microsecond
	latencyPerOctave  = 8
	latencyOctaves    = 20
	latencyBins       = latencyPerOctave*latencyOctaves + 2
	latencyOverflowAt = latencyBins - 1
)

// Outcome is what became of one predict request.
type Outcome uint8

// Outcomes.
const (
	// Served: the request was predicted.
	Served Outcome = iota
	// Rejected: refused for a body that is not a predict request (not JSON,
	// too many rows, ...) or given up by its client; neither an error of
	// the version nor a schema violation.
	Rejected
	// SchemaViolation: refused for missing, extra or non-numeric features.
	SchemaViolation
	// Failed: the version failed (5xx): its model could not be loaded or
	// did not predict.
	Failed
)

// OutcomeOf classifies a predict request's error: nil is Served, a
// *SchemaError SchemaViolation, other invalid input and a cancelled request
// Rejected, anything else Failed.
func OutcomeOf(err error) Outcome {
	var se *SchemaError
	switch {
	case err == nil:
		return Served
	case errors.As(err, &se):
		return SchemaViolation
	case errors.Is(err, context.Canceled):
		return Rejected
	}
	switch fault.CodeOf(err) {
	case fault.Invalid, fault.Cancelled:
		return Rejected
	}
	return Failed
}

// Observation is one request as the traffic statistics count it.
type Observation struct {
	Outcome Outcome
	// Latency is the time from the request's arrival to its answer.
	Latency time.Duration
	// Rows, Positive and Bins are the result's (served requests only).
	Rows, Positive int
	Bins           ScoreBins
}

// Observe returns the observation of a request that ended with res and err
// after latency.
func Observe(res Result, err error, latency time.Duration) Observation {
	o := Observation{Outcome: OutcomeOf(err), Latency: latency}
	if err == nil {
		o.Rows, o.Positive, o.Bins = len(res.Predictions), res.Positive, res.Bins
	}
	return o
}

// VersionStats are one version's figures over a window (see the package
// documentation for the contract).
type VersionStats struct {
	ModelID string `json:"model_id"`
	// Window is the span covered.
	Window           time.Duration `json:"-"`
	WindowSeconds    float64       `json:"window_seconds"`
	Requests         int64         `json:"requests"`
	Errors           int64         `json:"errors"`
	SchemaViolations int64         `json:"schema_violations"`
	Rows             int64         `json:"rows"`
	Positive         int64         `json:"positive"`
	LatencyP50Ms     float64       `json:"latency_p50_ms"`
	LatencyP95Ms     float64       `json:"latency_p95_ms"`
	LatencyP99Ms     float64       `json:"latency_p99_ms"`
	ScoreBins        ScoreBins     `json:"score_bins"`
}

func rate(n, d int64) (float64, bool) {
	if d == 0 {
		return 0, false
	}
	return float64(n) / float64(d), true
}

// ErrorRate is Errors / Requests; ok is false without requests.
func (s VersionStats) ErrorRate() (float64, bool) { return rate(s.Errors, s.Requests) }

// SchemaViolationRate is SchemaViolations / Requests; ok is false without
// requests.
func (s VersionStats) SchemaViolationRate() (float64, bool) {
	return rate(s.SchemaViolations, s.Requests)
}

// PositiveRate is Positive / Rows; ok is false without predicted rows.
func (s VersionStats) PositiveRate() (float64, bool) { return rate(s.Positive, s.Rows) }

// Traffic keeps rolling statistics of predict requests per (environment,
// endpoint, model id) in one-second buckets over Retention. Set Retention
// and Now before first use; the zero value keeps DefaultRetention by the
// wall clock. It is safe for concurrent use: Series takes a mutex, a
// Series' Record only atomic additions.
type Traffic struct {
	// Retention is the longest window kept (default 10 minutes).
	Retention time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu     sync.Mutex
	series map[seriesKey]*Series
}

type seriesKey struct{ environment, endpoint, modelID string }

// Series returns the statistics of one version of an endpoint, created on
// first use. Callers on the request path keep the *Series (the router
// does, per route), so that recording costs no map lookup. Series not
// recorded to for longer than Retention are dropped when a new one is
// created.
func (t *Traffic) Series(environment, endpoint, modelID string) *Series {
	k := seriesKey{environment, endpoint, modelID}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.series[k]; ok {
		return s
	}
	if t.series == nil {
		t.series = map[seriesKey]*Series{}
	}
	now := t.clock()().Unix()
	for key, s := range t.series {
		if now-s.last.Load() > int64(t.retention()/time.Second) {
			delete(t.series, key)
		}
	}
	n := int(t.retention()/time.Second) + 1
	s := &Series{now: t.clock(), buckets: make([]bucket, n)}
	s.last.Store(now)
	for i := range s.buckets {
		s.buckets[i].sec.Store(math.MinInt64)
	}
	t.series[k] = s
	return s
}

// Record adds o to the version's statistics.
func (t *Traffic) Record(environment, endpoint, modelID string, o Observation) {
	t.Series(environment, endpoint, modelID).Record(o)
}

func (t *Traffic) retention() time.Duration {
	if t.Retention < time.Second {
		return DefaultRetention
	}
	return t.Retention
}

func (t *Traffic) clock() func() time.Time {
	if t.Now != nil {
		return t.Now
	}
	return time.Now
}

// Covered returns the window Snapshot covers when asked for window: whole
// seconds, at least one, at most Retention.
func (t *Traffic) Covered(window time.Duration) time.Duration {
	secs := int64((window + time.Second - 1) / time.Second)
	return time.Duration(max(1, min(secs, int64(t.retention()/time.Second)))) * time.Second
}

// Snapshot returns, for every model id that served the endpoint of the
// environment during the last window (at least a second, at most
// Retention), its statistics over that window.
func (t *Traffic) Snapshot(environment, endpoint string, window time.Duration) map[string]VersionStats {
	secs := int64(t.Covered(window) / time.Second)
	t.mu.Lock()
	var series []*Series
	var ids []string
	for k, s := range t.series {
		if k.environment == environment && k.endpoint == endpoint {
			series, ids = append(series, s), append(ids, k.modelID)
		}
	}
	t.mu.Unlock()
	out := map[string]VersionStats{}
	for i, s := range series {
		st := s.stats(secs)
		if st.Requests == 0 {
			continue
		}
		st.ModelID = ids[i]
		out[ids[i]] = st
	}
	return out
}

// Series is one version's rolling statistics.
type Series struct {
	now     func() time.Time
	buckets []bucket
	last    atomic.Int64 // the last second recorded
}

// bucket holds one second. sec is the second it holds (math.MinInt64:
// never used; resetting: a writer is clearing it for a new second).
type bucket struct {
	sec                                          atomic.Int64
	requests, errors, violations, rows, positive atomic.Int64
	latency                                      [latencyBins]atomic.Int64
	scores                                       [NumScoreBins]atomic.Int64
}

const resetting = math.MinInt64 + 1

// Record adds o to the bucket of the current second: atomic additions, no
// lock and no allocation. The first writer of a second clears the bucket
// that second reuses. An observation whose second has already been reused
// (its goroutine stalled for the whole retention) is dropped.
func (s *Series) Record(o Observation) {
	sec := s.now().Unix()
	b := &s.buckets[int(uint64(sec)%uint64(len(s.buckets)))]
	for {
		held := b.sec.Load()
		if held == sec {
			break
		}
		if held == resetting {
			runtime.Gosched()
			continue
		}
		if held > sec {
			return
		}
		if b.sec.CompareAndSwap(held, resetting) {
			b.clear()
			b.sec.Store(sec)
			break
		}
	}
	if sec > s.last.Load() {
		s.last.Store(sec)
	}
	b.requests.Add(1)
	switch o.Outcome {
	case Failed:
		b.errors.Add(1)
	case SchemaViolation:
		b.violations.Add(1)
	}
	b.latency[latencyBin(o.Latency)].Add(1)
	if o.Rows > 0 {
		b.rows.Add(int64(o.Rows))
		b.positive.Add(int64(o.Positive))
		for i, n := range o.Bins {
			if n != 0 {
				b.scores[i].Add(n)
			}
		}
	}
}

func (b *bucket) clear() {
	for _, c := range []*atomic.Int64{&b.requests, &b.errors, &b.violations, &b.rows, &b.positive} {
		c.Store(0)
	}
	for i := range b.latency {
		b.latency[i].Store(0)
	}
	for i := range b.scores {
		b.scores[i].Store(0)
	}
}

// stats sums the buckets of the last secs seconds.
func (s *Series) stats(secs int64) VersionStats {
	now := s.now().Unix()
	var (
		st  VersionStats
		lat [latencyBins]int64
	)
	st.Window = time.Duration(secs) * time.Second
	st.WindowSeconds = float64(secs)
	for i := range s.buckets {
		b := &s.buckets[i]
		if sec := b.sec.Load(); sec <= now-secs || sec > now {
			continue
		}
		st.Requests += b.requests.Load()
		st.Errors += b.errors.Load()
		st.SchemaViolations += b.violations.Load()
		st.Rows += b.rows.Load()
		st.Positive += b.positive.Load()
		for k := range lat {
			lat[k] += b.latency[k].Load()
		}
		for k := range st.ScoreBins {
			st.ScoreBins[k] += b.scores[k].Load()
		}
	}
	st.LatencyP50Ms = latencyQuantile(&lat, 0.50)
	st.LatencyP95Ms = latencyQuantile(&lat, 0.95)
	st.LatencyP99Ms = latencyQuantile(&lat, 0.99)
	return st
}

// latencyBin returns the histogram bin of d: 0 below latencyFloor, then
// 1/8-octave bins, the last one from latencyFloor·2^20 up.
func latencyBin(d time.Duration) int {
	if d < latencyFloor {
		return 0
	}
	k := int(math.Floor(latencyPerOctave*math.Log2(float64(d)/float64(latencyFloor)))) + 1
	return min(k, latencyOverflowAt)
}

// latencyQuantile returns the q-quantile (nearest rank) of the histogram in
// milliseconds: the geometric middle of the bin holding it (its upper edge
// for the underflow bin, its lower edge for the overflow bin); 0 when the
// histogram is empty.
func latencyQuantile(h *[latencyBins]int64, q float64) float64 {
	var total int64
	for _, n := range h {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(total)))
	rank = max(rank, 1)
	var seen int64
	for k, n := range h {
		seen += n
		if seen < rank {
			continue
		}
		floorMs := float64(latencyFloor) / float64(time.Millisecond)
		switch k {
		case 0:
			return floorMs
		case latencyOverflowAt:
			return floorMs * math.Exp2(latencyOctaves)
		}
		return floorMs * math.Exp2((float64(k-1)+0.5)/latencyPerOctave)
	}
	return 0
}

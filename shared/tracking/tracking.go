package tracking

import (
	"context"
	"encoding/json"
	"math"
	"sync"
	"time"
)

// EventKind says what an Event marks.
type EventKind string

const (
	// StageStarted marks the start of a stage (Total may give its step count).
	StageStarted EventKind = "stage_started"
	// Progress marks one step (an epoch, a fold, a trial) finished.
	Progress EventKind = "progress"
	// StageFinished marks the end of a stage, successful or not (Err set).
	StageFinished EventKind = "stage_finished"
	// Log carries a message worth showing to the user (a warning, a retry).
	Log EventKind = "log"
)

// Event is one progress record. JSON field names are part of the API.
type Event struct {
	JobID   string             `json:"job_id,omitempty"`
	Kind    EventKind          `json:"kind"`
	Stage   string             `json:"stage"`
	Step    int                `json:"step,omitempty"`
	Total   int                `json:"total,omitempty"`
	Unit    string             `json:"unit,omitempty"`
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// ETASeconds is the estimated time left in the stage, 0 when unknown.
	ETASeconds float64   `json:"eta_seconds,omitempty"`
	Message    string    `json:"message,omitempty"`
	Err        string    `json:"error,omitempty"`
	Time       time.Time `json:"time"`
}

// Recorder receives progress events. Record must be safe for concurrent use
// and must not block for long; an error from Record is reported by the caller
// but never stops the work that emitted the event.
type Recorder interface {
	Record(ctx context.Context, e Event) error
}

// RecorderFunc adapts a function to a Recorder.
type RecorderFunc func(ctx context.Context, e Event) error

// Record calls f.
func (f RecorderFunc) Record(ctx context.Context, e Event) error { return f(ctx, e) }

// Discard is a Recorder that drops every event.
var Discard Recorder = RecorderFunc(func(context.Context, Event) error { return nil })

// Multi fans each event out to every recorder, returning the first error.
func Multi(rs ...Recorder) Recorder {
	return RecorderFunc(func(ctx context.Context, e Event) error {
		var first error
		for _, r := range rs {
			if r == nil {
				continue
			}
			if err := r.Record(ctx, e); err != nil && first == nil {
				first = err
			}
		}
		return first
	})
}

// Memory is a Recorder that keeps every event, for tests and summaries.
type Memory struct {
	mu     sync.Mutex
	events []Event
}

// Record appends e.
func (m *Memory) Record(_ context.Context, e Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, e)
	return nil
}

// Events returns a copy of the events recorded so far.
func (m *Memory) Events() []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Event(nil), m.events...)
}

// ETA estimates the time left after done of total steps took elapsed, assuming
// the remaining steps take as long on average. It returns 0 when unknown.
func ETA(elapsed time.Duration, done, total int) time.Duration {
	if done <= 0 || total <= done {
		return 0
	}
	per := elapsed / time.Duration(done)
	return per * time.Duration(total-done)
}

// MarshalJSON writes e with non-finite metric values (a diverged loss, an
// undefined AUC) as null, which encoding/json would otherwise refuse.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	out := struct {
		plain
		Metrics map[string]*float64 `json:"metrics,omitempty"`
	}{plain: plain(e)}
	if len(e.Metrics) > 0 {
		out.Metrics = make(map[string]*float64, len(e.Metrics))
		for k, v := range e.Metrics {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				out.Metrics[k] = nil
				continue
			}
			out.Metrics[k] = &v
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads null metric values back as NaN.
func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event
	var in struct {
		plain
		Metrics map[string]*float64 `json:"metrics,omitempty"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*e = Event(in.plain)
	e.Metrics = nil
	if in.Metrics != nil {
		e.Metrics = make(map[string]float64, len(in.Metrics))
		for k, v := range in.Metrics {
			if v == nil {
				e.Metrics[k] = math.NaN()
				continue
			}
			e.Metrics[k] = *v
		}
	}
	return nil
}

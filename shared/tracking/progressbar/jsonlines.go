package progressbar

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/orrery-ml/orrery/shared/tracking"
)

// JSONLines returns a tracking.Recorder that writes each event to w as one
// line of JSON with the field names of tracking.Event, for machines (the
// CLI's --json progress on stderr). An event without a time gets the current
// time; a metric that is NaN or infinite is written as null, since JSON has no
// such numbers. Lines never interleave, whatever the concurrency.
func JSONLines(w io.Writer) tracking.Recorder {
	return &jsonLines{w: w}
}

type jsonLines struct {
	mu sync.Mutex
	w  io.Writer
}

// wireEvent is tracking.Event with nullable metrics; its Metrics field
// shadows the embedded one when encoded.
type wireEvent struct {
	tracking.Event
	Metrics map[string]*float64 `json:"metrics,omitempty"`
}

// Record writes e as one line.
func (j *jsonLines) Record(_ context.Context, e tracking.Event) error {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	if math.IsNaN(e.ETASeconds) || math.IsInf(e.ETASeconds, 0) {
		e.ETASeconds = 0
	}
	wire := wireEvent{Event: e}
	if len(e.Metrics) > 0 {
		wire.Metrics = make(map[string]*float64, len(e.Metrics))
		for name, v := range e.Metrics {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				wire.Metrics[name] = nil
				continue
			}
			wire.Metrics[name] = &v
		}
	}
	line, err := json.Marshal(wire)
	if err != nil {
		return fmt.Errorf("encode %s event of stage %s: %w", e.Kind, e.Stage, err)
	}
	line = append(line, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.w.Write(line); err != nil {
		return fmt.Errorf("write %s event of stage %s: %w", e.Kind, e.Stage, err)
	}
	return nil
}

package progressbar_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/tracking"
	"github.com/orrery-ml/orrery/shared/tracking/progressbar"
)

func TestJSONLines(t *testing.T) {
	full := tracking.Event{
		JobID: "job-1", Kind: tracking.Progress, Stage: "train", Step: 12, Total: 60, Unit: "epoch",
		Metrics: map[string]float64{"loss": 0.123, "val_auc_pr": 0.912}, ETASeconds: 96.5, Time: t0,
	}
	tests := []struct {
		name  string
		event tracking.Event
		// want is the line decoded into a generic map.
		want map[string]any
	}{
		{
			name:  "every field",
			event: full,
			want: map[string]any{"job_id": "job-1", "kind": "progress", "stage": "train", "step": 12.0, "total": 60.0,
				"unit": "epoch", "metrics": map[string]any{"loss": 0.123, "val_auc_pr": 0.912}, "eta_seconds": 96.5,
				"time": "2026-03-01T12:00:00Z"},
		},
		{
			name:  "failure",
			event: tracking.Event{Kind: tracking.StageFinished, Stage: "train", Err: "loss is NaN", Time: t0},
			want: map[string]any{"kind": "stage_finished", "stage": "train", "error": "loss is NaN",
				"time": "2026-03-01T12:00:00Z"},
		},
		{
			name: "non-finite numbers become null or go",
			event: tracking.Event{Kind: tracking.Progress, Stage: "train", Step: 3, Time: t0, ETASeconds: math.Inf(1),
				Metrics: map[string]float64{"loss": math.NaN(), "grad_norm": math.Inf(1), "lr": 0.001}},
			want: map[string]any{"kind": "progress", "stage": "train", "step": 3.0, "time": "2026-03-01T12:00:00Z",
				"metrics": map[string]any{"loss": nil, "grad_norm": nil, "lr": 0.001}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, progressbar.JSONLines(&buf).Record(t.Context(), tc.event))
			line := buf.String()
			require.True(t, strings.HasSuffix(line, "\n"), "one line ending in a newline")
			require.Equal(t, 1, strings.Count(line, "\n"))
			var got map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &got))
			assert.Equal(t, tc.want, got)
		})
	}

	t.Run("round trip", func(t *testing.T) {
		var buf bytes.Buffer
		require.NoError(t, progressbar.JSONLines(&buf).Record(t.Context(), full))
		var got tracking.Event
		require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
		assert.Equal(t, full, got)
	})

	t.Run("missing time is now", func(t *testing.T) {
		var buf bytes.Buffer
		before := time.Now().Add(-time.Second)
		require.NoError(t, progressbar.JSONLines(&buf).Record(t.Context(), tracking.Event{Kind: tracking.Log, Message: "hi"}))
		var got tracking.Event
		require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
		assert.True(t, got.Time.After(before), "time %s", got.Time)
	})

	t.Run("write error", func(t *testing.T) {
		broken := errors.New("broken pipe")
		err := progressbar.JSONLines(failingWriter{broken}).Record(t.Context(), full)
		require.ErrorIs(t, err, broken)
		assert.Contains(t, err.Error(), "train")
	})
}

func TestJSONLinesConcurrent(t *testing.T) {
	const (
		writers = 16
		events  = 50
	)
	var buf bytes.Buffer
	rec := progressbar.JSONLines(&buf)
	var wg sync.WaitGroup
	errs := make(chan error, writers*events)
	for w := range writers {
		wg.Go(func() {
			for i := range events {
				errs <- rec.Record(t.Context(), tracking.Event{JobID: fmt.Sprintf("trial-%d", w), Kind: tracking.Progress,
					Stage: "train", Step: i + 1, Total: events, Metrics: map[string]float64{"loss": 1 / float64(i+1)},
					Message: strings.Repeat("x", 200)})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	seen := map[string]int{}
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var e tracking.Event
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), "line %q", sc.Text())
		seen[e.JobID]++
	}
	require.NoError(t, sc.Err())
	require.Len(t, seen, writers)
	for job, n := range seen {
		assert.Equal(t, events, n, job)
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

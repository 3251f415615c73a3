package progressbar_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/tracking"
	"github.com/orrery-ml/orrery/shared/tracking/progressbar"
)

var t0 = time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)

func started(stage string, total int, unit string) tracking.Event {
	return tracking.Event{Kind: tracking.StageStarted, Stage: stage, Total: total, Unit: unit}
}

func step(stage string, n, total int, metrics map[string]float64) tracking.Event {
	return tracking.Event{Kind: tracking.Progress, Stage: stage, Step: n, Total: total, Metrics: metrics}
}

func finished(stage string, err string) tracking.Event {
	return tracking.Event{Kind: tracking.StageFinished, Stage: stage, Err: err}
}

func logged(stage, msg, err string) tracking.Event {
	return tracking.Event{Kind: tracking.Log, Stage: stage, Message: msg, Err: err}
}

// epochs returns n progress events of stage "train" with falling loss.
func epochs(n, total int) []tracking.Event {
	events := make([]tracking.Event, 0, n)
	for i := 1; i <= n; i++ {
		events = append(events, step("train", i, total, map[string]float64{
			"loss":       0.5 / float64(i),
			"val_auc_pr": 0.9 + 0.002*float64(i),
		}))
	}
	return events
}

// join concatenates event lists.
func join(lists ...[]tracking.Event) []tracking.Event {
	var all []tracking.Event
	for _, l := range lists {
		all = append(all, l...)
	}
	return all
}

func TestBars(t *testing.T) {
	tests := []struct {
		name     string
		opts     progressbar.Options
		events   []tracking.Event
		contains []string
		// order lists substrings that must appear in this order.
		order  []string
		absent []string
	}{
		{
			name: "training run",
			events: join(
				[]tracking.Event{started("validate", 0, ""), finished("validate", ""), started("train", 5, "epoch")},
				epochs(5, 5),
				[]tracking.Event{finished("train", ""), started("evaluate", 0, ""),
					{Kind: tracking.StageFinished, Stage: "evaluate", Metrics: map[string]float64{"auc_pr": 0.912}}},
			),
			contains: []string{"train", "epoch 1/5", "epoch 5/5", "loss 0.5 val_auc_pr 0.902", "loss 0.1 val_auc_pr 0.91",
				"20 %", "ETA", "done in", "auc_pr 0.912"},
			order:  []string{"✓ validate (", "epoch 1/5", "epoch 2/5", "epoch 5/5", "done in", "✓ evaluate ("},
			absent: []string{"\x1b[", "failed", "✗"},
		},
		{
			name:     "early stop shows the epoch reached",
			events:   join([]tracking.Event{started("train", 60, "epoch")}, epochs(3, 60), []tracking.Event{finished("train", "")}),
			contains: []string{"epoch 3/60", "done in"},
			absent:   []string{"epoch 60/60", "failed"},
		},
		{
			name: "failed stage with a bar",
			events: join([]tracking.Event{started("train", 10, "epoch")}, epochs(2, 10),
				[]tracking.Event{finished("train", "loss is NaN")}),
			contains: []string{"epoch 2/10", "failed after", "error: loss is NaN"},
			absent:   []string{"done in"},
		},
		{
			name:     "failed stage without steps",
			events:   []tracking.Event{started("validate", 0, ""), finished("validate", "missing column class")},
			contains: []string{"✗ validate (", "): missing column class"},
			absent:   []string{"✓"},
		},
		{
			name: "log lines above and between bars",
			events: join([]tracking.Event{logged("", "using 2 CPU threads", ""), started("train", 4, "epoch")}, epochs(2, 4),
				[]tracking.Event{logged("train", "spot reclaim, retrying", "instance terminated")}, epochs(4, 4)[2:],
				[]tracking.Event{finished("train", ""), logged("", "model registered", "")}),
			order: []string{"using 2 CPU threads", "epoch 2/4", "train: spot reclaim, retrying: instance terminated",
				"epoch 3/4", "done in", "model registered"},
		},
		{
			name: "quiet keeps logs and failures only",
			opts: progressbar.Options{Quiet: true},
			events: join([]tracking.Event{started("validate", 0, ""), finished("validate", ""), started("train", 3, "epoch")},
				epochs(3, 3), []tracking.Event{finished("train", ""), logged("", "model registered", ""),
					started("evaluate", 5, "fold"), finished("evaluate", "fold 2: one class only")}),
			contains: []string{"model registered", "✗ evaluate (", "fold 2: one class only"},
			absent:   []string{"epoch", "✓", "[", "validate"},
		},
		{
			name:     "progress without a start opens the bar",
			events:   []tracking.Event{step("trials", 1, 4, nil), step("trials", 2, 4, nil), finished("trials", "")},
			contains: []string{"trials", "step 2/4", "done in"},
		},
		{
			name: "restarted stage gets a new bar",
			events: join([]tracking.Event{started("train", 5, "epoch")}, epochs(2, 5),
				[]tracking.Event{started("train", 5, "epoch")}, epochs(5, 5), []tracking.Event{finished("train", "")}),
			order: []string{"epoch 2/5", "restarted", "epoch 1/5", "epoch 5/5", "done in"},
		},
		{
			name: "event times give durations",
			events: []tracking.Event{
				{Kind: tracking.StageStarted, Stage: "preprocess", Time: t0},
				{Kind: tracking.StageFinished, Stage: "preprocess", Time: t0.Add(1500 * time.Millisecond)},
				{Kind: tracking.StageStarted, Stage: "register", Time: t0},
				{Kind: tracking.StageFinished, Stage: "register", Time: t0.Add(3*time.Minute + 12*time.Second)},
			},
			contains: []string{"✓ preprocess (1.5s)", "✓ register (3m12s)"},
		},
		{
			name:     "unfinished stage at close",
			events:   join([]tracking.Event{started("train", 10, "epoch")}, epochs(4, 10)),
			contains: []string{"epoch 4/10", "failed after", "interrupted"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			bars := progressbar.New(&buf, tc.opts)
			for _, e := range tc.events {
				require.NoError(t, bars.Record(t.Context(), e), "record %s %s", e.Kind, e.Stage)
			}
			require.NoError(t, bars.Close())
			out := buf.String()

			for _, s := range tc.contains {
				assert.Contains(t, out, s)
			}
			for _, s := range tc.absent {
				assert.NotContains(t, out, s)
			}
			at := -1
			for _, s := range tc.order {
				i := strings.Index(out[max(at, 0):], s)
				if !assert.GreaterOrEqual(t, i, 0, "%q after position %d", s, at) {
					break
				}
				at = max(at, 0) + i
			}
			for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				assert.LessOrEqual(t, utf8.RuneCountInString(line), 100, "line %q", line)
				assert.Equal(t, strings.TrimRight(line, " "), line, "no trailing blanks")
			}
			if t.Failed() {
				t.Logf("output:\n%s", out)
			}
		})
	}
}

func TestBarsConcurrent(t *testing.T) {
	const (
		jobs  = 8
		total = 10
	)
	var buf bytes.Buffer
	bars := progressbar.New(&buf, progressbar.Options{})
	// The first job seen is shown by stage name alone; name it up front so
	// that every trial below is labelled with its job id.
	require.NoError(t, bars.Record(t.Context(), tracking.Event{Kind: tracking.Log, JobID: "study-1", Message: "study started"}))

	errs := make(chan error, jobs*(total+3))
	var wg sync.WaitGroup
	for j := range jobs {
		wg.Go(func() {
			job := fmt.Sprintf("trial-%d", j)
			events := []tracking.Event{{Kind: tracking.StageStarted, JobID: job, Stage: "train", Total: total, Unit: "epoch"}}
			for i := 1; i <= total; i++ {
				events = append(events, tracking.Event{Kind: tracking.Progress, JobID: job, Stage: "train", Step: i, Total: total,
					Metrics: map[string]float64{"loss": float64(j) + 1/float64(i)}})
			}
			events = append(events, tracking.Event{Kind: tracking.StageFinished, JobID: job, Stage: "train"})
			for _, e := range events {
				errs <- bars.Record(t.Context(), e)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, bars.Close())

	out := buf.String()
	for j := range jobs {
		assert.Contains(t, out, fmt.Sprintf("train trial-%d", j))
	}
	assert.Equal(t, jobs, strings.Count(out, "done in"), "each finished bar is printed once as done:\n%s", out)
	assert.Equal(t, jobs, strings.Count(out, fmt.Sprintf("epoch %d/%d", total, total)), "final state of each bar:\n%s", out)
}

func TestBarsRecordErrors(t *testing.T) {
	var buf bytes.Buffer
	bars := progressbar.New(&buf, progressbar.Options{})
	tests := []struct {
		name  string
		event tracking.Event
		close bool
		want  error
	}{
		{"unknown kind", tracking.Event{Kind: "heartbeat", Stage: "train"}, false, progressbar.ErrUnknownKind},
		{"after close", started("train", 3, "epoch"), true, progressbar.ErrClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.close {
				require.NoError(t, bars.Close())
				require.NoError(t, bars.Close(), "a second Close does nothing")
			}
			require.ErrorIs(t, bars.Record(t.Context(), tc.event), tc.want)
		})
	}
	assert.Empty(t, buf.String())
}

// TestBarsCharDevice takes the terminal path (a character device), where mpb
// draws on its own; /dev/null is one that is not a terminal, on which mpb
// draws nothing, and Close must still return.
func TestBarsCharDevice(t *testing.T) {
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no %s: %v", os.DevNull, err)
	}
	defer func() { require.NoError(t, devNull.Close()) }()

	done := make(chan error, 1)
	go func() {
		bars := progressbar.New(devNull, progressbar.Options{})
		for _, e := range join([]tracking.Event{logged("", "hello", ""), started("train", 3, "epoch")}, epochs(2, 3),
			[]tracking.Event{logged("train", "midway", ""), finished("train", ""), started("evaluate", 4, "fold"),
				step("evaluate", 1, 4, nil)}) {
			if err := bars.Record(t.Context(), e); err != nil {
				done <- err
				return
			}
		}
		done <- bars.Close()
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
}

package asl_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

// journal collects an execution's history as Record receives it.
type journal struct {
	mu     sync.Mutex
	events []asl.Event
}

func (j *journal) record(_ context.Context, e asl.Event) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, e)
	return nil
}

func (j *journal) history() []asl.Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]asl.Event(nil), j.events...)
}

func (j *journal) types() []asl.EventType {
	var ts []asl.EventType
	for _, e := range j.history() {
		ts = append(ts, e.Type)
	}
	return ts
}

// calls counts handler invocations by resource.
type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *calls) inc(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[name]++
}

func (c *calls) get(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[name]
}

const pipelineDef = `{
  "StartAt": "First",
  "States": {
    "First":  {"Type": "Task", "Resource": "first", "ResultPath": "$.first", "Next": "Second"},
    "Second": {"Type": "Task", "Resource": "second", "ResultPath": "$.second", "Next": "Done"},
    "Done":   {"Type": "Succeed"}
  }
}`

func TestResumeSkipsStatesThatEnded(t *testing.T) {
	def := parse(t, pipelineDef)
	var c calls
	block := make(chan struct{})
	entered := make(chan struct{}, 1)
	handlers := func(interrupt bool) map[string]asl.Handler {
		return map[string]asl.Handler{
			"first": func(context.Context, json.RawMessage) (json.RawMessage, error) {
				c.inc("first")
				return json.RawMessage(`"one"`), nil
			},
			"second": func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
				c.inc("second")
				if interrupt {
					entered <- struct{}{}
					select {
					case <-ctx.Done():
						return nil, ctx.Err()
					case <-block:
					}
				}
				return json.RawMessage(`"two"`), nil
			},
		}
	}
	var j journal
	ctx, cancel := context.WithCancel(t.Context())
	x := asl.Executor{Resources: handlers(true)}
	go func() { <-entered; cancel() }()
	_, err := x.Execute(ctx, def, asl.Execution{Name: "e1", Input: json.RawMessage(`{"n":1}`), Record: j.record})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, []asl.EventType{asl.ExecutionStarted, asl.StateEntered, asl.StateExited, asl.StateEntered}, j.types(),
		"the interrupted state has entered but no exit")

	var resumed journal
	x = asl.Executor{Resources: handlers(false)}
	out, err := x.Execute(t.Context(), def, asl.Execution{Name: "e1", Input: json.RawMessage(`{"n":1}`), History: j.history(), Record: resumed.record})
	require.NoError(t, err)
	assert.JSONEq(t, `{"n":1,"first":"one","second":"two"}`, string(out))
	assert.Equal(t, 1, c.get("first"), "a state that ended is not run again")
	assert.Equal(t, 2, c.get("second"), "the interrupted state runs again")
	assert.Equal(t, []asl.EventType{asl.ExecutionResumed, asl.StateEntered, asl.StateExited, asl.StateEntered, asl.StateExited,
		asl.ExecutionSucceeded}, resumed.types())
	assert.Equal(t, "Second#1", resumed.history()[1].Path)
}

func TestResumeRunsOnlyTheMapIterationsThatDidNotEnd(t *testing.T) {
	def := parse(t, `{
	  "StartAt": "Each",
	  "States": {
	    "Each": {"Type": "Map", "ItemsPath": "$.xs", "MaxConcurrency": 1,
	      "ItemProcessor": {"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": "work", "End": true}}},
	      "End": true}
	  }
	}`)
	var c calls
	var mu sync.Mutex
	seen := map[string]int{}
	work := func(failOn string) asl.Handler {
		return func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			c.inc("work")
			mu.Lock()
			seen[string(in)]++
			mu.Unlock()
			if string(in) == failOn {
				return nil, context.Canceled
			}
			return json.RawMessage(`{"done":` + string(in) + `}`), nil
		}
	}
	input := json.RawMessage(`{"xs":[1,2,3,4]}`)
	var j journal
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	x := asl.Executor{Resources: map[string]asl.Handler{"work": func(ctx2 context.Context, in json.RawMessage) (json.RawMessage, error) {
		if string(in) == "3" {
			cancel()
			<-ctx2.Done()
			return nil, ctx2.Err()
		}
		return work("")(ctx2, in)
	}}}
	_, err := x.Execute(ctx, def, asl.Execution{Name: "m", Input: input, Record: j.record})
	require.ErrorIs(t, err, context.Canceled)

	x = asl.Executor{Resources: map[string]asl.Handler{"work": work("")}}
	out, err := x.Execute(t.Context(), def, asl.Execution{Name: "m", Input: input, History: j.history()})
	require.NoError(t, err)
	assert.JSONEq(t, `[{"done":1},{"done":2},{"done":3},{"done":4}]`, string(out))
	assert.Equal(t, map[string]int{"1": 1, "2": 1, "3": 1, "4": 1}, seen, "items 1 and 2 ended before the interruption and are not run again")
}

func TestResumeFollowsLoopsByVisit(t *testing.T) {
	// Count to 3 through a Choice back-edge; the interruption comes on the
	// second visit of Step, which the resumed run must not confuse with the
	// first.
	def := parse(t, `{
	  "StartAt": "Step",
	  "States": {
	    "Step": {"Type": "Task", "Resource": "step", "Next": "More"},
	    "More": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": 3, "Next": "Step"}], "Default": "End"},
	    "End": {"Type": "Succeed"}
	  }
	}`)
	var c calls
	step := func(interruptAt float64, cancel context.CancelFunc) asl.Handler {
		return func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			var v struct{ N float64 }
			require.NoError(t, json.Unmarshal(in, &v))
			if v.N == interruptAt {
				cancel()
				return nil, context.Canceled
			}
			c.inc("step")
			b, _ := json.Marshal(map[string]float64{"n": v.N + 1})
			return b, nil
		}
	}
	var j journal
	ctx, cancel := context.WithCancel(t.Context())
	x := asl.Executor{Resources: map[string]asl.Handler{"step": step(1, cancel)}}
	_, err := x.Execute(ctx, def, asl.Execution{Input: json.RawMessage(`{"n":0}`), Record: j.record})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 1, c.get("step"))

	x = asl.Executor{Resources: map[string]asl.Handler{"step": step(-1, func() {})}}
	out, err := x.Execute(t.Context(), def, asl.Execution{Input: json.RawMessage(`{"n":0}`), History: j.history()})
	require.NoError(t, err)
	assert.JSONEq(t, `{"n":3}`, string(out))
	assert.Equal(t, 3, c.get("step"), "each count is computed once")
}

func TestHistoryRecordsRetriesAndTheEnd(t *testing.T) {
	def := parse(t, `{
	  "StartAt": "T",
	  "States": {"T": {"Type": "Task", "Resource": "flaky", "End": true,
	    "Retry": [{"ErrorEquals": ["Transient"], "MaxAttempts": 2, "IntervalSeconds": 1}]}}
	}`)
	n := 0
	x := asl.Executor{Resources: map[string]asl.Handler{"flaky": func(context.Context, json.RawMessage) (json.RawMessage, error) {
		n++
		return nil, &asl.Error{Name: "Transient", Cause: "again"}
	}}, Sleep: func(context.Context, time.Duration) error { return nil }}
	var j journal
	_, err := x.Execute(t.Context(), def, asl.Execution{Record: j.record})
	var e *asl.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 3, n)
	assert.Equal(t, []asl.EventType{asl.ExecutionStarted, asl.StateEntered, asl.TaskRetried, asl.TaskRetried, asl.StateFailed,
		asl.ExecutionFailed}, j.types())
	h := j.history()
	assert.Equal(t, 2, h[3].Retry)
	assert.Equal(t, "Transient", h[5].Error)

	_, err = x.Execute(t.Context(), def, asl.Execution{History: h})
	require.ErrorContains(t, err, "already ended", "an ended execution cannot be resumed")
	_, err = x.Execute(t.Context(), def, asl.Execution{History: h[1:]})
	require.ErrorContains(t, err, "not ExecutionStarted")
}

func TestARecordErrorStopsTheExecution(t *testing.T) {
	def := parse(t, pipelineDef)
	var c calls
	x := asl.Executor{Resources: map[string]asl.Handler{
		"first": func(context.Context, json.RawMessage) (json.RawMessage, error) {
			c.inc("first")
			return json.RawMessage(`1`), nil
		},
		"second": func(context.Context, json.RawMessage) (json.RawMessage, error) {
			c.inc("second")
			return json.RawMessage(`2`), nil
		},
	}}
	full := errors.New("disk full")
	_, err := x.Execute(t.Context(), def, asl.Execution{Record: func(_ context.Context, e asl.Event) error {
		if e.Type == asl.StateExited {
			return full
		}
		return nil
	}})
	require.ErrorIs(t, err, full)
	assert.Equal(t, 1, c.get("first"))
	assert.Zero(t, c.get("second"), "nothing runs after a state whose end could not be recorded")
}

func TestResumeRestoresTheVariablesOfStatesThatEnded(t *testing.T) {
	def := parse(t, `{
	  "StartAt": "Pick",
	  "States": {
	    "Pick": {"Type": "Pass", "Assign": {"chosen.$": "$.n"}, "Next": "Use"},
	    "Use":  {"Type": "Task", "Resource": "use", "Parameters": {"chosen.$": "$chosen"}, "End": true}
	  }
	}`)
	var j journal
	ctx, cancel := context.WithCancel(t.Context())
	x := asl.Executor{Resources: map[string]asl.Handler{"use": func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		cancel()
		return nil, ctx.Err()
	}}}
	_, err := x.Execute(ctx, def, asl.Execution{Input: json.RawMessage(`{"n": 7}`), Record: j.record})
	require.ErrorIs(t, err, context.Canceled)
	h := j.history()
	require.Equal(t, asl.StateExited, h[2].Type)
	assert.JSONEq(t, `{"chosen": 7}`, string(h[2].Vars), "the variables a state assigned are in its exit")

	var got json.RawMessage
	x = asl.Executor{Resources: map[string]asl.Handler{"use": func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		got = in
		return in, nil
	}}}
	_, err = x.Execute(t.Context(), def, asl.Execution{Input: json.RawMessage(`{"n": 7}`), History: h})
	require.NoError(t, err)
	assert.JSONEq(t, `{"chosen": 7}`, string(got), "a skipped state's variables are assigned again on resume")
}

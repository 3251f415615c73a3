package asl_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/pipeline/asl"
	"github.com/orrery-ml/orrery/shared/pipeline/asl/asltest"
)

func parse(t *testing.T, s string) asl.Definition {
	t.Helper()
	d, err := asl.Parse([]byte(s))
	require.NoError(t, err)
	return d
}

func TestTaskTimeoutAndHeartbeat(t *testing.T) {
	slow := func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	cases := []struct {
		name, fields, want string
	}{
		{"timeout", `"TimeoutSeconds": 1`, asl.ErrorTimeout},
		{"heartbeat", `"TimeoutSeconds": 30, "HeartbeatSeconds": 1`, asl.ErrorHeartbeatTimeout},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if testing.Short() {
				t.Skip("waits a second")
			}
			def := parse(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"slow",`+c.fields+`,
				"Catch":[{"ErrorEquals":["States.TaskFailed"],"Next":"Wrong"},{"ErrorEquals":["`+c.want+`"],"ResultPath":"$.err","Next":"Caught"}],"End":true},
				"Wrong":{"Type":"Fail","Error":"TaskFailedMatchedATimeout"},"Caught":{"Type":"Pass","End":true}}}`)
			x := asl.Executor{Resources: map[string]asl.Handler{"slow": slow}}
			out, err := x.Execute(t.Context(), def, asl.Execution{})
			require.NoError(t, err)
			// AWS gives a timed-out task an empty cause (a caught
			// States.Timeout reads {"Error":"States.Timeout","Cause":""}
			// on AWS, as executions quoted in aws-samples/serverless-coffee-workshop#15 show).
			assert.JSONEq(t, `{"err":{"Error":"`+c.want+`","Cause":""}}`, string(out))
		})
	}
}

func TestHeartbeatsKeepATaskAlive(t *testing.T) {
	// Eight heartbeats 250 ms apart on the executor's clock: the task
	// outlives its 1 s HeartbeatSeconds by far. The clock moves only when
	// the task says so, so a loaded machine cannot make a beat late.
	clock := &asltest.Clock{}
	beating := func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		for range 8 {
			clock.Advance(250 * time.Millisecond)
			asl.Heartbeat(ctx)
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		return json.RawMessage(`{"ok":true}`), nil
	}
	def := parse(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"beat","TimeoutSeconds":10,"HeartbeatSeconds":1,"End":true}}}`)
	x := asl.Executor{Resources: map[string]asl.Handler{"beat": beating}, AfterFunc: clock.AfterFunc}
	out, err := x.Execute(t.Context(), def, asl.Execution{})
	require.NoError(t, err)
	assert.JSONEq(t, `{"ok":true}`, string(out))
}

func TestRetryBackoffAndJitter(t *testing.T) {
	var calls atomic.Int32
	flaky := func(context.Context, json.RawMessage) (json.RawMessage, error) {
		if calls.Add(1) <= 3 {
			return nil, &asl.Error{Name: "Transient", Cause: "try again"}
		}
		return json.RawMessage(`"done"`), nil
	}
	for _, jitter := range []string{"NONE", "FULL"} {
		t.Run(jitter, func(t *testing.T) {
			calls.Store(0)
			var mu sync.Mutex
			var waits []time.Duration
			def := parse(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"flaky","End":true,
				"Retry":[{"ErrorEquals":["Other"],"MaxAttempts":9},{"ErrorEquals":["States.TaskFailed"],"IntervalSeconds":2,"BackoffRate":3,"MaxDelaySeconds":10,"MaxAttempts":3,"JitterStrategy":"`+jitter+`"}]}}}`)
			x := asl.Executor{Resources: map[string]asl.Handler{"flaky": flaky}, Sleep: func(_ context.Context, d time.Duration) error {
				mu.Lock()
				waits = append(waits, d)
				mu.Unlock()
				return nil
			}}
			out, err := x.Execute(t.Context(), def, asl.Execution{})
			require.NoError(t, err)
			assert.Equal(t, `"done"`, string(out))
			require.Len(t, waits, 3)
			ceilings := []time.Duration{2 * time.Second, 6 * time.Second, 10 * time.Second} // 2·3^n capped at 10
			for i, w := range waits {
				if jitter == "NONE" {
					assert.Equal(t, ceilings[i], w)
				} else {
					assert.LessOrEqual(t, w, ceilings[i])
					assert.GreaterOrEqual(t, w, time.Duration(0))
				}
			}
		})
	}
	t.Run("exhausted", func(t *testing.T) {
		calls.Store(-10)
		def := parse(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"flaky","End":true,
			"Retry":[{"ErrorEquals":["Transient"],"MaxAttempts":2}]}}}`)
		x := asl.Executor{Resources: map[string]asl.Handler{"flaky": flaky}, Sleep: func(context.Context, time.Duration) error { return nil }}
		_, err := x.Execute(t.Context(), def, asl.Execution{})
		var e *asl.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, "Transient", e.Name)
		assert.Equal(t, int32(-7), calls.Load(), "one try and two retries")
	})
}

func TestPlainHandlerErrorsAreTaskFailed(t *testing.T) {
	def := parse(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"bad","End":true,
		"Catch":[{"ErrorEquals":["States.TaskFailed"],"Next":"C"}]},"C":{"Type":"Pass","End":true}}}`)
	x := asl.Executor{Resources: map[string]asl.Handler{"bad": func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return nil, errors.New("disk on fire")
	}}}
	out, err := x.Execute(t.Context(), def, asl.Execution{Input: json.RawMessage(`{"keep":1}`)})
	require.NoError(t, err)
	assert.JSONEq(t, `{"Error":"States.TaskFailed","Cause":"disk on fire"}`, string(out))
}

func TestMapHonoursMaxConcurrency(t *testing.T) {
	// The first three items wait for one another: they end only once all
	// three run at the same time, which proves the Map runs them at once
	// without depending on how fast goroutines start (a Map that ran them
	// one by one would fail at the deadline, never by chance).
	var running, peak atomic.Int32
	three := make(chan struct{})
	var once sync.Once
	h := func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if n == 3 {
			once.Do(func() { close(three) })
		}
		select {
		case <-three:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return json.RawMessage(`1`), nil
	}
	def := parse(t, `{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":3,"ItemsPath":"$.xs","End":true,
		"ItemProcessor":{"ProcessorConfig":{"Mode":"INLINE"},"StartAt":"T","States":{"T":{"Type":"Task","Resource":"h","End":true}}}}}}`)
	x := asl.Executor{Resources: map[string]asl.Handler{"h": h}}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := x.Execute(ctx, def, asl.Execution{Input: json.RawMessage(`{"xs":[1,2,3,4,5,6,7,8,9,10,11,12]}`)})
	require.NoError(t, err, "three items never ran at once")
	assert.JSONEq(t, `[1,1,1,1,1,1,1,1,1,1,1,1]`, string(out))
	assert.Equal(t, int32(3), peak.Load(), "three items at once, never more")
}

func TestParseRefusesBrokenDefinitions(t *testing.T) {
	for name, def := range map[string]string{
		"dangling next":    `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}`,
		"no exit":          `{"StartAt":"A","States":{"A":{"Type":"Pass"}}}`,
		"unknown type":     `{"StartAt":"A","States":{"A":{"Type":"Loop","End":true}}}`,
		"unknown field":    `{"StartAt":"A","States":{"A":{"Type":"Pass","End":true,"Bogus":1}}}`,
		"bad start":        `{"StartAt":"Z","States":{"A":{"Type":"Pass","End":true}}}`,
		"unknown operator": `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","NumberIs":1,"Next":"A"}]},"A":{"Type":"Succeed"}}}`,
		"jsonata":          `{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`,
		"bad jitter":       `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r","End":true,"Retry":[{"ErrorEquals":["X"],"JitterStrategy":"HALF"}]}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := asl.Parse([]byte(def))
			require.ErrorIs(t, err, asl.ErrInvalidDefinition)
		})
	}
}

func TestExecutionTimeout(t *testing.T) {
	def := parse(t, `{"TimeoutSeconds":1,"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}`)
	x := asl.Executor{}
	if testing.Short() {
		t.Skip("waits a second")
	}
	_, err := x.Execute(t.Context(), def, asl.Execution{})
	var e *asl.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, asl.ErrorTimeout, e.Name)
}

// TestChoiceComparesGoNumbers runs a Choice built in Go, whose operand is an
// int rather than a JSON number: it must compare as the same definition
// read from JSON does.
func TestChoiceComparesGoNumbers(t *testing.T) {
	def := asl.Definition{StartAt: "C", States: map[string]asl.State{
		"C": {Type: asl.TypeChoice, Choices: asl.ChoiceList{
			{And: []asl.ChoiceRule{asl.Compare("$.wait", "NumericGreaterThan", 0), asl.Compare("$.go", "BooleanEquals", true)}, Next: "Wait"},
		}, Default: "Go"},
		"Wait": {Type: asl.TypePass, Result: json.RawMessage(`"waited"`), End: true},
		"Go":   {Type: asl.TypePass, Result: json.RawMessage(`"went"`), End: true},
	}}
	x := asl.Executor{}
	out, err := x.Execute(t.Context(), def, asl.Execution{Input: json.RawMessage(`{"wait": 30, "go": true}`)})
	require.NoError(t, err)
	assert.JSONEq(t, `"waited"`, string(out))
}

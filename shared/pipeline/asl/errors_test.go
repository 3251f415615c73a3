package asl_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

// TestRuntimeErrorsFailTheExecution follows the error-handling chapter of
// the Step Functions guide: a States.Runtime error "isn't retriable, and
// will always cause the execution to fail. A retry or catch on States.ALL
// won't catch States.Runtime errors." A failure to apply ResultSelector,
// ResultPath or OutputPath is such an error (not
// States.ResultPathMatchFailure, which the specification names but AWS
// does not raise), and so is a failing Assign; the state's own Catchers do
// not see them, even one that names States.Runtime. moto agrees on the
// ResultSelector, ResultPath and OutputPath cases (all States.Runtime,
// uncaught).
func TestRuntimeErrorsFailTheExecution(t *testing.T) {
	catchers := `"Retry":[{"ErrorEquals":["States.ALL","States.Runtime"],"MaxAttempts":3}],
		"Catch":[{"ErrorEquals":["States.Runtime"],"Next":"Caught"},{"ErrorEquals":["States.ALL"],"Next":"Caught"}]`
	calls := 0
	h := map[string]asl.Handler{"r": func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		calls++
		return in, nil
	}}
	cases := []struct {
		name, fields, cause string
	}{
		{"ResultSelector", `"ResultSelector":{"x.$":"$.nope"}`, "$.nope"},
		{"ResultPath", `"ResultPath":"$.a.b"`, "Unable to apply ResultPath $.a.b"},
		{"OutputPath", `"OutputPath":"$.nope"`, "Invalid path '$.nope'"},
		{"Assign", `"Assign":{"x.$":"$.nope"}`, "$.nope"},
		{"Parameters", `"Parameters":{"x.$":"$.nope"}`, "$.nope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls = 0
			def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r",` + c.fields + `,` + catchers + `,"End":true},
				"Caught":{"Type":"Pass","Result":"caught","End":true}}}`
			out, err := execute(t, def, `{"a":"str"}`, h)
			e := stateError(t, err)
			assert.Equal(t, asl.ErrorRuntime, e.Name, "output %s", out)
			assert.Contains(t, e.Cause, c.cause)
			assert.LessOrEqual(t, calls, 1, "the task ran at most once")
		})
	}
}

// TestCatcherResultPathFailure: a Catcher takes the error, and its
// ResultPath cannot be applied to the state's input: States.Runtime, the
// execution fails.
func TestCatcherResultPathFailure(t *testing.T) {
	h := map[string]asl.Handler{"r": func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return nil, &asl.Error{Name: "Handler.Failed", Cause: "on purpose"}
	}}
	out, err := execute(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r",
		"Catch":[{"ErrorEquals":["Handler.Failed"],"ResultPath":"$.a.b","Next":"C"}],"End":true},"C":{"Type":"Succeed"}}}`, `{"a":"str"}`, h)
	e := stateError(t, err)
	assert.Equal(t, asl.ErrorRuntime, e.Name, "output %s", out)
	assert.Contains(t, e.Cause, "Unable to apply ResultPath $.a.b")
}

// TestParametersFailureIsNotCaught: a States.Runtime raised by the work (a
// Parameters path that selects nothing) is neither retried nor caught, even
// by Retriers and Catchers naming States.Runtime.
func TestParametersFailureIsNotCaught(t *testing.T) {
	def, err := asl.Parse([]byte(`{"StartAt":"L","States":{"L":{"Type":"Parallel","Parameters":{"x.$":"$.nope"},
		"Branches":[{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}}],
		"Retry":[{"ErrorEquals":["States.Runtime","States.ALL"],"MaxAttempts":3}],
		"Catch":[{"ErrorEquals":["States.Runtime","States.ALL"],"Next":"C"}],"End":true},"C":{"Type":"Succeed"}}}`))
	require.NoError(t, err)
	backoffs := 0
	x := asl.Executor{Sleep: func(context.Context, time.Duration) error { backoffs++; return nil }}
	out, err := x.Execute(t.Context(), def, asl.Execution{})
	assert.Equal(t, asl.ErrorRuntime, stateError(t, err).Name, "output %s", out)
	assert.Zero(t, backoffs, "not retried")
}

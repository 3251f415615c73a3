package asl_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

// TestContextObjectAsOnAWS follows "Accessing execution data from the
// Context object" in the Step Functions guide: State has Name, EnteredTime
// and, in Task states only, RetryCount; Execution has RedriveCount (0 for an
// execution never redriven) and no RedriveTime until one is.
func TestContextObjectAsOnAWS(t *testing.T) {
	t.Run("no RetryCount outside Task states", func(t *testing.T) {
		// moto agrees: $$.State of a Pass state is {EnteredTime, Name}.
		for _, def := range []string{
			`{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"s.$":"$$.State"},"End":true}}}`,
			`{"StartAt":"L","States":{"L":{"Type":"Parallel","Parameters":{"s.$":"$$.State"},"Branches":[{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}}],
				"Retry":[{"ErrorEquals":["X"]}],"OutputPath":"$[0]","End":true}}}`,
			`{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.xs","ItemSelector":{"s.$":"$$.State"},"ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},
				"OutputPath":"$[0]","End":true}}}`,
		} {
			out, err := execute(t, def, `{"xs":[1]}`, nil)
			require.NoError(t, err)
			var got struct{ S map[string]any }
			require.NoError(t, json.Unmarshal(out, &got))
			assert.Contains(t, got.S, "Name")
			assert.Contains(t, got.S, "EnteredTime")
			assert.NotContains(t, got.S, "RetryCount", def)
		}
	})
	t.Run("RetryCount counts a Task's retries", func(t *testing.T) {
		var calls atomic.Int32
		var seen []float64
		h := map[string]asl.Handler{"r": func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			var p struct{ RC float64 }
			require.NoError(t, json.Unmarshal(in, &p))
			seen = append(seen, p.RC)
			if calls.Add(1) < 3 {
				return nil, &asl.Error{Name: "Again"}
			}
			return json.RawMessage(`"done"`), nil
		}}
		_, err := execute(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r","Parameters":{"RC.$":"$$.State.RetryCount"},
			"Retry":[{"ErrorEquals":["Again"],"MaxAttempts":5}],"End":true}}}`, `{}`, h)
		require.NoError(t, err)
		assert.Equal(t, []float64{0, 1, 2}, seen)
	})
	t.Run("RedriveCount", func(t *testing.T) {
		// moto 5.2.5 has no $$.Execution.RedriveCount: this path is
		// States.Runtime there.
		out, err := execute(t, `{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"r.$":"$$.Execution.RedriveCount","e.$":"$$.Execution"},"End":true}}}`, `{}`, nil)
		require.NoError(t, err)
		var got struct {
			R float64
			E map[string]any
		}
		require.NoError(t, json.Unmarshal(out, &got))
		assert.Zero(t, got.R)
		assert.NotContains(t, got.E, "RedriveTime")
		for _, k := range []string{"Id", "Input", "Name", "RoleArn", "StartTime", "RedriveCount"} {
			assert.Contains(t, got.E, k)
		}
	})
}

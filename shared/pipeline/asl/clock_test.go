package asl_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/pipeline/asl"
	"github.com/orrery-ml/orrery/shared/pipeline/asl/asltest"
)

// TestTaskTimersRunOnTheExecutorsClock: TimeoutSeconds and HeartbeatSeconds
// run out when the executor's clock says so, not on the wall clock; a
// heartbeat restarts the heartbeat timer.
func TestTaskTimersRunOnTheExecutorsClock(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields string
		// steps: a positive duration advances the clock, zero heartbeats.
		steps []time.Duration
		want  string
	}{
		{"heartbeat runs out", `"TimeoutSeconds": 3600, "HeartbeatSeconds": 60`, []time.Duration{61 * time.Second}, asl.ErrorHeartbeatTimeout},
		{"heartbeats keep it alive", `"TimeoutSeconds": 3600, "HeartbeatSeconds": 60`,
			[]time.Duration{50 * time.Second, 0, 50 * time.Second, 0, 50 * time.Second}, ""},
		{"a beat too late", `"TimeoutSeconds": 3600, "HeartbeatSeconds": 60`, []time.Duration{50 * time.Second, 0, 70 * time.Second, 0}, asl.ErrorHeartbeatTimeout},
		{"timeout runs out", `"TimeoutSeconds": 600`, []time.Duration{601 * time.Second}, asl.ErrorTimeout},
		{"no timer without either", ``, []time.Duration{30 * 24 * time.Hour}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &asltest.Clock{}
			handler := func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
				for _, d := range tc.steps {
					if d == 0 {
						asl.Heartbeat(ctx)
					} else {
						clock.Advance(d)
					}
					if err := ctx.Err(); err != nil {
						return nil, err
					}
				}
				return json.RawMessage(`{"done":true}`), nil
			}
			fields := tc.fields
			if fields != "" {
				fields += ","
			}
			def := parse(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"job",`+fields+`"End":true}}}`)
			x := asl.Executor{Resources: map[string]asl.Handler{"job": handler}, AfterFunc: clock.AfterFunc}
			out, err := x.Execute(t.Context(), def, asl.Execution{})
			if tc.want == "" {
				require.NoError(t, err)
				assert.JSONEq(t, `{"done":true}`, string(out))
				return
			}
			var e *asl.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.want, e.Name)
		})
	}
}

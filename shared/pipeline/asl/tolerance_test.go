package asl_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

// TestMapRunFailureThreshold follows "Distributed Map failure threshold" in
// the Step Functions guide: the Map fails with
// States.ExceedToleratedFailureThreshold only when the failed items exceed
// ToleratedFailureCount, or their share exceeds ToleratedFailurePercentage;
// without a threshold a Map Run tolerates no failure. Within the threshold
// it succeeds, null in the place of a failed item (a failed child execution
// has no output).
//
// moto 5.2.5 differs: it records the thresholds but never fails a Map Run
// on them (map_tolerated_exceeded and a Distributed Map without a threshold
// both succeed there, with null for the failed items), so these cases are
// not in the moto conformance corpus.
func TestMapRunFailureThreshold(t *testing.T) {
	cases := []struct {
		name, fields, input, want string
	}{
		{"one failure tolerated", `,"ToleratedFailureCount":1,"Label":"items"`, `{"xs":[1,2,3,4]}`, `[1,null,3,4]`},
		{"exactly at the count", `,"ToleratedFailureCount":2`, `{"xs":[2,2,3]}`, `[null,null,3]`},
		{"past the count", `,"ToleratedFailureCount":1`, `{"xs":[1,2,3,2]}`, "error"},
		{"zero tolerates none", `,"ToleratedFailureCount":0`, `{"xs":[1,2]}`, "error"},
		{"no threshold tolerates none", ``, `{"xs":[1,2]}`, "error"},
		{"no failure, no threshold", ``, `{"xs":[1,3]}`, `[1,3]`},
		{"at the percentage", `,"ToleratedFailurePercentage":25`, `{"xs":[1,2,3,4]}`, `[1,null,3,4]`},
		{"past the percentage", `,"ToleratedFailurePercentage":24.9`, `{"xs":[1,2,3,4]}`, "error"},
		{"percentage from the input", `,"ToleratedFailurePercentagePath":"$.p"`, `{"xs":[1,2,3,4],"p":50}`, `[1,null,3,4]`},
		{"count from the input", `,"ToleratedFailureCountPath":"$.n"`, `{"xs":[2,2,2],"n":2}`, "error"},
		// With both, the Map fails when either is exceeded.
		{"count passed, percentage not", `,"ToleratedFailureCount":0,"ToleratedFailurePercentage":50`, `{"xs":[1,2,3,4]}`, "error"},
		{"percentage passed, count not", `,"ToleratedFailureCount":3,"ToleratedFailurePercentage":10`, `{"xs":[1,2,3,4]}`, "error"},
		{"neither passed", `,"ToleratedFailureCount":1,"ToleratedFailurePercentage":25`, `{"xs":[1,2,3,4]}`, `[1,null,3,4]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := execute(t, distributedMap(c.fields), c.input, nil)
			if c.want == "error" {
				assert.Equal(t, asl.ErrorExceedToleratedFailureThreshold, stateError(t, err).Name, "output %s", out)
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, c.want, string(out))
		})
	}
	t.Run("a bad threshold path is States.Runtime", func(t *testing.T) {
		for _, input := range []string{`{"xs":[1],"n":-1}`, `{"xs":[1],"n":1.5}`, `{"xs":[1],"n":"1"}`, `{"xs":[1]}`} {
			_, err := execute(t, distributedMap(`,"ToleratedFailureCountPath":"$.n"`), input, nil)
			assert.Equal(t, asl.ErrorRuntime, stateError(t, err).Name, input)
		}
		_, err := execute(t, distributedMap(`,"ToleratedFailurePercentagePath":"$.p"`), `{"xs":[1],"p":101}`, nil)
		assert.Equal(t, asl.ErrorRuntime, stateError(t, err).Name)
	})
	t.Run("a caught threshold error", func(t *testing.T) {
		def := `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.xs","ToleratedFailureCount":0,
			"ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED"},"StartAt":"F","States":{"F":{"Type":"Fail","Error":"Bad"}}},
			"Catch":[{"ErrorEquals":["States.ExceedToleratedFailureThreshold"],"ResultPath":"$.err","Next":"Z"}],"End":true},
			"Z":{"Type":"Pass","OutputPath":"$.err.Error","End":true}}}`
		out, err := execute(t, def, `{"xs":[1]}`, nil)
		require.NoError(t, err)
		assert.JSONEq(t, `"States.ExceedToleratedFailureThreshold"`, string(out))
	})
}

// TestMapRunStopsPastTheThreshold: once the threshold is exceeded the items
// not yet started do not run.
func TestMapRunStopsPastTheThreshold(t *testing.T) {
	var ran atomic.Int32
	h := func(context.Context, json.RawMessage) (json.RawMessage, error) {
		ran.Add(1)
		return nil, &asl.Error{Name: "Bad"}
	}
	def := `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.xs","MaxConcurrency":1,"ToleratedFailureCount":1,
		"ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED"},"StartAt":"T","States":{"T":{"Type":"Task","Resource":"h","End":true}}},"End":true}}}`
	d, err := asl.Parse([]byte(def))
	require.NoError(t, err)
	x := asl.Executor{Resources: map[string]asl.Handler{"h": h}, Sleep: func(context.Context, time.Duration) error { return nil }}
	_, err = x.Execute(t.Context(), d, asl.Execution{Input: json.RawMessage(`{"xs":[1,2,3,4,5,6]}`)})
	assert.Equal(t, asl.ErrorExceedToleratedFailureThreshold, stateError(t, err).Name)
	assert.Equal(t, int32(2), ran.Load(), "one at a time: the second failure ends the Map Run")
}

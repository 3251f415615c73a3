package asl_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

// payloadOf returns the JSON object {"s": "..."} that is exactly n bytes of
// UTF-8 long, its string made of unit (1 or more bytes) repeated.
func payloadOf(n int, unit string) string {
	const frame = len(`{"s":""}`)
	body := strings.Repeat(unit, (n-frame)/len(unit))
	body += strings.Repeat("x", n-frame-len(body))
	return `{"s":"` + body + `"}`
}

// TestPayloadQuota follows the "Step Functions service quotas" page: the
// input or output of a state, the input and result of a task and the input
// of an execution may be at most 256 KiB of UTF-8 encoded JSON; past it a
// state fails with States.DataLimitExceeded, which a Retrier or Catcher
// naming it matches and States.ALL does not ("The States.ALL error type
// can't catch the States.DataLimitExceeded terminal error type"). moto
// enforces no payload quota.
func TestPayloadQuota(t *testing.T) {
	big := payloadOf(asl.MaxPayloadBytes+1, "x")
	returning := func(body string) map[string]asl.Handler {
		return map[string]asl.Handler{"r": func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(body), nil
		}}
	}
	task := func(extra string) string {
		return `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r"` + extra + `,"End":true},
			"Caught":{"Type":"Pass","Result":"caught","End":true},"Wrong":{"Type":"Pass","Result":"caught by States.ALL","End":true}}}`
	}
	cases := []struct {
		name, def, input string
		handlers         map[string]asl.Handler
		want             string // output, or "error:<name>"
	}{
		{"a result at the quota", task(``), `{}`, returning(payloadOf(asl.MaxPayloadBytes, "x")), "ok"},
		// Bytes, not characters: é is two bytes of UTF-8.
		{"a result of multi-byte characters", task(``), `{}`, returning(payloadOf(asl.MaxPayloadBytes+1, "é")), "error:States.DataLimitExceeded"},
		// "<" counts as one byte (Step Functions does not escape it as
		// \u003c).
		{"a result of characters JSON may escape", task(``), `{}`, returning(payloadOf(asl.MaxPayloadBytes, "<")), "ok"},
		{"a result past the quota", task(``), `{}`, returning(big), "error:States.DataLimitExceeded"},
		{"States.ALL does not catch it", task(`,"Catch":[{"ErrorEquals":["States.ALL"],"Next":"Wrong"}]`), `{}`, returning(big),
			"error:States.DataLimitExceeded"},
		{"a Catcher naming it does", task(`,"Catch":[{"ErrorEquals":["States.DataLimitExceeded"],"Next":"Caught"}]`), `{}`, returning(big), `"caught"`},
		{"a task input past the quota, after Parameters",
			task(`,"Parameters":{"a.$":"$.s","b.$":"$.s"},"Catch":[{"ErrorEquals":["States.DataLimitExceeded"],"Next":"Caught"}]`),
			payloadOf(asl.MaxPayloadBytes/2+16, "x"), returning(`{}`), `"caught"`},
		{"a state output past the quota",
			`{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"a.$":"$.s","b.$":"$.s"},"End":true}}}`,
			payloadOf(asl.MaxPayloadBytes/2+16, "x"), nil, "error:States.DataLimitExceeded"},
		{"a task output past the quota, after ResultPath",
			task(`,"ResultPath":"$.copy","Catch":[{"ErrorEquals":["States.DataLimitExceeded"],"Next":"Caught"}]`),
			payloadOf(asl.MaxPayloadBytes/2+16, "x"), returning(payloadOf(asl.MaxPayloadBytes/2+16, "x")), `"caught"`},
		{"a map iteration input past the quota",
			`{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.xs","ItemSelector":{"a.$":"$.s","b.$":"$.s"},
				"ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","Result":1,"End":true}}},"End":true}}}`,
			`{"xs":[1],` + payloadOf(asl.MaxPayloadBytes/2+16, "x")[1:], nil, "error:States.DataLimitExceeded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := execute(t, c.def, c.input, c.handlers)
			switch name, isErr := strings.CutPrefix(c.want, "error:"); {
			case isErr:
				e := stateError(t, err)
				assert.Equal(t, name, e.Name)
				assert.Contains(t, e.Cause, "over the 262144-byte (256 KiB) limit")
			case c.want == "ok":
				require.NoError(t, err)
			default:
				require.NoError(t, err)
				assert.JSONEq(t, c.want, string(out))
			}
		})
	}
	t.Run("a retrier naming it retries it", func(t *testing.T) {
		calls := 0
		h := map[string]asl.Handler{"r": func(context.Context, json.RawMessage) (json.RawMessage, error) {
			calls++
			if calls == 1 {
				return json.RawMessage(big), nil
			}
			return json.RawMessage(`"small"`), nil
		}}
		out, err := execute(t, task(`,"Retry":[{"ErrorEquals":["States.ALL"],"MaxAttempts":5},{"ErrorEquals":["States.DataLimitExceeded"]}]`), `{}`, h)
		require.NoError(t, err)
		assert.JSONEq(t, `"small"`, string(out))
		assert.Equal(t, 2, calls)
	})
	t.Run("an execution input past the quota", func(t *testing.T) {
		_, err := execute(t, `{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`, big, nil)
		assert.Equal(t, asl.ErrorDataLimitExceeded, stateError(t, err).Name)
	})
}

// TestWaitQuota follows the Wait state page: Seconds is at most 99999999
// (Parse refuses more), and "the maximum wait time that you can specify for
// Standard Workflows ... is one year"; a longer wait is States.Runtime.
// moto waits for as long as it is told.
func TestWaitQuota(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	year := int64(asl.MaxWait / time.Second)
	cases := []struct {
		name, wait, input string
		waited            time.Duration // -1: fails
	}{
		{"a year of seconds", `"Seconds":` + strconv.FormatInt(year, 10), `{}`, asl.MaxWait},
		{"past a year of seconds", `"Seconds":` + strconv.FormatInt(year+1, 10), `{}`, -1},
		{"past a year from the input", `"SecondsPath":"$.s"`, `{"s":` + strconv.FormatInt(year+1, 10) + `}`, -1},
		{"a timestamp a year ahead", `"Timestamp":"2027-03-01T12:00:00Z"`, `{}`, asl.MaxWait},
		{"a timestamp past a year ahead", `"TimestampPath":"$.t"`, `{"t":"2027-03-01T12:00:01Z"}`, -1},
		// "Step Functions considers the time value up to seconds and
		// truncates milliseconds."
		{"milliseconds are truncated", `"Timestamp":"2026-03-01T12:00:05.999Z"`, `{}`, 5 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			def, err := asl.Parse([]byte(`{"StartAt":"W","States":{"W":{"Type":"Wait",` + c.wait + `,"End":true}}}`))
			require.NoError(t, err)
			var waited time.Duration
			x := asl.Executor{Now: func() time.Time { return now }, Sleep: func(_ context.Context, d time.Duration) error {
				waited += d
				return nil
			}}
			_, err = x.Execute(t.Context(), def, asl.Execution{Input: json.RawMessage(c.input)})
			if c.waited < 0 {
				e := stateError(t, err)
				assert.Equal(t, asl.ErrorRuntime, e.Name)
				assert.Contains(t, e.Cause, "longer than a year")
				assert.Zero(t, waited)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.waited, waited)
		})
	}
}

package asl_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

// TestConformanceGolden runs the conformance corpus on the local executor
// and compares it with moto's recorded answers (testdata/
// conformance_golden.json, written by `go test ./shared/pipeline/sfnexec
// -run Conformance -update` against a live moto), so the executor is held
// to moto's behaviour even where no emulator runs. Outputs that depend on
// the execution (names, times, UUIDs) are kept out of the corpus.
func TestConformanceGolden(t *testing.T) {
	var cases []struct {
		Name       string          `json:"name"`
		Input      json.RawMessage `json:"input"`
		Definition json.RawMessage `json:"definition"`
	}
	b, err := os.ReadFile(filepath.Join("testdata", "conformance.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &cases))
	var golden map[string]struct {
		Output json.RawMessage `json:"output"`
		Error  string          `json:"error"`
	}
	b, err = os.ReadFile(filepath.Join("testdata", "conformance_golden.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &golden))
	require.GreaterOrEqual(t, len(cases), 50)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			want, ok := golden[c.Name]
			require.True(t, ok, "no recorded answer for %s: rerun the sfnexec conformance test with -update", c.Name)
			def, err := asl.Parse(c.Definition)
			require.NoError(t, err)
			x := asl.Executor{Resources: echoResources(), Sleep: func(context.Context, time.Duration) error { return nil }}
			out, err := x.Execute(t.Context(), def, asl.Execution{Name: "golden", StateMachine: "golden", Input: c.Input})
			if want.Error != "" {
				var e *asl.Error
				require.True(t, errors.As(err, &e), "want error %s, got output %s (err %v)", want.Error, out, err)
				assert.Equal(t, want.Error, e.Name, e.Cause)
				return
			}
			require.NoError(t, err)
			var w, g any
			require.NoError(t, json.Unmarshal(want.Output, &w))
			require.NoError(t, json.Unmarshal(out, &g))
			normaliseNames(w, g)
			assert.Equal(t, w, g)
		})
	}
}

// normaliseNames copies execution-specific names (the state machine and
// execution names moto saw) from got into want, so only behaviour is compared.
func normaliseNames(want, got any) {
	w, ok1 := want.(map[string]any)
	g, ok2 := got.(map[string]any)
	if !ok1 || !ok2 {
		return
	}
	for _, k := range []string{"sm", "n"} {
		if _, ok := w[k]; ok {
			w[k] = g[k]
		}
	}
}

// echoResources answers Task resources as moto's Lambda does without
// Docker: the function returns its payload.
func echoResources() map[string]asl.Handler {
	echo := func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil }
	return map[string]asl.Handler{
		"arn:aws:lambda:us-east-1:123456789012:function:orrery-echo": echo,
		"arn:aws:states:::lambda:invoke": func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			var p struct {
				Payload json.RawMessage `json:"Payload"`
			}
			if err := json.Unmarshal(in, &p); err != nil {
				return nil, err
			}
			return json.Marshal(map[string]any{"Payload": p.Payload, "StatusCode": http.StatusOK})
		},
	}
}

package sfnexec_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/orrery-ml/orrery/shared/pipeline/asl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite ../asl/testdata/conformance_golden.json with moto's answers")

// conformanceCase is one entry of ../asl/testdata/conformance.json.
type conformanceCase struct {
	Name       string          `json:"name"`
	Input      json.RawMessage `json:"input"`
	Definition json.RawMessage `json:"definition"`
}

// outcome is what one execution ended with: an output, or an error name.
type outcome struct {
	Output json.RawMessage `json:"output,omitempty"`
	Error  string          `json:"error,omitempty"`
	Cause  string          `json:"cause,omitempty"`
}

func toOutcome(out json.RawMessage, err error) (outcome, error) {
	if err == nil {
		return outcome{Output: out}, nil
	}
	var e *asl.Error
	if errors.As(err, &e) {
		return outcome{Error: e.Name, Cause: e.Cause}, nil
	}
	return outcome{}, err
}

func loadCases(t *testing.T) []conformanceCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "asl", "testdata", "conformance.json"))
	require.NoError(t, err)
	var cases []conformanceCase
	require.NoError(t, json.Unmarshal(b, &cases))
	require.GreaterOrEqual(t, len(cases), 50, "the conformance bar is at least 50 state machines")
	return cases
}

// TestConformanceWithMoto runs every state machine of the corpus on moto's
// ASL interpreter (the one moto took from LocalStack) and on the local
// executor, and requires the same output or the same error name.
func TestConformanceWithMoto(t *testing.T) {
	env := newMotoEnv(t)
	cases := loadCases(t)
	run := make([]byte, 4)
	_, _ = rand.Read(run)
	runID := hex.EncodeToString(run)

	remote := make([]outcome, len(cases))
	remoteErr := make([]error, len(cases))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 24)
	for i, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			def, err := asl.Parse(c.Definition)
			if err != nil {
				remoteErr[i] = err
				return
			}
			out, err := env.runner.Execute(ctx, def, asl.Execution{Name: "x-" + runID, StateMachine: smName(c.Name, runID), Input: c.Input})
			remote[i], remoteErr[i] = toOutcome(out, err)
		}()
	}
	wg.Wait()

	golden := map[string]outcome{}
	for i, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			require.NoError(t, remoteErr[i], "moto")
			local := runLocal(t, c, runID)
			golden[c.Name] = remote[i]
			if d, ok := knownDeviations[c.Name]; ok {
				assert.Equal(t, d.moto, remote[i].Error, "moto's answer (%s)", d.why)
				assert.Equal(t, d.local, local.Error, "local answer (%s)", d.why)
				golden[c.Name] = local
				return
			}
			assertSameOutcome(t, remote[i], local)
		})
	}
	if *update {
		writeGolden(t, golden)
	}
}

// knownDeviations lists the cases where the local executor follows the AWS
// Step Functions documentation and moto's interpreter does not; the test
// requires moto to answer exactly as recorded here, so a moto that changes
// is noticed.
var knownDeviations = map[string]struct {
	moto, local, why string
}{
	"choice_no_match_error": {moto: asl.ErrorRuntime, local: asl.ErrorNoChoiceMatched,
		why: "AWS: a Choice state with no matching rule and no Default fails with States.NoChoiceMatched"},
	"map_items_not_array_error": {moto: "States.QueryEvaluationError", local: asl.ErrorRuntime,
		why: "AWS (JSONPath): an ItemsPath that selects no array is States.Runtime; QueryEvaluationError is JSONata's"},
}

func smName(caseName, runID string) string { return "conf-" + caseName + "-" + runID }

// runLocal runs a case on the local executor, with the Task resources bound
// to handlers that answer as moto's Lambda without Docker does: the function
// returns its payload.
func runLocal(t *testing.T, c conformanceCase, runID string) outcome {
	t.Helper()
	def, err := asl.Parse(c.Definition)
	require.NoError(t, err)
	x := asl.Executor{Region: "us-east-1", Account: "123456789012", Resources: EchoResources()}
	out, err := x.Execute(t.Context(), def, asl.Execution{Name: "x-" + runID, StateMachine: smName(c.Name, runID), Input: c.Input})
	o, err := toOutcome(out, err)
	require.NoError(t, err)
	return o
}

func assertSameOutcome(t *testing.T, want, got outcome) {
	t.Helper()
	if want.Error != "" || got.Error != "" {
		assert.Equal(t, want.Error, got.Error, "error name (moto cause: %s; local cause: %s)", want.Cause, got.Cause)
		return
	}
	var w, g any
	require.NoError(t, json.Unmarshal(want.Output, &w), "moto output %s", want.Output)
	require.NoError(t, json.Unmarshal(got.Output, &g), "local output %s", got.Output)
	assert.Equal(t, w, g, "moto: %s\nlocal: %s", want.Output, got.Output)
}

func writeGolden(t *testing.T, golden map[string]outcome) {
	t.Helper()
	names := make([]string, 0, len(golden))
	for n := range golden {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	buf.WriteString("{\n")
	for i, n := range names {
		b, err := json.Marshal(golden[n])
		require.NoError(t, err)
		fmt.Fprintf(&buf, "  %q: %s", n, b)
		if i < len(names)-1 {
			buf.WriteString(",")
		}
		buf.WriteString("\n")
	}
	buf.WriteString("}\n")
	require.NoError(t, os.WriteFile(filepath.Join("..", "asl", "testdata", "conformance_golden.json"), buf.Bytes(), 0o644))
}

// EchoResources binds the corpus's Task resources the way moto answers
// them without Docker: a Lambda function returns its payload, and the
// lambda:invoke integration wraps it as {"Payload": ..., "StatusCode": 200}.
func EchoResources() map[string]asl.Handler {
	return map[string]asl.Handler{
		echoFunction: func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil },
		"arn:aws:states:::lambda:invoke": func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			var p struct {
				Payload json.RawMessage `json:"Payload"`
			}
			if err := json.Unmarshal(in, &p); err != nil {
				return nil, err
			}
			return json.Marshal(map[string]any{"Payload": p.Payload, "StatusCode": http.StatusOK, "ExecutedVersion": "$LATEST"})
		},
	}
}

package asl_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

// fuzzMachine reads its input the ways Orrery's machines do: a Choice on
// paths that may be missing or of any type, Parameters and ResultPath
// selecting into it, and a Fail state.
const fuzzMachine = `{
  "StartAt": "Route",
  "States": {
    "Route": {"Type": "Choice", "Choices": [
      {"And": [{"Variable": "$.job_id", "IsPresent": true}, {"Variable": "$.job_id", "IsString": true}], "Next": "Pick"},
      {"Variable": "$.n", "IsNumeric": true, "Next": "Count"}
    ], "Default": "Refuse"},
    "Pick": {"Type": "Pass", "Parameters": {"job.$": "$.job_id", "all.$": "$"}, "ResultPath": "$.picked", "Next": "Done"},
    "Count": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 3, "Next": "Done"}], "Default": "Refuse"},
    "Refuse": {"Type": "Fail", "Error": "Orrery.Invalid", "Cause": "no job_id"},
    "Done": {"Type": "Succeed"}
  }
}`

// FuzzExecutionInput runs a machine over arbitrary execution inputs: no
// panic, and the execution either succeeds with JSON output or fails with
// an error (an *asl.Error for a failed run), within its own time limit.
func FuzzExecutionInput(f *testing.F) {
	def, err := asl.Parse([]byte(fuzzMachine))
	if err != nil {
		f.Fatal(err)
	}
	for _, in := range []string{`{"job_id": "trn-1"}`, `{"job_id": 7}`, `{"n": 4}`, `{"n": "4"}`, `[]`, `null`, `"x"`, `{`, `{"job_id": {"$": 1}}`} {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		x := &asl.Executor{}
		out, err := x.Execute(ctx, def, asl.Execution{Name: "fuzz", Input: input})
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("output is not JSON: %q", out)
		}
	})
}

// FuzzParse feeds arbitrary definitions to Parse: no panic; what it
// accepts validates.
func FuzzParse(f *testing.F) {
	f.Add([]byte(fuzzMachine))
	f.Add([]byte(`{"StartAt": "A", "States": {"A": {"Type": "Map", "ItemsPath": "$.xs", "ItemProcessor": {"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}, "End": true}}}`))
	f.Add([]byte(`{"StartAt": "A", "States": {}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		def, err := asl.Parse(b)
		if err != nil {
			return
		}
		if err := def.Validate(); err != nil {
			t.Fatalf("Parse accepted a definition Validate refuses: %v", err)
		}
	})
}

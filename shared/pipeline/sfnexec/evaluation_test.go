package sfnexec_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

// TestEvaluationStateMachineOnMoto deploys the evaluation state machine to
// moto as it ships, its stages function moto's Docker-less Lambda (which
// answers with its payload), and runs it to Succeeded, then through
// MarkFailed (the echo) to Failed. The
// steps themselves run on the local executor (shared/pipeline
// TestEvaluationStateMachineRunsTheJob).
func TestEvaluationStateMachineOnMoto(t *testing.T) {
	moto := newMotoEnv(t)
	ctx := t.Context()
	run := time.Now().Format("150405.000000")
	run = run[:6] + run[7:]
	def, err := pipeline.Evaluation(pipeline.EvaluationResources{StagesFunction: echoFunction})
	require.NoError(t, err)

	t.Run("succeeds", func(t *testing.T) {
		jobID := "evj-" + run
		out, err := moto.runner.Execute(ctx, def, asl.Execution{Name: jobID, StateMachine: "evaluation-" + run,
			Input: pipeline.EvaluationInput{JobID: jobID}.JSON()})
		require.NoError(t, err)
		// Succeeded outputs $.result: the echo of Evaluate's request.
		var req map[string]map[string]any
		require.NoError(t, json.Unmarshal(out, &req), "output %s", out)
		assert.Equal(t, map[string]any{"job_id": jobID}, req["evaluation"], "output %s", out)
	})

	t.Run("a failure goes through MarkFailed to Failed", func(t *testing.T) {
		// moto's Docker-less Lambda answers every invocation, even of a
		// function that does not exist, so Evaluate cannot be made to fail
		// there: it is replaced by a Pass state that leaves in $.error what
		// its Catch would (the Catch itself runs on the local executor).
		// MarkFailed and Failed run as they ship.
		failing := def
		failing.States = map[string]asl.State{}
		for name, st := range def.States {
			failing.States[name] = st
		}
		failing.States[pipeline.StateEvaluate] = asl.State{Type: asl.TypePass, ResultPath: asl.P("$.error"),
			Result: json.RawMessage(`{"Error":"Orrery.InvalidInput","Cause":"column nope is not in the data"}`), Next: pipeline.StateMarkFailed}
		jobID := "evj-fail-" + run
		_, err := moto.runner.Execute(ctx, failing, asl.Execution{Name: jobID, StateMachine: "evaluation-fail-" + run,
			Input: pipeline.EvaluationInput{JobID: jobID}.JSON()})
		var pe *asl.Error
		require.ErrorAs(t, err, &pe, "%v", err)
		assert.Equal(t, pipeline.ErrorEvaluationFailed, pe.Name)
		assert.Equal(t, "Orrery.InvalidInput: column nope is not in the data", pe.Cause)
	})
}

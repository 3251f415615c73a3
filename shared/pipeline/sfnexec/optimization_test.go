package sfnexec_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/pipeline"
)

// TestOptimizationStateMachineOnMoto deploys the optimization state machine
// to moto and runs it through one round: the Suggest and Tell steps and the
// RunTrial Batch task are replaced by Pass states answering as they would
// (moto's Docker-less Lambda echoes its payload, which has no trials or
// continue flag, and its Batch integration cannot run, see
// TestTrainingStateMachineOnMoto); the Map over the trials with its
// ItemSelector and MaxConcurrencyPath, the Choice, and Finalize on the
// (echo) steps function run as they ship. The steps themselves run on the
// local executor (shared/pipeline TestOptimizationLoopOnTheExecutor).
func TestOptimizationStateMachineOnMoto(t *testing.T) {
	moto := newMotoEnv(t)
	ctx := t.Context()
	run := time.Now().Format("150405.000000")
	run = run[:6] + run[7:]
	r := pipeline.OptimizationResources{StepsFunction: echoFunction,
		JobQueue:      "arn:aws:batch:us-east-1:123456789012:job-queue/orrery-train",
		JobDefinition: "arn:aws:batch:us-east-1:123456789012:job-definition/orrery-train"}
	def, err := pipeline.Optimization(r)
	require.NoError(t, err)
	pass := func(name, result string) {
		st := def.States[name]
		def.States[name] = pipeline.State{Type: pipeline.TypePass, Result: json.RawMessage(result), ResultPath: st.ResultPath, Next: st.Next}
	}
	pass(pipeline.StateSuggest, `{"study_id":"s","trials":[0,1,2],"exhausted":false,"wait_seconds":0}`)
	pass(pipeline.StateTell, `{"study_id":"s","continue":false,"stop_reason":"trial_budget","finished":3}`)
	m := def.States[pipeline.StateRunTrials]
	proc := *m.ItemProcessor
	trial := proc.States[pipeline.StateRunTrial]
	require.Equal(t, pipeline.BatchSubmitJobSync, trial.Resource)
	proc.States = map[string]pipeline.State{pipeline.StateRunTrial: {Type: pipeline.TypePass, End: true}}
	m.ItemProcessor = &proc
	def.States[pipeline.StateRunTrials] = m

	out, err := moto.runner.Execute(ctx, def, pipeline.Execution{Name: "hpo-" + run, StateMachine: "optimization-" + run,
		Input: pipeline.OptimizationInput{StudyID: "hpo-" + run, MaxParallel: 2}.JSON()})
	require.NoError(t, err)
	// Succeeded outputs $.result: the echo of Finalize's request.
	var req map[string]any
	require.NoError(t, json.Unmarshal(out, &req), "output %s", out)
	assert.Equal(t, "finalize", req["step"], "output %s", out)
	assert.Equal(t, "trial_budget", req["stop_reason"], "output %s", out)
	assert.Equal(t, "hpo-"+run, req["study_id"], "output %s", out)
}

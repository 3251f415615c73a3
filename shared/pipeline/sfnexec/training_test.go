package sfnexec_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/pipeline"
)

// TestTrainingStateMachineOnMoto deploys the training state machine to moto
// with real (emulated) resources — the stages and deploy functions are
// moto's Docker-less Lambda, which answers with its payload — and runs it to
// the end through the ShouldDeploy choice (Train is stubbed: see below). It checks that
// what ships is accepted and executed by moto's interpreter; the stages'
// own behaviour is tested with the local executor.
func TestTrainingStateMachineOnMoto(t *testing.T) {
	moto := newMotoEnv(t)
	ctx := t.Context()
	run := time.Now().Format("150405.000000")
	run = run[:6] + run[7:]
	r := pipeline.Resources{StagesFunction: echoFunction, DeployFunction: echoFunction,
		JobQueue:      "arn:aws:batch:us-east-1:123456789012:job-queue/orrery-train",
		JobDefinition: "arn:aws:batch:us-east-1:123456789012:job-definition/orrery-train"}
	def, err := pipeline.Training(r)
	require.NoError(t, err)
	// moto 5.2.5 cannot run the Train state's Batch integration: it hands
	// Parameters to boto3 without turning the API's PascalCase names into
	// boto3's camelCase (boto3 then fails on the unknown member), under .sync
	// it adds a PascalCase ContainerOverrides of its own, and even with
	// camelCase names its Batch endpoint answers submitJob with a 500
	// (jobDefinition read as None). Train is therefore replaced by a Pass
	// state that answers as a finished Batch job; every other state runs as
	// it ships. The Batch task itself runs on the local executor
	// (shared/pipeline TestTrainingStateMachineRunsTheStages).
	tr := def.States[pipeline.StateTrain]
	require.Equal(t, pipeline.BatchSubmitJobSync, tr.Resource)
	def.States[pipeline.StateTrain] = pipeline.State{Type: pipeline.TypePass, Result: json.RawMessage(`{"batch_job_id":"moto","status":"SUCCEEDED"}`),
		ResultPath: tr.ResultPath, Next: tr.Next}
	out, err := moto.runner.Execute(ctx, def, pipeline.Execution{Name: "trn-" + run, StateMachine: "training-" + run,
		Input: pipeline.TrainingInput{JobID: "trn-" + run}.JSON()})
	require.NoError(t, err)

	// The Succeeded state outputs $.refs: here the echo of Register's
	// request, which carries the stage name.
	var refs map[string]any
	require.NoError(t, json.Unmarshal(out, &refs), "output %s", out)
	assert.Equal(t, "register", refs["stage"], "output %s", out)
}

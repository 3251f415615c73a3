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

// TestOptimizationStateMachineOnMoto deploys the optimization state machine
// to moto and runs it through one round. The Suggest and Tell steps are
// replaced by Pass states answering as they would (moto's Docker-less Lambda
// echoes its payload, which has no trials or continue flag); the Map over
// the trials with its ItemSelector and MaxConcurrencyPath, each RunTrial
// Batch task (submitted to moto's Batch, whose "simple" mode marks jobs
// SUCCEEDED, and awaited through .sync), the Choice, and Finalize on the
// (echo) steps function run as they ship. The steps themselves run on the
// local executor (shared/pipeline TestOptimizationLoopOnTheExecutor).
func TestOptimizationStateMachineOnMoto(t *testing.T) {
	moto := newMotoEnv(t)
	ctx := t.Context()
	run := time.Now().Format("150405.000000")
	run = run[:6] + run[7:]
	q := newBatchQueue(t, moto, "orrery-hpo-"+run)
	r := pipeline.OptimizationResources{StepsFunction: echoFunction, JobQueue: q.queueARN, JobDefinition: q.definitionARN}
	def, err := pipeline.Optimization(r)
	require.NoError(t, err)
	pass := func(name, result string) {
		st := def.States[name]
		def.States[name] = asl.State{Type: asl.TypePass, Result: json.RawMessage(result), ResultPath: st.ResultPath, Next: st.Next}
	}
	pass(pipeline.StateSuggest, `{"study_id":"s","trials":[0,1,2],"exhausted":false,"wait_seconds":0}`)
	pass(pipeline.StateTell, `{"study_id":"s","continue":false,"stop_reason":"trial_budget","finished":3}`)
	trial := def.States[pipeline.StateRunTrials].ItemProcessor.States[pipeline.StateRunTrial]
	require.Equal(t, pipeline.BatchSubmitJobSync, trial.Resource)

	out, err := moto.runner.Execute(ctx, def, asl.Execution{Name: "hpo-" + run, StateMachine: "optimization-" + run,
		Input: pipeline.OptimizationInput{StudyID: "hpo-" + run, MaxParallel: 2}.JSON()})
	require.NoError(t, err)
	// Succeeded outputs $.result: the echo of Finalize's request.
	var req map[string]any
	require.NoError(t, json.Unmarshal(out, &req), "output %s", out)
	assert.Equal(t, "finalize", req["step"], "output %s", out)
	assert.Equal(t, "trial_budget", req["stop_reason"], "output %s", out)
	assert.Equal(t, "hpo-"+run, req["study_id"], "output %s", out)

	// One Batch job per suggested trial, each given its trial input.
	jobs, err := q.client.ListJobs(ctx, listSucceeded(q.queueARN))
	require.NoError(t, err)
	var names []string
	for _, js := range jobs.JobSummaryList {
		names = append(names, *js.JobName)
		job := q.job(t, *js.JobId)
		var in map[string]any
		for _, kv := range job.Container.Environment {
			if *kv.Name == pipeline.EnvTrialInput {
				require.NoError(t, json.Unmarshal([]byte(*kv.Value), &in), "trial input %q", *kv.Value)
			}
		}
		assert.Equal(t, "hpo-"+run, in["study_id"], "job %s", *js.JobName)
	}
	assert.ElementsMatch(t, []string{"orrery-trial-hpo-" + run + "-0", "orrery-trial-hpo-" + run + "-1", "orrery-trial-hpo-" + run + "-2"}, names)
}

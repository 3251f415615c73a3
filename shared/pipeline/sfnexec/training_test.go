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

// TestTrainingStateMachineOnMoto deploys the training state machine to moto
// with real (emulated) resources and runs it to the end through the
// ShouldDeploy choice: the stages and deploy functions are moto's
// Docker-less Lambda, which answers with its payload, and Train submits a
// real job to moto's Batch (its "simple" mode marks the job SUCCEEDED
// without running a container) and waits for it through the .sync
// integration. It checks that what ships is accepted and executed by moto's
// interpreter, down to the Batch request (job name, queue, definition,
// parameters, environment with the task token); the stages' own behaviour is
// tested with the local executor.
func TestTrainingStateMachineOnMoto(t *testing.T) {
	moto := newMotoEnv(t)
	ctx := t.Context()
	run := time.Now().Format("150405.000000")
	run = run[:6] + run[7:]
	q := newBatchQueue(t, moto, "orrery-train-"+run)
	r := pipeline.Resources{StagesFunction: echoFunction, DeployFunction: echoFunction,
		JobQueue: q.queueARN, JobDefinition: q.definitionARN}
	def, err := pipeline.Training(r)
	require.NoError(t, err)
	tr := def.States[pipeline.StateTrain]
	require.Equal(t, pipeline.BatchSubmitJobSync, tr.Resource)
	jobID := "trn-" + run
	out, err := moto.runner.Execute(ctx, def, asl.Execution{Name: jobID, StateMachine: "training-" + run,
		Input: pipeline.TrainingInput{JobID: jobID}.JSON()})
	require.NoError(t, err)

	// The Succeeded state outputs $.refs: here the echo of Register's
	// request, which carries the stage name.
	var refs map[string]any
	require.NoError(t, json.Unmarshal(out, &refs), "output %s", out)
	assert.Equal(t, "register", refs["stage"], "output %s", out)

	// The Batch job Train submitted, as moto's Batch recorded it.
	jobs, err := q.client.ListJobs(ctx, listSucceeded(q.queueARN))
	require.NoError(t, err)
	require.Len(t, jobs.JobSummaryList, 1, "one Batch job on the queue")
	job := q.job(t, *jobs.JobSummaryList[0].JobId)
	assert.Equal(t, "orrery-train-"+jobID, *job.JobName)
	assert.Equal(t, map[string]string{"job_id": jobID}, job.Parameters, "Batch parameters carry the job id")
	env := map[string]string{}
	for _, kv := range job.Container.Environment {
		env[*kv.Name] = *kv.Value
	}
	assert.Contains(t, env, pipeline.EnvStageRefs, "the stage refs reach the container")
	// $$.Task.Token under the job run (.sync) pattern: the trainer's
	// heartbeats need it (SendTaskHeartbeat is documented for "Task states
	// using the job run pattern" too).
	assert.NotEmpty(t, env[pipeline.EnvTaskToken], "the task token reaches the container")
	var stageRefs map[string]any
	require.NoError(t, json.Unmarshal([]byte(env[pipeline.EnvStageRefs]), &stageRefs), "refs %q", env[pipeline.EnvStageRefs])
	assert.Equal(t, "preprocess", stageRefs["stage"], "Train's refs are Preprocess's output (the echo)")
	// moto's Batch drops the request's retryStrategy (its submitjob reads
	// no such parameter), so the exit-75 retry is checked on the local
	// executor, which emulates it (shared/pipeline local.go).
}

package sfnexec_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/evaluationjob"
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
	q := newBatchQueue(t, moto, "orrery-eval-"+run)
	def, err := pipeline.Evaluation(pipeline.EvaluationResources{StagesFunction: echoFunction,
		FoldJobQueue: q.queueARN, FoldJobDefinition: q.definitionARN})
	require.NoError(t, err)

	t.Run("succeeds on the light path", func(t *testing.T) {
		jobID := "evj-" + run
		out, err := moto.runner.Execute(ctx, def, asl.Execution{Name: jobID, StateMachine: "evaluation-" + run,
			Input: pipeline.EvaluationInput{JobID: jobID}.JSON()})
		require.NoError(t, err)
		// Succeeded outputs $.result: the echo of Evaluate's request.
		var req map[string]map[string]any
		require.NoError(t, json.Unmarshal(out, &req), "output %s", out)
		assert.Equal(t, map[string]any{"job_id": jobID}, req["evaluation"], "output %s", out)
	})

	t.Run("the heavy path runs a Batch job per fold, then Reduce", func(t *testing.T) {
		// The echo cannot plan: Plan is a Pass state answering as the
		// stages function does for a heavy job: two folds, a range of
		// bootstrap replicates and a range of the comparison's paired
		// bootstrap (compare_to). The Choice, the Map over the tasks, each
		// RunFold Batch task (moto's "simple" Batch marks
		// the job SUCCEEDED; .sync waits for it) and Reduce on the echo run
		// as they ship.
		heavy := def
		heavy.States = map[string]asl.State{}
		for name, st := range def.States {
			heavy.States[name] = st
		}
		jobID := "evj-heavy-" + run
		plan := def.States[pipeline.StatePlan]
		heavy.States[pipeline.StatePlan] = asl.State{Type: asl.TypePass, ResultPath: plan.ResultPath, Next: plan.Next,
			Result: json.RawMessage(fmt.Sprintf(`{"job_id":%[1]q,"status":"RUNNING","heavy":true,"folds":[0,1],"tasks":[`+
				`{"job_id":%[1]q,"fold":0,"name":"fold-0"},{"job_id":%[1]q,"fold":1,"name":"fold-1"},`+
				`{"job_id":%[1]q,"fold":0,"name":"bootstrap-0","bootstrap":{"shard":0,"from":0,"to":50}},`+
				`{"job_id":%[1]q,"fold":0,"name":"compare-0","compare":{"shard":0,"from":0,"to":500}}],"reason":"test"}`, jobID))}
		out, err := moto.runner.Execute(ctx, heavy, asl.Execution{Name: jobID, StateMachine: "evaluation-heavy-" + run,
			Input: pipeline.EvaluationInput{JobID: jobID}.JSON()})
		require.NoError(t, err)
		var req map[string]map[string]any
		require.NoError(t, json.Unmarshal(out, &req), "output %s", out)
		assert.Equal(t, map[string]any{"job_id": jobID, "step": "reduce"}, req["evaluation"], "output %s", out)

		jobs, err := q.client.ListJobs(ctx, listSucceeded(q.queueARN))
		require.NoError(t, err)
		var names []string
		tasks := map[string]evaluationjob.FoldTask{}
		for _, js := range jobs.JobSummaryList {
			names = append(names, *js.JobName)
			job := q.job(t, *js.JobId)
			for _, kv := range job.Container.Environment {
				if *kv.Name == pipeline.EnvEvaluationFold {
					var in evaluationjob.FoldTask
					require.NoError(t, json.Unmarshal([]byte(*kv.Value), &in), "fold task %q", *kv.Value)
					assert.Equal(t, jobID, in.JobID)
					tasks[in.Name] = in
				}
			}
		}
		assert.ElementsMatch(t, []string{"orrery-eval-" + jobID + "-fold-0", "orrery-eval-" + jobID + "-fold-1", "orrery-eval-" + jobID + "-bootstrap-0",
			"orrery-eval-" + jobID + "-compare-0"}, names)
		assert.Equal(t, map[string]evaluationjob.FoldTask{
			"fold-0":      {JobID: jobID, Fold: 0, Name: "fold-0"},
			"fold-1":      {JobID: jobID, Fold: 1, Name: "fold-1"},
			"bootstrap-0": {JobID: jobID, Name: "bootstrap-0", Bootstrap: &evaluationjob.BootstrapShard{Shard: 0, From: 0, To: 50}},
			"compare-0":   {JobID: jobID, Name: "compare-0", Compare: &evaluationjob.BootstrapShard{Shard: 0, From: 0, To: 500}},
		}, tasks, "each job is given its task")
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

package stacks

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/pipeline"
)

// TestEvaluationMachineIsTheOneTheLocalExecutorRuns checks the deployed evaluation machine: its definition is
// shared/pipeline's, byte for byte once the stages function and the fold jobs' queue and job definition are named as
// the local executor names them (the local resources differ only in the timeouts of the stages-function tasks,
// which Lambda caps at 15 minutes on AWS); it has the heavy path — the IsHeavy Choice, the RunFolds Map and its
// RunFold Batch submit on the CPU queue; its substitutions are the stages function's version and the CPU queue and
// job definition by name; its role may invoke that function and submit to that queue and job definition only.
func TestEvaluationMachineIsTheOneTheLocalExecutorRuns(t *testing.T) {
	b := build(t, "dev")
	var found bool
	for id, r := range b.resources("pipeline", "AWS::StepFunctions::StateMachine") {
		p := props(r)
		if p["StateMachineName"] != b.env.Prefix()+MachineEvaluation {
			continue
		}
		found = true
		assert.Equal(t, "STANDARD", p["StateMachineType"], id)
		deployed, ok := p["DefinitionString"].(string)
		require.True(t, ok, id)
		local, placeholders := pipeline.LocalEvaluationResources(), pipeline.EvaluationPlaceholders()
		def, err := pipeline.Evaluation(pipeline.EvaluationResources{StagesFunction: local.StagesFunction,
			FoldJobQueue: local.FoldJobQueue, FoldJobDefinition: local.FoldJobDefinition})
		require.NoError(t, err)
		want, err := def.JSON()
		require.NoError(t, err)
		replacer := strings.NewReplacer(placeholders.StagesFunction, local.StagesFunction,
			placeholders.FoldJobQueue, local.FoldJobQueue, placeholders.FoldJobDefinition, local.FoldJobDefinition)
		assert.Equal(t, string(want), replacer.Replace(deployed))

		var asl map[string]any
		require.NoError(t, json.Unmarshal([]byte(deployed), &asl))
		states := asl["States"].(map[string]any)
		assert.Equal(t, pipeline.StatePlan, asl["StartAt"])
		choice := states[pipeline.StateIsHeavy].(map[string]any)
		assert.Equal(t, "Choice", choice["Type"])
		assert.Equal(t, pipeline.StateEvaluate, choice["Default"], "the light path is the one evaluate step")
		assert.Equal(t, pipeline.StateRunFolds, choice["Choices"].([]any)[0].(map[string]any)["Next"])
		folds := states[pipeline.StateRunFolds].(map[string]any)
		assert.Equal(t, "Map", folds["Type"])
		assert.Equal(t, pipeline.StateReduce, folds["Next"])
		fold := folds["ItemProcessor"].(map[string]any)["States"].(map[string]any)[pipeline.StateRunFold].(map[string]any)
		assert.Equal(t, pipeline.BatchSubmitJobSync, fold["Resource"])
		params := fold["Parameters"].(map[string]any)
		assert.Equal(t, "${"+PlaceholderEvalJobQueue+"}", params["JobQueue"])
		assert.Equal(t, "${"+PlaceholderEvalJobDef+"}", params["JobDefinition"])
		assert.Nil(t, fold["HeartbeatSeconds"], "a fold job waiting RUNNABLE must not time its task out")

		subs := p["DefinitionSubstitutions"].(map[string]any)
		assert.Len(t, subs, 3)
		assert.Equal(t, map[string]any{"Ref": stagesVersionID(t, b)}, subs[PlaceholderStagesFunction])
		for name, want := range map[string]string{PlaceholderEvalJobQueue: ":job-queue/" + b.env.Prefix() + "cpu",
			PlaceholderEvalJobDef: ":job-definition/" + b.env.Prefix() + "evaluate-cpu"} {
			raw, err := json.Marshal(subs[name])
			require.NoError(t, err)
			assert.Contains(t, string(raw), want, name)
			assert.NotContains(t, string(raw), "Fn::ImportValue", name)
			assert.NotRegexp(t, `evaluate-cpu:[0-9]`, string(raw), "%s names no revision", name)
		}
	}
	require.True(t, found, "no %s state machine in the pipeline stack", MachineEvaluation)

	// The machine's role: invoke the stages function (Plan, Evaluate, Reduce, MarkFailed) and submit fold jobs to
	// the CPU queue with the evaluate-cpu job definition — never the GPU queue or the train job definition.
	var actions []string
	var submitTo string
	for where, list := range iamStatements(b) {
		if !strings.Contains(where, "EvaluationStateMachineRole") {
			continue
		}
		for _, st := range list {
			res, err := json.Marshal(st["Resource"])
			require.NoError(t, err)
			for _, a := range asList(st["Action"]) {
				actions = append(actions, a.(string))
				if a == "batch:SubmitJob" {
					submitTo += string(res)
				}
			}
		}
	}
	assert.Contains(t, actions, "lambda:InvokeFunction")
	assert.Contains(t, actions, "batch:SubmitJob")
	assert.Contains(t, submitTo, "job-queue/"+b.env.Prefix()+"cpu")
	assert.Contains(t, submitTo, "job-definition/"+b.env.Prefix()+"evaluate-cpu:*")
	assert.NotContains(t, submitTo, "train-gpu")
	assert.NotContains(t, submitTo, "job-queue/"+b.env.Prefix()+"gpu")
}

// TestEvaluateJobRoleIsLeastPrivilege: the fold jobs' role reads the data sets, reads models and writes fold
// outcomes only under their prefixes, reads (GetItem) the job and model records and nothing else of DynamoDB, and
// may heartbeat its task; it writes no job record, study or model.
func TestEvaluateJobRoleIsLeastPrivilege(t *testing.T) {
	b := build(t, "dev")
	var statements []map[string]any
	for where, list := range iamStatements(b) {
		if strings.Contains(where, "EvaluateJobRole") {
			statements = append(statements, list...)
		}
	}
	require.NotEmpty(t, statements)
	var dynamo []string
	writes := map[string]bool{}
	for _, st := range statements {
		res, err := json.Marshal(st["Resource"])
		require.NoError(t, err)
		for _, a := range asList(st["Action"]) {
			a := a.(string)
			if strings.HasPrefix(a, "dynamodb:") {
				dynamo = append(dynamo, a)
			}
			if a == "s3:PutObject" || a == "s3:DeleteObject" {
				writes[string(res)] = true
			}
		}
	}
	assert.ElementsMatch(t, []string{"dynamodb:GetItem"}, dynamo)
	require.Len(t, writes, 1)
	for res := range writes {
		assert.Contains(t, res, "/"+EvaluationFoldsPrefix+"*", "fold jobs write their outcomes and nothing else")
		assert.Contains(t, res, "Artifacts")
	}
}

// TestAPIStartsEvaluations checks that the api function is told the evaluation machine's ARN and may start its
// executions (and only start them: an evaluation has no cancel route).
func TestAPIStartsEvaluations(t *testing.T) {
	b := build(t, "dev")
	fns := b.resources("api", "AWS::Lambda::Function")
	require.NotEmpty(t, fns)
	for id, r := range fns {
		vars := props(r)["Environment"].(map[string]any)["Variables"].(map[string]any)
		ref, err := json.Marshal(vars[config.EnvEvaluationStateMachineARN])
		require.NoError(t, err)
		assert.Contains(t, string(ref), "EvaluationStateMachine", "%s: %s", id, ref)
	}
	var startActions []string
	for where, list := range iamStatements(b) {
		if !strings.Contains(where, b.stackName("api")+"/") {
			continue
		}
		for _, st := range list {
			res, err := json.Marshal(st["Resource"])
			require.NoError(t, err)
			if !strings.Contains(string(res), "EvaluationStateMachine") {
				continue
			}
			for _, a := range asList(st["Action"]) {
				startActions = append(startActions, a.(string))
			}
		}
	}
	assert.Equal(t, []string{"states:StartExecution"}, startActions)
}

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
// shared/pipeline's, byte for byte once the stages function is named as the local executor names it (the local
// resources differ only in the Evaluate timeout, which Lambda caps at 15 minutes on AWS); its only substitution is
// the stages function; its role may invoke that function and nothing else.
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
		local := pipeline.LocalEvaluationResources()
		def, err := pipeline.Evaluation(pipeline.EvaluationResources{StagesFunction: local.StagesFunction})
		require.NoError(t, err)
		want, err := def.JSON()
		require.NoError(t, err)
		assert.Equal(t, string(want), strings.ReplaceAll(deployed, pipeline.EvaluationPlaceholders().StagesFunction, local.StagesFunction))
		subs := p["DefinitionSubstitutions"].(map[string]any)
		assert.Equal(t, map[string]any{PlaceholderStagesFunction: map[string]any{"Ref": stagesVersionID(t, b)}}, subs)
	}
	require.True(t, found, "no %s state machine in the pipeline stack", MachineEvaluation)

	// The machine's role: invoke the stages function (Evaluate, MarkFailed), no Batch.
	var actions []string
	for where, list := range iamStatements(b) {
		if !strings.Contains(where, "EvaluationStateMachineRole") {
			continue
		}
		for _, st := range list {
			for _, a := range asList(st["Action"]) {
				actions = append(actions, a.(string))
			}
		}
	}
	assert.Contains(t, actions, "lambda:InvokeFunction")
	for _, a := range actions {
		assert.False(t, strings.HasPrefix(a, "batch:"), "the evaluation machine runs no Batch job: %s", a)
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

package stacks

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/pipeline"
)

// TestOptimizationMachinePermissions checks that the optimization machine names only this app's resources and
// that its role is derived like the training machine's: invoking the stages function (the steps) and running Batch
// jobs .sync on the train queue (the trials, inside the Map).
func TestOptimizationMachinePermissions(t *testing.T) {
	m, err := OptimizationMachine()
	require.NoError(t, err)
	assert.Equal(t, MachineOptimization, m.Name)
	assert.NotContains(t, string(m.Definition), "${"+PlaceholderAlertTopic+"}")
	values := map[string]*string{
		PlaceholderStagesFunction: jsii.String("arn:aws:lambda:eu-west-1:1:function:stages"),
		PlaceholderTrainJobQueue:  jsii.String("arn:aws:batch:eu-west-1:1:job-queue/q"),
		PlaceholderTrainJobDef:    jsii.String("arn:aws:batch:eu-west-1:1:job-definition/d:1"),
	}
	refs, err := usedRefs(m.Name, m.Definition, values)
	require.NoError(t, err)
	require.Len(t, refs, 3)
	statements, err := taskStatements(m.Name, m.Definition, refs, nil)
	require.NoError(t, err)
	var actions []any
	for _, st := range statements {
		doc := st.ToStatementJson().(map[string]any)
		switch a := doc["Action"].(type) {
		case string:
			actions = append(actions, a)
		case []any:
			actions = append(actions, a...)
		}
	}
	for _, want := range []string{"lambda:InvokeFunction", "batch:SubmitJob", "batch:DescribeJobs", "batch:TerminateJob"} {
		assert.Contains(t, actions, want)
	}
}

// TestOptimizationMachineIsTheOneTheLocalExecutorRuns checks the deployed optimization machine: its definition is
// shared/pipeline's, byte for byte once the placeholders are replaced by the local executor's resources
// (pipeline.Optimization(pipeline.LocalOptimizationResources()), what `orrery serve` and `orrery tune` run); its
// substitutions are the stages function, the train queue and the train job definition.
func TestOptimizationMachineIsTheOneTheLocalExecutorRuns(t *testing.T) {
	b := build(t, "dev")
	var found bool
	for id, r := range b.resources("pipeline", "AWS::StepFunctions::StateMachine") {
		p := props(r)
		if p["StateMachineName"] != b.env.Prefix()+MachineOptimization {
			continue
		}
		found = true
		assert.Equal(t, "STANDARD", p["StateMachineType"], id)
		deployed, ok := p["DefinitionString"].(string)
		require.True(t, ok, id)
		placeholders, local := pipeline.OptimizationPlaceholders(), pipeline.LocalOptimizationResources()
		replacer := strings.NewReplacer(
			placeholders.StepsFunction, local.StepsFunction,
			placeholders.JobQueue, local.JobQueue,
			placeholders.JobDefinition, local.JobDefinition,
		)
		def, err := pipeline.Optimization(local)
		require.NoError(t, err)
		want, err := def.JSON()
		require.NoError(t, err)
		assert.Equal(t, string(want), replacer.Replace(deployed))

		assertBatchSubstitutions(t, b, p["DefinitionSubstitutions"].(map[string]any))
	}
	require.True(t, found, "no %s state machine in the pipeline stack", MachineOptimization)
}

// TestOptimizationServedOnAWS checks what serves the optimization machine: the stages function (the steps) and
// the trainer's job role (the trials) may read and write the studies table, and both are told its name; the api
// function is told the machine's ARN and may start its executions.
func TestOptimizationServedOnAWS(t *testing.T) {
	b := build(t, "dev")
	studiesTable := tableID(TableStudies)
	writesStudies := func(where string) bool {
		for id, list := range iamStatements(b) {
			if !strings.Contains(id, where) {
				continue
			}
			for _, st := range list {
				res, err := json.Marshal(st["Resource"])
				require.NoError(t, err)
				if strings.Contains(string(res), studiesTable) && slices.Contains(asList(st["Action"]), any("dynamodb:PutItem")) &&
					slices.Contains(asList(st["Action"]), any("dynamodb:Query")) {
					return true
				}
			}
		}
		return false
	}
	assert.True(t, writesStudies(b.stackName("pipeline")+"/StagesRole"), "the stages function writes studies and trials")
	assert.True(t, writesStudies(b.stackName("compute")+"/TrainerJobRole"), "the trainer's trial mode writes trials")

	stages := 0
	for id, r := range b.resources("pipeline", "AWS::Lambda::Function") {
		vars, _ := props(r)["Environment"].(map[string]any)["Variables"].(map[string]any)
		if !strings.Contains(id, "/Stages") {
			continue
		}
		stages++
		ref, err := json.Marshal(vars[config.EnvStudiesTable])
		require.NoError(t, err)
		assert.Contains(t, string(ref), studiesTable, "%s: %s", id, ref)
	}
	assert.Equal(t, 1, stages)
	var jobEnv bool
	for id, r := range b.resources("compute", "AWS::Batch::JobDefinition") {
		if props(r)["JobDefinitionName"] != b.env.Prefix()+"train-gpu" {
			continue // the fold jobs' evaluate-cpu runs no trial
		}
		env, err := json.Marshal(props(r)["ContainerProperties"].(map[string]any)["Environment"])
		require.NoError(t, err)
		assert.Contains(t, string(env), config.EnvStudiesTable, id)
		assert.Contains(t, string(env), config.EnvArtifactsBucket, id)
		jobEnv = true
	}
	assert.True(t, jobEnv, "no trainer job definition")

	for id, r := range b.resources("api", "AWS::Lambda::Function") {
		vars := props(r)["Environment"].(map[string]any)["Variables"].(map[string]any)
		ref, err := json.Marshal(vars[config.EnvOptimizationStateMachineARN])
		require.NoError(t, err)
		assert.Contains(t, string(ref), "OptimizationStateMachine", "%s: %s", id, ref)
	}
	var startActions []any
	for where, list := range iamStatements(b) {
		if !strings.Contains(where, b.stackName("api")+"/") {
			continue
		}
		for _, st := range list {
			res, err := json.Marshal(st["Resource"])
			require.NoError(t, err)
			if strings.Contains(string(res), "OptimizationStateMachine") {
				startActions = append(startActions, asList(st["Action"])...)
			}
		}
	}
	assert.Contains(t, startActions, any("states:StartExecution"))
}

package stacks

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/ml/deployment"
	"github.com/orrery-ml/orrery/shared/pipeline"
)

// TestDeploymentMachineIsTheOneTheLocalExecutorRuns checks the deployed deployment machine: its definition is
// shared/pipeline's, byte for byte once the stages function is named as the local executor names it (the local
// resources are the same, without an alert topic either); its only substitution is the stages function.
func TestDeploymentMachineIsTheOneTheLocalExecutorRuns(t *testing.T) {
	b := build(t, "dev")
	var found bool
	for id, r := range b.resources("pipeline", "AWS::StepFunctions::StateMachine") {
		p := props(r)
		if p["StateMachineName"] != b.env.Prefix()+MachineDeployment {
			continue
		}
		found = true
		deployed, ok := p["DefinitionString"].(string)
		require.True(t, ok, id)
		local := pipeline.LocalDeploymentResources()
		def, err := pipeline.Deployment(local)
		require.NoError(t, err)
		want, err := def.JSON()
		require.NoError(t, err)
		assert.Equal(t, string(want), strings.ReplaceAll(deployed, pipeline.DeploymentPlaceholders().StagesFunction, local.StagesFunction),
			"the definition the local executor runs")
		subs := p["DefinitionSubstitutions"].(map[string]any)
		assert.Equal(t, map[string]any{PlaceholderStagesFunction: map[string]any{"Ref": stagesVersionID(t, b)}}, subs)
		for _, integration := range []string{pipeline.LambdaUpdateAlias, pipeline.LambdaPublishVersion, pipeline.CloudWatchDescribeAlarms} {
			assert.Contains(t, deployed, integration)
		}
	}
	require.True(t, found, "no %s state machine in the pipeline stack", MachineDeployment)
}

// TestDeploymentRoleMovesOnlyThePredictAliases checks the deployment machine's role: the Lambda actions it has are
// the predict function's (its configuration, its versions, its aliases) and the stages function's invocation; its
// CloudWatch actions are on the environment's alarms, the writes on the deployments' own; nothing else.
func TestDeploymentRoleMovesOnlyThePredictAliases(t *testing.T) {
	b := build(t, "dev")
	predict := "function:" + b.env.Prefix() + "predict"
	got := map[string][]string{}
	for where, list := range iamStatements(b) {
		if !strings.Contains(where, "DeploymentStateMachineRole") {
			continue
		}
		for _, st := range list {
			res, err := json.Marshal(st["Resource"])
			require.NoError(t, err)
			for _, a := range asList(st["Action"]) {
				got[a.(string)] = append(got[a.(string)], string(res))
			}
		}
	}
	require.NotEmpty(t, got, "the deployment machine's role has statements")
	for _, a := range []string{"lambda:UpdateAlias", "lambda:GetAlias"} {
		require.Contains(t, got, a)
		for _, r := range got[a] {
			assert.Contains(t, r, predict+":*", "%s only on the predict function's aliases", a)
		}
	}
	for _, a := range []string{"lambda:PublishVersion", "lambda:UpdateFunctionConfiguration", "lambda:GetFunctionConfiguration"} {
		require.Contains(t, got, a)
		for _, r := range got[a] {
			assert.Contains(t, r, predict, a)
		}
	}
	for _, a := range []string{"cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"} {
		require.Contains(t, got, a)
		for _, r := range got[a] {
			assert.Contains(t, r, "alarm:"+deploymentAlarmPrefix(b.env)+"-deploy-*", a)
		}
	}
	require.Contains(t, got, "cloudwatch:DescribeAlarms")
	for a, rs := range got {
		service, _, _ := strings.Cut(a, ":")
		switch service {
		case "lambda", "cloudwatch", "xray", "logs":
		default:
			t.Errorf("the deployment machine needs no %s (on %v)", a, rs)
		}
		if a == "lambda:InvokeFunction" {
			for _, r := range rs {
				assert.NotContains(t, r, predict, "the machine never invokes the predict function")
			}
		}
		for _, r := range rs {
			if strings.HasPrefix(a, "lambda:") && a != "lambda:InvokeFunction" {
				assert.NotContains(t, r, "Stages", "%s is not granted on the stages function", a)
			}
		}
	}
}

// TestDeploymentFunctionsAreWired checks what the stages and api functions are told and may do for deployments.
func TestDeploymentFunctionsAreWired(t *testing.T) {
	b := build(t, "dev")
	for _, short := range []string{"pipeline", "api"} {
		for id, r := range b.resources(short, "AWS::Lambda::Function") {
			vars, _ := props(r)["Environment"].(map[string]any)["Variables"].(map[string]any)
			if _, ok := vars[config.EnvPredictFunction]; !ok {
				continue
			}
			assert.Equal(t, b.env.Prefix()+"predict", vars[config.EnvPredictFunction], id)
			assert.Equal(t, b.env.Name, vars[config.EnvEnvironment], id)
			assert.Equal(t, deploymentAlarmPrefix(b.env), vars[config.EnvAlarmPrefix], id)
			if short == "api" {
				ref, err := json.Marshal(vars[config.EnvDeploymentStateMachineARN])
				require.NoError(t, err)
				assert.Contains(t, string(ref), "DeploymentStateMachine", id)
			}
		}
	}
	var putMetrics []map[string]any
	for where, list := range iamStatements(b) {
		if !strings.Contains(where, "StagesServiceRole") && !strings.Contains(where, "Stages") {
			continue
		}
		for _, st := range list {
			for _, a := range asList(st["Action"]) {
				if a == "cloudwatch:PutMetricData" {
					putMetrics = append(putMetrics, st)
				}
			}
		}
	}
	require.NotEmpty(t, putMetrics, "the stages function puts the deployments' metrics")
	for _, st := range putMetrics {
		cond, err := json.Marshal(st["Condition"])
		require.NoError(t, err)
		assert.Contains(t, string(cond), deployment.MetricNamespace, "held to the predict metrics' namespace")
	}
}

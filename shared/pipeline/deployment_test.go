package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/deployment"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

func TestDeploymentDefinition(t *testing.T) {
	def, err := pipeline.Deployment(pipeline.DeploymentPlaceholders())
	require.NoError(t, err)
	body, err := def.JSON()
	require.NoError(t, err)
	parsed, err := asl.Parse(body)
	require.NoError(t, err, "what ships parses back")
	again, err := parsed.JSON()
	require.NoError(t, err)
	assert.JSONEq(t, string(body), string(again))
	text := string(body)
	for _, want := range []string{"${StagesFunctionArn}", "${AlertTopicArn}", pipeline.LambdaUpdateAlias, pipeline.LambdaPublishVersion,
		pipeline.CloudWatchDescribeAlarms, pipeline.CloudWatchPutMetricAlarm, deployment.ErrorAlarmFired, pipeline.ErrorDeploymentRolledBack} {
		assert.Contains(t, text, want)
	}
	// Every stages task discards its result: the flow runs on its input.
	for name, st := range def.States {
		if st.Resource == pipeline.DeploymentPlaceholders().StagesFunction {
			assert.True(t, st.ResultPath.Null, "%s: ResultPath null", name)
		}
	}
	// After the version is published, every failure rolls back.
	for _, name := range []string{pipeline.StateMoveTraffic, pipeline.StateRecordShift, pipeline.StateCheck, pipeline.StateReadAlarms,
		pipeline.StatePromote} {
		require.NotEmpty(t, def.States[name].Catch, name)
		assert.Equal(t, pipeline.StateStartRollback, def.States[name].Catch[len(def.States[name].Catch)-1].Next, name)
	}
	for _, name := range []string{pipeline.StateValidate, pipeline.StateFindLive, pipeline.StatePublish, pipeline.StateCreateAlarms} {
		assert.Equal(t, pipeline.StateMarkFailed, def.States[name].Catch[0].Next, name)
	}
	noAlert, err := pipeline.Deployment(pipeline.DeploymentResources{StagesFunction: "arn:aws:lambda:us-east-1:1:function:s"})
	require.NoError(t, err)
	_, hasAlert := noAlert.States[pipeline.StateAlertRollback]
	assert.False(t, hasAlert, "no topic, no Alert state")
	assert.Equal(t, pipeline.StateRolledBack, noAlert.States[pipeline.StateRollbackCleanUp].Next)

	for name, r := range map[string]pipeline.DeploymentResources{
		"no stages function": {},
		"not an arn":         {StagesFunction: "stages"},
		"bad topic":          {StagesFunction: "arn:f", AlertTopic: "alerts"},
		"negative timeout":   {StagesFunction: "arn:f", TimeoutSeconds: -1},
	} {
		_, err := pipeline.Deployment(r)
		require.ErrorIs(t, err, pipeline.ErrResources, name)
	}
}

// fakeCloud answers the deployment machine's service integrations in AWS's
// shapes and sizes, and records every alias move.
type fakeCloud struct {
	mu      sync.Mutex
	moves   []string
	alarms  int    // how many alarms describeAlarms returns
	firing  string // an alarm to report in ALARM at the check named
	checks  int
	fireAt  int
	version int
}

func (c *fakeCloud) services(t *testing.T) pipeline.DeploymentServices {
	reply := func(v any) (json.RawMessage, error) { return json.Marshal(v) }
	return pipeline.DeploymentServices{
		GetAlias: func(_ context.Context, raw json.RawMessage) (json.RawMessage, error) {
			return reply(map[string]any{"AliasArn": "arn:aws:lambda:us-east-1:1:function:p:pulsars", "Name": "pulsars",
				"FunctionVersion": "6", "RevisionId": asl.NewUUID()})
		},
		GetFunctionConfiguration: func(context.Context, json.RawMessage) (json.RawMessage, error) {
			vars := map[string]string{}
			for i := range 12 {
				vars[fmt.Sprintf("ORRERY_SETTING_%d", i)] = strings.Repeat("v", 60)
			}
			return reply(map[string]any{"FunctionName": "p", "Environment": map[string]any{"Variables": vars},
				"Layers": []any{}, "Architectures": []string{"arm64"}, "CodeSha256": strings.Repeat("a", 44)})
		},
		UpdateFunctionConfiguration: func(_ context.Context, raw json.RawMessage) (json.RawMessage, error) { return raw, nil },
		PublishVersion: func(_ context.Context, raw json.RawMessage) (json.RawMessage, error) {
			var in struct{ Description string }
			require.NoError(t, json.Unmarshal(raw, &in))
			c.mu.Lock()
			c.version++
			c.mu.Unlock()
			return reply(map[string]any{"Version": "7", "Description": in.Description,
				"Environment": map[string]any{"Variables": map[string]string{"ORRERY_MODEL_ID": "mdl-new"}}})
		},
		UpdateAlias: func(_ context.Context, raw json.RawMessage) (json.RawMessage, error) {
			var in struct {
				FunctionVersion string
				RoutingConfig   struct{ AdditionalVersionWeights map[string]float64 }
			}
			require.NoError(t, json.Unmarshal(raw, &in))
			c.mu.Lock()
			c.moves = append(c.moves, fmt.Sprintf("%s %v", in.FunctionVersion, in.RoutingConfig.AdditionalVersionWeights))
			c.mu.Unlock()
			return raw, nil
		},
		PutMetricAlarm: func(context.Context, json.RawMessage) (json.RawMessage, error) { return json.RawMessage(`{}`), nil },
		DeleteAlarms:   func(context.Context, json.RawMessage) (json.RawMessage, error) { return json.RawMessage(`{}`), nil },
		DescribeAlarms: func(_ context.Context, raw json.RawMessage) (json.RawMessage, error) {
			var in struct{ AlarmNames []string }
			require.NoError(t, json.Unmarshal(raw, &in))
			c.mu.Lock()
			c.checks++
			check := c.checks
			c.mu.Unlock()
			var alarms []map[string]any
			for i := range c.alarms {
				name := fmt.Sprintf("orrery-dev-alarm-%02d", i)
				if i < len(in.AlarmNames) {
					name = in.AlarmNames[i]
				}
				state := "OK"
				if c.firing != "" && strings.HasSuffix(name, c.firing) && check >= c.fireAt {
					state = "ALARM"
				}
				alarms = append(alarms, awsAlarm(name, state))
			}
			return reply(map[string]any{"MetricAlarms": alarms, "CompositeAlarms": []any{}})
		},
		Publish: func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return reply(map[string]string{"MessageId": asl.NewUUID()})
		},
	}
}

// awsAlarm is a MetricAlarm of DescribeAlarms as AWS answers it for a
// deployment's metric-math alarm.
func awsAlarm(name, state string) map[string]any {
	metric := func(id, m string) map[string]any {
		return map[string]any{"Id": id, "ReturnData": false, "MetricStat": map[string]any{"Period": 300, "Stat": "Sum",
			"Metric": map[string]any{"Namespace": "Orrery/Predict", "MetricName": m, "Dimensions": []any{
				map[string]string{"Name": "Environment", "Value": "dev"}, map[string]string{"Name": "Endpoint", "Value": "pulsars"},
				map[string]string{"Name": "ModelId", "Value": "mdl-20260301120000-1a2b3c4d"}}}}}
	}
	return map[string]any{
		"AlarmName": name, "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:" + name,
		"AlarmDescription": strings.Repeat("d", 160), "StateValue": state,
		"StateReason":           "Threshold Crossed: 1 datapoint [3.4 (02/12/26 07:30:00)] was greater than the threshold (0.2).",
		"StateReasonData":       `{"version":"1.0","queryDate":"2026-12-02T07:31:00.000+0000","startDate":"2026-12-02T07:30:00.000+0000","period":300,"recentDatapoints":[3.4],"threshold":0.2}`,
		"StateUpdatedTimestamp": "2026-12-02T07:31:00.000Z", "AlarmConfigurationUpdatedTimestamp": "2026-12-02T07:20:00.000Z",
		"ActionsEnabled": false, "OKActions": []any{}, "AlarmActions": []any{}, "InsufficientDataActions": []any{},
		"EvaluationPeriods": 1, "DatapointsToAlarm": 1, "Threshold": 0.2, "ComparisonOperator": "GreaterThanThreshold",
		"TreatMissingData": "notBreaching", "StateTransitionedTimestamp": "2026-12-02T07:31:00.000Z",
		"Metrics": []any{metric("errors", "Errors"), metric("requests", "Requests"),
			map[string]any{"Id": "value", "Expression": "IF(requests >= 50, errors / requests, 0)", "Label": "error rate", "ReturnData": true}},
	}
}

// recordSteps answers every deployment step and records them.
type recordSteps struct {
	mu    sync.Mutex
	steps []string
}

func (r *recordSteps) Step(_ context.Context, req deployment.StepRequest) (deployment.StepOutput, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps = append(r.steps, req.Step)
	return deployment.StepOutput{DeploymentID: req.DeploymentID, Status: "IN_PROGRESS"}, nil
}

// longestPlan is a linear deployment at 1 % a step with a day's bake: the
// most steps and checks a request can ask for.
func longestPlan(t *testing.T) pipeline.DeploymentInput {
	t.Helper()
	r := deployment.Defaults()
	r.ModelID, r.Endpoint, r.Strategy, r.LinearStepPercent, r.IntervalSeconds, r.BakeSeconds = "mdl-new", "pulsars", "linear", 1, 3600, 86400
	for i := range 10 {
		r.Alarms.CloudWatch = append(r.Alarms.CloudWatch, fmt.Sprintf("orrery-dev-latency-of-the-survey-pipeline-%02d", i))
	}
	spec, err := r.Normalize()
	require.NoError(t, err)
	plan := deployment.NewPlan(spec, false)
	names := deployment.AlarmNames("orrery-dev", "dep-20260301120000-1a2b3c4d")
	var created []string
	for _, k := range deployment.AlarmKinds {
		created = append(created, names[k])
	}
	return pipeline.DeploymentInput{DeploymentID: "dep-20260301120000-1a2b3c4d", FunctionName: "arn:aws:lambda:us-east-1:123456789012:function:orrery-dev-predict",
		Endpoint: "pulsars", ModelID: "mdl-new", ModelEnv: map[string]string{"ORRERY_MODEL_ID": "mdl-new"}, Steps: plan.Steps,
		AlarmSpecs: deployment.CloudWatchAlarms(spec, names, "dep-20260301120000-1a2b3c4d"), CreatedAlarms: created,
		Alarms: append(created, spec.Alarms.CloudWatch...), AutoRollback: true}
}

// TestDeploymentFitsThePayloadQuota runs the deployment machine with its
// largest input — the longest plan, the most alarms, AWS-sized answers —
// to promotion, and every task's input and result stays under an eighth of
// Step Functions' 256 KiB; then the same with the score-drift alarm firing
// while it bakes, which rolls back.
func TestDeploymentFitsThePayloadQuota(t *testing.T) {
	in := longestPlan(t)
	res := pipeline.DeploymentResources{StagesFunction: "arn:aws:lambda:us-east-1:123456789012:function:orrery-stages",
		AlertTopic: "arn:aws:sns:us-east-1:123456789012:orrery-dev-alerts"}
	built, err := pipeline.Deployment(res)
	require.NoError(t, err)
	// Run what ships: the definition as its JSON reads back.
	body, err := built.JSON()
	require.NoError(t, err)
	def, err := asl.Parse(body)
	require.NoError(t, err)
	noWait := func(context.Context, time.Duration) error { return nil }

	t.Run("promoted", func(t *testing.T) {
		cloud := &fakeCloud{alarms: len(in.Alarms)}
		steps := &recordSteps{}
		meter := &payloadMeter{}
		x := asl.Executor{Resources: meter.wrap(pipeline.DeploymentHandlers(res, steps, cloud.services(t))), Sleep: noWait}
		_, err := x.Execute(t.Context(), def, asl.Execution{Name: in.DeploymentID, Input: in.JSON()})
		require.NoError(t, err)
		meter.check(t)
		assert.Len(t, cloud.moves, len(in.Steps), "one alias move per plan step")
		assert.Equal(t, "6 map[7:0.01]", cloud.moves[0])
		assert.Equal(t, "7 map[]", cloud.moves[len(cloud.moves)-1])
		assert.Equal(t, deployment.StepPromote, steps.steps[len(steps.steps)-1])
		t.Logf("%d plan steps, %d alarm checks", len(in.Steps), cloud.checks)
	})

	t.Run("an alarm while baking rolls back", func(t *testing.T) {
		r := deployment.Defaults()
		r.ModelID, r.Endpoint, r.CanaryPercent, r.BakeSeconds = "mdl-new", "pulsars", 20, 30
		spec, err := r.Normalize()
		require.NoError(t, err)
		canary := in
		canary.Steps = deployment.NewPlan(spec, false).Steps
		cloud := &fakeCloud{alarms: len(in.Alarms), firing: "-score-psi", fireAt: 4}
		steps := &recordSteps{}
		x := asl.Executor{Resources: pipeline.DeploymentHandlers(res, steps, cloud.services(t)), Sleep: noWait}
		_, err = x.Execute(t.Context(), def, asl.Execution{Name: in.DeploymentID, Input: canary.JSON()})
		var pe *asl.Error
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, pipeline.ErrorDeploymentRolledBack, pe.Name)
		assert.Contains(t, pe.Cause, "score-psi is in ALARM")
		assert.Equal(t, []string{"6 map[7:0.2]", "6 map[]"}, cloud.moves, "the canary, then all traffic back")
		assert.Equal(t, 4, cloud.checks, "rolled back at the first check that saw the alarm")
		assert.Equal(t, []string{deployment.StepValidate, deployment.StepPublished, deployment.StepShifted, deployment.StepCheck,
			deployment.StepCheck, deployment.StepCheck, deployment.StepCheck, deployment.StepRollingBack, deployment.StepRolledBack}, steps.steps)
	})
}

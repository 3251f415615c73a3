package stacks

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/config"
)

// TestTrackingFunction checks the MLflow mirror of the dev variant (which sets mlflowTrackingUri and
// mlflowTokenSecret): the tracking function drains once a minute with one sender, knows the server and the
// token's secret (never the token), may read that secret; the events and stages functions know the outbox; a
// variant without the context has none of it.
func TestTrackingFunction(t *testing.T) {
	b := build(t, "dev")
	tpl := b.template(t, "pipeline")
	hasProps(t, tpl, "AWS::Lambda::Function", map[string]any{
		"FunctionName":                 b.env.Prefix() + "tracking",
		"ReservedConcurrentExecutions": float64(1),
		"Timeout":                      float64(trackingTimeoutSeconds),
		"Environment": map[string]any{"Variables": like(map[string]any{
			config.EnvMLflowTrackingURI: testMLflowURI,
			config.EnvMLflowTokenSecret: testMLflowTokenSecret,
			config.EnvTrackingTable:     like(map[string]any{"Fn::ImportValue": matches("TableJobs|Jobs")}),
		})},
	})
	hasProps(t, tpl, "AWS::Events::Rule", map[string]any{
		"ScheduleExpression": "rate(1 minute)",
		"Targets":            arrayWith(like(map[string]any{"RetryPolicy": map[string]any{"MaximumRetryAttempts": float64(0), "MaximumEventAgeInSeconds": float64(60)}})),
	})
	hasProps(t, tpl, "AWS::Lambda::EventInvokeConfig", map[string]any{"MaximumRetryAttempts": float64(0)})
	hasProps(t, tpl, "AWS::IAM::Policy", map[string]any{"PolicyDocument": like(map[string]any{
		"Statement": arrayWith(like(map[string]any{
			"Action": arrayWith("secretsmanager:GetSecretValue"),
		})),
	})})
	var queuing []string
	for id, r := range b.resources("pipeline", "AWS::Lambda::Function") {
		vars, _ := props(r)["Environment"].(map[string]any)["Variables"].(map[string]any)
		if _, ok := vars[config.EnvTrackingTable]; ok {
			queuing = append(queuing, props(r)["FunctionName"].(string))
		}
		_, hasToken := vars[config.EnvMLflowToken]
		assert.False(t, hasToken, "%s: no token in a function's configuration", id)
	}
	assert.ElementsMatch(t, []string{b.env.Prefix() + "stages", b.env.Prefix() + "events", b.env.Prefix() + "tracking"}, queuing)

	hasProps(t, b.template(t, "api"), "AWS::Lambda::Function", map[string]any{
		"FunctionName": b.env.Prefix() + "api",
		"Environment": map[string]any{"Variables": like(map[string]any{
			config.EnvMLflowTrackingURI: testMLflowURI,
			config.EnvTrackingTable:     like(map[string]any{"Fn::ImportValue": matches("TableJobs|Jobs")}),
		})},
	})

	off := build(t, "prod-jwt")
	assert.Nil(t, off.orrery.Pipeline.Tracking, "no mirror without mlflowTrackingUri")
}

func TestReadTrackingContext(t *testing.T) {
	tests := []struct {
		name    string
		ctx     map[string]string
		wantErr bool
	}{
		{"off", nil, false},
		{"url and secret", map[string]string{ContextMLflowTrackingURI: "https://mlflow.example.org", ContextMLflowTokenSecret: "orrery/t"}, false},
		{"sagemaker arn", map[string]string{ContextMLflowTrackingURI: "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/orrery"}, false},
		{"not a url", map[string]string{ContextMLflowTrackingURI: "mlflow.example.org"}, true},
		{"secret without server", map[string]string{ContextMLflowTokenSecret: "orrery/t"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var env Environment
			err := readTracking(&env, func(k string) (string, error) { return tc.ctx[k], nil })
			if tc.wantErr {
				require.ErrorIs(t, err, ErrInvalidContext)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.ctx[ContextMLflowTrackingURI], env.MLflowTrackingURI)
		})
	}
}

package stacks

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/config"
)

func TestAPIWithIAMAuthorization(t *testing.T) {
	b := build(t, "dev")
	tpl := b.template(t, "api")
	countIs(t, tpl, "AWS::ApiGatewayV2::Api", 1)
	hasProps(t, tpl, "AWS::ApiGatewayV2::Api", map[string]any{"ProtocolType": "HTTP", "Name": b.env.Prefix() + "api"})
	hasProps(t, tpl, "AWS::ApiGatewayV2::Route", map[string]any{"RouteKey": "$default", "AuthorizationType": "AWS_IAM"})
	countIs(t, tpl, "AWS::ApiGatewayV2::Authorizer", 0)
	hasProps(t, tpl, "AWS::ApiGatewayV2::Stage", map[string]any{
		"StageName":  "$default",
		"AutoDeploy": true,
		"DefaultRouteSettings": like(map[string]any{
			"ThrottlingRateLimit":  float64(b.env.APIRateLimit),
			"ThrottlingBurstLimit": float64(b.env.APIBurstLimit),
		}),
		"AccessLogSettings": map[string]any{
			"DestinationArn": map[string]any{"Fn::GetAtt": []any{matches("^AccessLogs[0-9A-F]{8}$"), "Arn"}},
			"Format":         matches(`"request_id":"\$context.requestId"`),
		},
	})
	for id, r := range b.resources("api", "AWS::ApiGatewayV2::Stage") {
		var format map[string]string
		require.NoError(t, json.Unmarshal([]byte(props(r)["AccessLogSettings"].(map[string]any)["Format"].(string)), &format), id)
		assert.Equal(t, accessLogFormat, format, id)
	}
	// The function reads the names the api binary's Config reads.
	for id, r := range b.resources("api", "AWS::Lambda::Function") {
		vars := props(r)["Environment"].(map[string]any)["Variables"].(map[string]any)
		for _, name := range []string{config.EnvJobsTable, config.EnvModelsTable, config.EnvIdempotencyTable,
			config.EnvArtifactsBucket, config.EnvDatasetsBucket, config.EnvTrainingStateMachineARN, config.EnvDataRoots,
			config.EnvEvaluationStateMachineARN} {
			assert.Contains(t, vars, name, id)
		}
	}
}

func TestAPIWithJWTAuthorizerInProd(t *testing.T) {
	b := build(t, "prod-jwt")
	tpl := b.template(t, "api")
	hasProps(t, tpl, "AWS::ApiGatewayV2::Authorizer", map[string]any{
		"AuthorizerType": "JWT",
		"JwtConfiguration": map[string]any{
			"Issuer": "https://issuer.example.org/", "Audience": []any{"orrery-api"},
		},
	})
	hasProps(t, tpl, "AWS::ApiGatewayV2::Route", map[string]any{"RouteKey": "$default", "AuthorizationType": "JWT"})
	hasProps(t, tpl, "AWS::ApiGatewayV2::Stage", map[string]any{"DefaultRouteSettings": like(map[string]any{
		"ThrottlingRateLimit": float64(b.env.APIRateLimit),
	})})
}

func TestMonitoringAlarmsNotifyTheAlertTopic(t *testing.T) {
	b := build(t, "dev")
	tpl := b.template(t, "monitoring")
	hasProps(t, tpl, "AWS::SNS::Topic", map[string]any{
		"TopicName":      b.env.Prefix() + "alerts",
		"KmsMasterKeyId": map[string]any{"Fn::GetAtt": []any{matches("^AlertKey"), "Arn"}},
	})
	for id, r := range b.resources("monitoring", "AWS::SNS::TopicPolicy") {
		assert.True(t, deniesInsecureTransport(props(r)["PolicyDocument"]), "%s: TLS-only", id)
	}
	hasProps(t, tpl, "AWS::KMS::Key", map[string]any{"EnableKeyRotation": true})

	alarms := b.resources("monitoring", "AWS::CloudWatch::Alarm")
	names := map[string]bool{}
	for id, r := range alarms {
		p := props(r)
		names[p["AlarmName"].(string)] = true
		require.Len(t, p["AlarmActions"], 1, id)
		require.Len(t, p["OKActions"], 1, id)
		ref := p["AlarmActions"].([]any)[0].(map[string]any)["Ref"].(string)
		assert.Regexp(t, "^Alerts[0-9A-F]{8}$", ref, id)
		assert.Equal(t, p["AlarmActions"], p["OKActions"], id)
	}
	for _, want := range []string{
		"training-executions-failed", "training-executions-timed-out", "incoming-dlq-not-empty",
		"status-events-dlq-not-empty", "api-5xx", "api-latency-p99", "predict-errors", "predict-latency-p99",
	} {
		assert.True(t, names[b.env.Prefix()+want], "alarm %s missing (have %v)", want, names)
	}
	hasProps(t, tpl, "AWS::CloudWatch::Alarm", map[string]any{
		"AlarmName": b.env.Prefix() + "incoming-dlq-not-empty", "MetricName": "ApproximateNumberOfMessagesVisible",
		"Namespace": "AWS/SQS", "Threshold": float64(1), "ComparisonOperator": "GreaterThanOrEqualToThreshold",
	})
	hasProps(t, tpl, "AWS::CloudWatch::Alarm", map[string]any{
		"AlarmName": b.env.Prefix() + "predict-latency-p99", "MetricName": "Duration", "ExtendedStatistic": "p99",
		"Threshold": float64(b.env.PredictLatencyP99Ms),
	})
	countIs(t, tpl, "AWS::CloudWatch::Dashboard", 1)
}

package stacks

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
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
	// Every operation has its own route, IAM-authorised, and none is left open.
	countIs(t, tpl, "AWS::ApiGatewayV2::Route", len(config.Routes)+1)
	for _, r := range config.Routes {
		hasProps(t, tpl, "AWS::ApiGatewayV2::Route", map[string]any{
			"RouteKey": r.Method + " " + apiGatewayPath(r.Path), "AuthorizationType": "AWS_IAM",
			"AuthorizationScopes": assertions.Match_Absent(),
		})
	}
	for id, r := range b.resources("api", "AWS::ApiGatewayV2::Route") {
		assert.Equal(t, "AWS_IAM", props(r)["AuthorizationType"], id)
	}
	hasProps(t, tpl, "AWS::ApiGatewayV2::Route", map[string]any{"RouteKey": "GET /ml/jobs/{job_id}/artifacts/{key+}"})
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
		// The only data root is the datasets bucket: a dataset_path in any
		// other bucket the role reaches (artifacts, ...) is refused.
		assert.Equal(t, map[string]any{"Fn::Join": []any{"", []any{"s3://", vars[config.EnvDatasetsBucket], "/"}}},
			vars[config.EnvDataRoots], id)
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
	hasProps(t, tpl, "AWS::ApiGatewayV2::Route", map[string]any{"RouteKey": "$default", "AuthorizationType": "JWT",
		"AuthorizationScopes": assertions.Match_Absent()})
	// Each operation's route needs its scope: read for the GETs, train to start or cancel training, optimization
	// and evaluation jobs, deploy for deployments and endpoint calls.
	countIs(t, tpl, "AWS::ApiGatewayV2::Route", len(config.Routes)+1)
	scopes := map[string]string{}
	for _, r := range config.Routes {
		key := r.Method + " " + apiGatewayPath(r.Path)
		scopes[key] = r.Scope
		hasProps(t, tpl, "AWS::ApiGatewayV2::Route", map[string]any{
			"RouteKey": key, "AuthorizationType": "JWT", "AuthorizationScopes": []any{r.Scope},
		})
	}
	for key, want := range map[string]string{
		"GET /ml/models": config.ScopeRead, "GET /ml/training/{job_id}/status": config.ScopeRead,
		"POST /ml/training/start": config.ScopeTrain, "POST /ml/training/{job_id}/cancel": config.ScopeTrain,
		"POST /ml/optimization/start": config.ScopeTrain, "POST /ml/optimization/{job_id}/cancel": config.ScopeTrain,
		"POST /ml/evaluation/evaluate": config.ScopeTrain, "POST /ml/deployment/deploy": config.ScopeDeploy,
		"POST /ml/deployment/{deployment_id}/rollback": config.ScopeDeploy,
		"POST /ml/endpoints/{endpoint}/predict":        config.ScopeDeploy,
	} {
		assert.Equal(t, want, scopes[key], key)
	}
	// The serving stack's route of the live endpoint (straight to its alias) needs the deploy scope too.
	hasProps(t, b.template(t, "serving"), "AWS::ApiGatewayV2::Route", map[string]any{
		"RouteKey": "POST /ml/endpoints/live/predict", "AuthorizationType": "JWT", "AuthorizationScopes": []any{config.ScopeDeploy},
	})
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

package stacks

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	awsconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/orrery-ml/orrery/infra/constructs"
	"github.com/orrery-ml/orrery/shared/config"
)

// apiTimeoutSeconds is the api function's timeout: HTTP API integrations give up after 30 s.
const apiTimeoutSeconds = 29

// APIStack holds the HTTP API and the api function behind it.
type APIStack struct {
	awscdk.Stack
	API       awsapigatewayv2.HttpApi
	Stage     awsapigatewayv2.HttpStage
	Function  constructs.GoFunction
	AccessLog awslogs.LogGroup
	// Authorizer authorises every route: IAM, or the JWT authorizer.
	Authorizer awsapigatewayv2.IHttpRouteAuthorizer
	// jwtScopePrefix is put before each scope; jwt says whether scopes are checked.
	jwtScopePrefix string
	jwt            bool
}

// AuthorizationScopes are the JWT scopes a route of scope (config.ScopeRead, ...) needs: nil with IAM
// authorization, which has no scopes.
func (s *APIStack) AuthorizationScopes(scope string) *[]*string {
	if !s.jwt {
		return nil
	}
	return jsii.Strings(s.jwtScopePrefix + scope)
}

// APIProps are the api stack's inputs.
type APIProps struct {
	awscdk.StackProps
	RepoRoot string
	Data     *DataStack
	Pipeline *PipelineStack
}

// accessLogFormat is the JSON access-log line of the HTTP API ($context variables of API Gateway HTTP APIs).
var accessLogFormat = map[string]string{
	"request_id":         "$context.requestId",
	"ip":                 "$context.identity.sourceIp",
	"caller":             "$context.identity.caller",
	"user":               "$context.identity.user",
	"request_time":       "$context.requestTime",
	"method":             "$context.httpMethod",
	"route":              "$context.routeKey",
	"path":               "$context.path",
	"status":             "$context.status",
	"protocol":           "$context.protocol",
	"response_length":    "$context.responseLength",
	"latency_ms":         "$context.responseLatency",
	"integration_ms":     "$context.integrationLatency",
	"integration_error":  "$context.integrationErrorMessage",
	"authorizer_error":   "$context.authorizer.error",
	"jwt_subject":        "$context.authorizer.claims.sub",
	"integration_status": "$context.integrationStatus",
}

// apiItemCalls are the DynamoDB calls the api function's code makes, per table (shared/store/dynamostore, as
// functions/api wires it): jobs are created, read and conditionally updated (CreateJob, GetJob, UpdateJob);
// models read and listed (GetModel, ListModels scans), retraining policies put, scanned and deleted
// (/ml/retraining/policies); idempotency records reserved, read, completed and
// released (ReleaseIdempotencyKey deletes); studies created, read and updated, their trials listed by a Query
// of the study's partition (optimization routes). Nothing scans the other tables, deletes elsewhere or
// batch-writes; deployments are created, read and conditionally updated, the
// endpoints' lock records read and conditionally put, and the live deployment
// found by a Scan (deployment routes).
var apiItemCalls = map[Table][]string{
	TableJobs:        {"GetItem", "PutItem", "UpdateItem"},
	TableModels:      {"GetItem", "Scan", "PutItem", "DeleteItem"},
	TableIdempotency: {"GetItem", "PutItem", "UpdateItem", "DeleteItem"},
	TableStudies:     {"GetItem", "PutItem", "UpdateItem", "Query"},
	TableDeployments: {"GetItem", "PutItem", "UpdateItem", "Scan"},
}

// apiGatewayPath writes a ServeMux pattern's path ("/ml/jobs/{job_id}/artifacts/{key...}") the way API Gateway
// routes write it ("{key+}" for the greedy trailing parameter).
func apiGatewayPath(p string) string {
	return strings.ReplaceAll(p, "...}", "+}")
}

// NewAPIStack creates the HTTP API: a route per operation of config.Routes and a $default route, all to the api
// function (which routes by itself), IAM authorization on every route unless a JWT issuer is configured — then a JWT
// authorizer that checks each operation's scope (read, train, deploy) —, throttling and JSON access logs on the
// default stage.
func NewAPIStack(scope awsconstructs.Construct, env Environment, props APIProps) (*APIStack, error) {
	stack := awscdk.NewStack(scope, jsii.String(env.Prefix()+"api"), &props.StackProps)
	s := &APIStack{Stack: stack, jwt: env.JWTIssuer != "", jwtScopePrefix: env.JWTScopePrefix}
	data := props.Data

	fnEnv := storageEnvironment(data)
	fnEnv[config.EnvDataRoots] = awscdk.Fn_Join(jsii.String(""), jsii.Strings("s3://", *data.Datasets.BucketName(), "/"))
	// GET /ml/endpoints reads the predict function's aliases (the serving stack creates the function under this name).
	fnEnv[config.EnvPredictFunction] = jsii.String(env.PredictFunctionName())
	fnEnv[config.EnvEnvironment] = jsii.String(env.Name)
	machineEnv := map[string]string{
		MachineTraining:     config.EnvTrainingStateMachineARN,
		MachineOptimization: config.EnvOptimizationStateMachineARN,
		MachineDeployment:   config.EnvDeploymentStateMachineARN,
		MachineEvaluation:   config.EnvEvaluationStateMachineARN,
	}
	for name, sm := range props.Pipeline.StateMachines {
		if v, ok := machineEnv[name]; ok {
			fnEnv[v] = sm.StateMachineArn()
		}
	}
	if _, ok := props.Pipeline.StateMachines[MachineDeployment]; ok {
		fnEnv[config.EnvPredictFunction] = jsii.String(predictFunctionName(env))
		fnEnv[config.EnvEnvironment] = jsii.String(env.Name)
		fnEnv[config.EnvAlarmPrefix] = jsii.String(deploymentAlarmPrefix(env))
	}
	fn, err := constructs.NewGoFunction(stack, "Api", constructs.GoFunctionProps{
		Name: "api", FunctionName: env.Prefix() + "api", Description: "Orrery HTTP API",
		RepoRoot: props.RepoRoot, RequireZip: env.RequireBuiltAssets, Environment: fnEnv,
		MemoryMB: env.FunctionMemoryMB, Timeout: awscdk.Duration_Seconds(jsii.Number(apiTimeoutSeconds)),
		LogRetention: env.LogRetention, RemovalPolicy: env.RemovalPolicy, ReservedConcurrency: env.Concurrency.API,
	})
	if err != nil {
		return nil, fmt.Errorf("api stack: %w", err)
	}
	s.Function = fn
	constructs.GrantObjects(fn.Role, data.Datasets, data.Key, constructs.Read)
	constructs.GrantObjects(fn.Role, data.Artifacts, data.Key, constructs.Read)
	for _, t := range Tables {
		constructs.GrantItemActions(fn.Role, apiItemCalls[t], data.Tables[t])
	}
	apiTracking(env, fn, data)
	for _, name := range []string{MachineTraining, MachineOptimization, MachineDeployment} {
		sm, ok := props.Pipeline.StateMachines[name]
		if !ok {
			continue
		}
		sm.GrantStartExecution(fn.Role)
		// Cancelling a job stops its execution.
		fn.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("states:StopExecution", "states:DescribeExecution"),
			Resources: jsii.Strings(*executionArns(sm.StateMachineArn())),
		}))
	}
	if sm, ok := props.Pipeline.StateMachines[MachineEvaluation]; ok {
		// An evaluation has no cancel route: starting it is all the function does.
		sm.GrantStartExecution(fn.Role)
	}
	// The endpoint views: the predict function's aliases and the model id in each version's configuration.
	predictArn := stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("lambda"), Resource: jsii.String("function"),
		ResourceName: jsii.String(env.PredictFunctionName()), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME})
	fn.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("lambda:ListAliases", "lambda:GetAlias", "lambda:GetFunctionConfiguration"),
		Resources: &[]*string{predictArn, jsii.String(*predictArn + ":*")},
	}))
	if err := suppressFunctionFindings(fn); err != nil {
		return nil, err
	}
	if err := constructs.Suppress(fn.Role, constructs.Suppression{
		Rule: "AwsSolutions-IAM5", Reason: reasonExecutions,
		AppliesToRegex: []string{`/^Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:.*:\*$/`},
	}, constructs.Suppression{
		Rule: "AwsSolutions-IAM5", Reason: "The endpoint views read the configuration of every published version of the predict function (function:<name>:<version>); versions are numbered by Lambda, so they cannot be listed in advance",
		AppliesToRegex: []string{`/^Resource::arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:` + env.PredictFunctionName() + `:\*$/`},
	}); err != nil {
		return nil, err
	}

	var authorizer awsapigatewayv2.IHttpRouteAuthorizer = awsapigatewayv2authorizers.NewHttpIamAuthorizer()
	if env.JWTIssuer != "" {
		authorizer = awsapigatewayv2authorizers.NewHttpJwtAuthorizer(jsii.String("Jwt"), jsii.String(env.JWTIssuer),
			&awsapigatewayv2authorizers.HttpJwtAuthorizerProps{JwtAudience: jsii.Strings(env.JWTAudience...)})
	}
	s.Authorizer = authorizer
	integration := awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("Api"), fn.Function, nil)
	s.API = awsapigatewayv2.NewHttpApi(stack, jsii.String("HttpApi"), &awsapigatewayv2.HttpApiProps{
		ApiName:            jsii.String(env.Prefix() + "api"),
		Description:        jsii.String("Orrery " + env.Name + ": training, optimization, evaluation and deployment of classifiers"),
		DefaultIntegration: integration,
		DefaultAuthorizer:  authorizer,
		CreateDefaultStage: jsii.Bool(false),
	})
	// One route per operation, so that a JWT's scopes are checked per route (a token with only the read scope
	// starts nothing); the $default route, authorised the same way but with no scope, lets the function answer
	// an unknown path or method with its problem document.
	for _, r := range config.Routes {
		opts := &awsapigatewayv2.AddRoutesOptions{
			Path:        jsii.String(apiGatewayPath(r.Path)),
			Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod(r.Method)},
			Integration: integration,
			Authorizer:  authorizer, AuthorizationScopes: s.AuthorizationScopes(r.Scope),
		}
		s.API.AddRoutes(opts)
	}
	s.AccessLog = awslogs.NewLogGroup(stack, jsii.String("AccessLogs"), &awslogs.LogGroupProps{
		Retention:     env.LogRetention,
		RemovalPolicy: env.RemovalPolicy,
	})
	s.Stage = awsapigatewayv2.NewHttpStage(stack, jsii.String("DefaultStage"), &awsapigatewayv2.HttpStageProps{
		HttpApi:    s.API,
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(float64(env.APIRateLimit)),
			BurstLimit: jsii.Number(float64(env.APIBurstLimit)),
		},
		DetailedMetricsEnabled: jsii.Bool(true),
	})
	format, err := json.Marshal(accessLogFormat)
	if err != nil {
		return nil, fmt.Errorf("api stack: access log format: %w", err)
	}
	cfnStage := s.Stage.Node().DefaultChild().(awsapigatewayv2.CfnStage)
	cfnStage.SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: s.AccessLog.LogGroupArn(),
		Format:         jsii.String(string(format)),
	})
	awscdk.NewCfnOutput(stack, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{
		Value:       s.API.ApiEndpoint(),
		Description: jsii.String("The HTTP API's endpoint (IAM-signed requests, or a JWT when configured)"),
	})
	if env.Commit != "" {
		awscdk.NewCfnOutput(stack, jsii.String("DeployedCommit"), &awscdk.CfnOutputProps{
			Value:       jsii.String(env.Commit),
			Description: jsii.String("The git commit of the last deploy; the deploy workflow rolls back to it when the smoke test fails"),
		})
	}
	return s, nil
}

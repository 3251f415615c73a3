package stacks

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	awsconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/orrery-ml/orrery/infra/constructs"
	"github.com/orrery-ml/orrery/shared/config"
)

// LiveAlias is the default endpoint, and so the name of the predict function's alias that serves it.
const LiveAlias = "live"

// predictTimeoutSeconds bounds one prediction request.
const predictTimeoutSeconds = 10

// ModelsPrefix is the artifacts bucket's prefix of model directories, the only objects the predict function reads.
const ModelsPrefix = "models/"

// ServingStack holds the model endpoints: the predict function, the version this stack publishes, one alias per
// endpoint and the HTTP API route of each.
type ServingStack struct {
	awscdk.Stack
	Predict constructs.GoFunction
	// BaseVersion is the version the stack publishes once, serving no model: every alias starts on it.
	BaseVersion awslambda.Version
	// Endpoints are the provisioned endpoints in order, Aliases their aliases by name; Live is the first
	// endpoint's alias (LiveAlias by default), which the monitoring stack watches.
	Endpoints []string
	Aliases   map[string]awslambda.Alias
	Live      awslambda.Alias
	// Routes are the POST /ml/endpoints/<endpoint>/predict routes by endpoint.
	Routes map[string]awsapigatewayv2.HttpRoute
}

// ServingProps are the serving stack's inputs.
type ServingProps struct {
	awscdk.StackProps
	RepoRoot string
	Data     *DataStack
	// API is the HTTP API the predict routes join.
	API *APIStack
}

// predictEnvironment is the environment of the predict function: what functions/predict's Config reads, except
// config.EnvModelID, which the deployment flow sets on the versions it publishes (the stack's own version serves
// no model).
func predictEnvironment(env Environment, data *DataStack) map[string]*string {
	return map[string]*string{
		config.EnvArtifactsBucket: data.Artifacts.BucketName(),
		config.EnvEnvironment:     jsii.String(env.Name),
		config.EnvLogLevel:        jsii.String("info"),
	}
}

// NewServingStack creates the predict function from dist/functions/predict.zip, publishes one version of it, and
// for each endpoint of env.Endpoints an alias named after the endpoint and the HTTP API route POST
// /ml/endpoints/<endpoint>/predict integrated with that alias (with the permission for API Gateway to invoke it).
//
// Deployments move the aliases (shared/pipeline's deployment machine: publishVersion with ORRERY_MODEL_ID, then
// updateAlias with FunctionVersion and RoutingConfig.AdditionalVersionWeights); this stack must never move them
// back. CloudFormation updates a resource only when its template properties change, and does not compare them
// with the live resource, so an alias whose properties stay the same from one synth to the next is left exactly
// where the last deployment put it. Hence: the aliases point at BaseVersion, an AWS::Lambda::Version with a fixed
// logical id and properties that do not depend on the code (not Function.CurrentVersion, whose logical id hashes
// the code and configuration and so changes, and would re-point every alias, with every code change); the aliases
// set no RoutingConfig and a constant description; their logical ids derive from the endpoint names only. New code
// reaches $LATEST, which deployments publish from. TestServingAliasesSurviveNewCode checks it.
func NewServingStack(scope awsconstructs.Construct, env Environment, props ServingProps) (*ServingStack, error) {
	stack := awscdk.NewStack(scope, jsii.String(env.Prefix()+"serving"), &props.StackProps)
	s := &ServingStack{Stack: stack, Aliases: map[string]awslambda.Alias{}, Routes: map[string]awsapigatewayv2.HttpRoute{}}
	if len(env.Endpoints) == 0 {
		return nil, fmt.Errorf("serving stack: no endpoints to provision: %w", ErrInvalidContext)
	}
	fn, err := constructs.NewGoFunction(stack, "Predict", constructs.GoFunctionProps{
		Name: "predict", FunctionName: env.PredictFunctionName(), Description: "Orrery model endpoint",
		RepoRoot: props.RepoRoot, RequireZip: env.RequireBuiltAssets,
		Environment: predictEnvironment(env, props.Data), MemoryMB: env.PredictMemoryMB,
		Timeout:      awscdk.Duration_Seconds(jsii.Number(predictTimeoutSeconds)),
		LogRetention: env.LogRetention, RemovalPolicy: env.RemovalPolicy, ReservedConcurrency: env.Concurrency.Predict,
	})
	if err != nil {
		return nil, fmt.Errorf("serving stack: %w", err)
	}
	s.Predict = fn
	// The function reads model directories and nothing else: no table, no other prefix.
	constructs.GrantObjects(fn.Role, props.Data.Artifacts, props.Data.Key, constructs.Read, ModelsPrefix)
	if err := suppressFunctionFindings(fn); err != nil {
		return nil, err
	}
	s.BaseVersion = awslambda.NewVersion(stack, jsii.String("PredictBaseVersion"), &awslambda.VersionProps{
		Lambda:        fn.Function,
		Description:   jsii.String("Published once by the serving stack; serves no model"),
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	s.Endpoints = append([]string(nil), env.Endpoints...)
	for _, name := range s.Endpoints {
		id := constructID(name)
		alias := awslambda.NewAlias(stack, jsii.String("Alias"+id), &awslambda.AliasProps{
			AliasName:   jsii.String(name),
			Version:     s.BaseVersion,
			Description: jsii.String("Endpoint " + name + "; deployments move its version and weights"),
		})
		s.Aliases[name] = alias
		s.Routes[name] = awsapigatewayv2.NewHttpRoute(stack, jsii.String("PredictRoute"+id), &awsapigatewayv2.HttpRouteProps{
			HttpApi:     props.API.API,
			RouteKey:    awsapigatewayv2.HttpRouteKey_With(jsii.String("/ml/endpoints/"+name+"/predict"), awsapigatewayv2.HttpMethod_POST),
			Integration: awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("Predict"+id), alias, nil),
			// Calling an endpoint needs the deploy scope, as the api function's route of the same path does.
			Authorizer: props.API.Authorizer, AuthorizationScopes: props.API.AuthorizationScopes(config.ScopeDeploy),
		})
		awscdk.NewCfnOutput(stack, jsii.String("Alias"+id+"Arn"), &awscdk.CfnOutputProps{
			Value:       alias.FunctionArn(),
			Description: jsii.String("The predict function's alias of endpoint " + name),
		})
	}
	s.Live = s.Aliases[s.Endpoints[0]]
	awscdk.NewCfnOutput(stack, jsii.String("PredictFunctionName"), &awscdk.CfnOutputProps{
		Value:       fn.Function.FunctionName(),
		Description: jsii.String("The predict function, whose versions deployments publish"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("PredictFunctionArn"), &awscdk.CfnOutputProps{
		Value:       fn.Function.FunctionArn(),
		Description: jsii.String("The predict function's ARN (unqualified)"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("PredictAliases"), &awscdk.CfnOutputProps{
		Value:       jsii.String(strings.Join(s.Endpoints, ",")),
		Description: jsii.String("The provisioned endpoints: the predict function's aliases of these names"),
	})
	return s, nil
}

// constructID turns an endpoint name into a construct id part: letters and digits, each '-' or '_' making the
// next character upper case ("pulsar-v2" -> "PulsarV2"), so ids are stable and distinct for the names a Lambda
// alias may have (x_y and x-y both give XY; FromContext refuses neither, so a collision is reported by CDK).
func constructID(name string) string {
	var b strings.Builder
	upper := true
	for _, c := range name {
		switch {
		case c == '-' || c == '_':
			upper = true
		case upper && c >= 'a' && c <= 'z':
			b.WriteRune(c - 'a' + 'A')
			upper = false
		default:
			b.WriteRune(c)
			upper = false
		}
	}
	return b.String()
}

package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	awsconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/orrery-ml/orrery/infra/constructs"
)

// LiveAlias is the name of the predict function's alias that clients invoke; deployments shift it between
// versions.
const LiveAlias = "live"

// predictTimeoutSeconds bounds one prediction request.
const predictTimeoutSeconds = 10

// ServingStack holds the model endpoint: the predict function and its live alias.
type ServingStack struct {
	awscdk.Stack
	Predict constructs.GoFunction
	Live    awslambda.Alias
}

// ServingProps are the serving stack's inputs.
type ServingProps struct {
	awscdk.StackProps
	RepoRoot string
	Data     *DataStack
}

// NewServingStack creates the predict function (dist/functions/predict.zip, or the placeholder when that zip is
// not built), publishes a version and points the live alias at it. Deployments later publish
// versions bound to a model and shift the alias with weighted routing (shared/ml/deployment).
func NewServingStack(scope awsconstructs.Construct, env Environment, props ServingProps) (*ServingStack, error) {
	stack := awscdk.NewStack(scope, jsii.String(env.Prefix()+"serving"), &props.StackProps)
	s := &ServingStack{Stack: stack}
	fn, err := constructs.NewGoFunction(stack, "Predict", constructs.GoFunctionProps{
		Name: "predict", FunctionName: env.Prefix() + "predict", Description: "Orrery model endpoint",
		RepoRoot: props.RepoRoot, RequireZip: env.RequireBuiltAssets,
		Environment: storageEnvironment(props.Data), MemoryMB: env.PredictMemoryMB,
		Timeout:      awscdk.Duration_Seconds(jsii.Number(predictTimeoutSeconds)),
		LogRetention: env.LogRetention, RemovalPolicy: env.RemovalPolicy, ReservedConcurrency: env.Concurrency.Predict,
	})
	if err != nil {
		return nil, fmt.Errorf("serving stack: %w", err)
	}
	s.Predict = fn
	constructs.GrantObjects(fn.Role, props.Data.Artifacts, props.Data.Key, constructs.Read, "models/")
	constructs.GrantItems(fn.Role, constructs.Read, props.Data.Tables[TableModels], props.Data.Tables[TableDeployments])
	if err := suppressFunctionFindings(fn); err != nil {
		return nil, err
	}
	s.Live = awslambda.NewAlias(stack, jsii.String("Live"), &awslambda.AliasProps{
		AliasName:   jsii.String(LiveAlias),
		Version:     fn.Function.CurrentVersion(),
		Description: jsii.String("The version clients invoke; deployments shift it with weighted routing"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("PredictLiveArn"), &awscdk.CfnOutputProps{
		Value:       s.Live.FunctionArn(),
		Description: jsii.String("Invoke this ARN to predict with the live model"),
	})
	return s, nil
}

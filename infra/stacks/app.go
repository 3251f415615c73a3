package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// AppProps configures New.
type AppProps struct {
	// Env is the environment to build.
	Env Environment
	// RepoRoot is the repository root: the trainer image's build context, where dist/functions lives.
	RepoRoot string
	// Account and Region pin the stacks; empty leaves them environment-agnostic (offline synth).
	Account, Region string
	// Machines are the state machines to deploy (see Machine).
	Machines []Machine
	// SkipNag leaves cdk-nag's checks off; only for tests that synthesize one variant after another.
	SkipNag bool
}

// Orrery is the whole deployment of one environment.
type Orrery struct {
	Data       *DataStack
	Backbone   *BackboneStack
	Compute    *ComputeStack
	Pipeline   *PipelineStack
	API        *APIStack
	Serving    *ServingStack
	Monitoring *MonitoringStack
	// CI is the CI stack, built only when the environment names a GitHub repository.
	CI *CIStack
}

// Stacks lists the stacks in dependency order (the CI stack, when built, last).
func (o *Orrery) Stacks() []awscdk.Stack {
	out := []awscdk.Stack{o.Data.Stack, o.Backbone.Stack, o.Compute.Stack, o.Pipeline.Stack, o.API.Stack, o.Serving.Stack, o.Monitoring.Stack}
	if o.CI != nil {
		out = append(out, o.CI.Stack)
	}
	return out
}

// New builds every stack of props.Env into app, tags them, and adds cdk-nag's AwsSolutions checks, whose findings
// appear as errors and warnings when the app is synthesized.
//
// CDK reports invalid construct properties by panicking through jsii; New turns such a panic into an error
// wrapping ErrInvalidApp.
func New(app awscdk.App, props AppProps) (o *Orrery, err error) {
	defer func() {
		if r := recover(); r != nil {
			o, err = nil, fmt.Errorf("build %s app: %v: %w", props.Env.Name, r, ErrInvalidApp)
		}
	}()
	for flag, value := range featureFlags {
		app.Node().SetContext(jsii.String(flag), value)
	}
	env := props.Env
	base := awscdk.StackProps{}
	if props.Account != "" || props.Region != "" {
		base.Env = &awscdk.Environment{Account: strOrNil(props.Account), Region: strOrNil(props.Region)}
	}
	withDescription := func(what string) *awscdk.StackProps {
		p := base
		p.Description = jsii.String("Orrery (" + env.Name + "): " + what)
		return &p
	}
	o = &Orrery{}
	if o.Data, err = NewDataStack(app, env, withDescription("data sets, artifacts, tables")); err != nil {
		return nil, err
	}
	if o.Backbone, err = NewBackboneStack(app, env, withDescription("status-event queue and rules")); err != nil {
		return nil, err
	}
	if o.Compute, err = NewComputeStack(app, env, ComputeProps{
		StackProps: *withDescription("trainer image and AWS Batch"), RepoRoot: props.RepoRoot, Data: o.Data,
	}); err != nil {
		return nil, err
	}
	if o.Pipeline, err = NewPipelineStack(app, env, PipelineProps{
		StackProps: *withDescription("backbone functions and state machines"), RepoRoot: props.RepoRoot,
		Data: o.Data, Backbone: o.Backbone, Compute: o.Compute, Machines: props.Machines,
	}); err != nil {
		return nil, err
	}
	if o.API, err = NewAPIStack(app, env, APIProps{
		StackProps: *withDescription("HTTP API"), RepoRoot: props.RepoRoot, Data: o.Data, Pipeline: o.Pipeline,
	}); err != nil {
		return nil, err
	}
	if o.Serving, err = NewServingStack(app, env, ServingProps{
		StackProps: *withDescription("predict function, its endpoint aliases and their routes"), RepoRoot: props.RepoRoot,
		Data: o.Data, API: o.API,
	}); err != nil {
		return nil, err
	}
	if o.Monitoring, err = NewMonitoringStack(app, env, MonitoringProps{
		StackProps: *withDescription("alarms, alert topic, dashboard"),
		Data:       o.Data, Backbone: o.Backbone, Pipeline: o.Pipeline, API: o.API, Serving: o.Serving,
	}); err != nil {
		return nil, err
	}
	if env.GitHubRepo != "" {
		if o.CI, err = NewCIStack(app, env, withDescription("GitHub OIDC roles and the trainer image repository")); err != nil {
			return nil, err
		}
	}
	awscdk.Tags_Of(app).Add(jsii.String("project"), jsii.String("orrery"), nil)
	awscdk.Tags_Of(app).Add(jsii.String("environment"), jsii.String(env.Name), nil)
	if !props.SkipNag {
		awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	}
	return o, nil
}

// featureFlags are the CDK feature flags the stacks rely on, set on the app itself so that tests and `cdk synth`
// build the same thing whatever cdk.json says.
var featureFlags = map[string]any{
	// Server access logs are delivered under a bucket policy, not the LogDeliveryWrite ACL (which object
	// ownership "bucket owner enforced" forbids).
	"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": true,
	// Cross-stack references are CloudFormation exports, which keep a consumer's input from being deleted under
	// it; stated explicitly so the behaviour does not change with a CDK upgrade.
	"@aws-cdk/core:defaultCrossStackReferences": "strong",
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

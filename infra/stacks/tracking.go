package stacks

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"

	"github.com/orrery-ml/orrery/infra/constructs"
	"github.com/orrery-ml/orrery/shared/config"
)

// Context keys of the MLflow mirror (`cdk synth -c mlflowTrackingUri=https://mlflow.example.org
// -c mlflowTokenSecret=orrery/mlflow-token`).
const (
	// ContextMLflowTrackingURI, when set, turns the MLflow mirror on: an http(s) URL of the tracking server, or a
	// SageMaker managed MLflow tracking server's ARN.
	ContextMLflowTrackingURI = "mlflowTrackingUri"
	// ContextMLflowTokenSecret names (name or ARN) the Secrets Manager secret whose string is the server's bearer
	// token; the tracking function reads it at start, so the token is never in a template or a function's
	// configuration.
	ContextMLflowTokenSecret = "mlflowTokenSecret"
	// ContextMLflowExperiment names the MLflow experiment (default: the mirror's, "orrery").
	ContextMLflowExperiment = "mlflowExperiment"
)

// Tracking function sizing: a drain stops trackingTimeoutSeconds less functions/tracking's margin after it
// began, before the next minute's schedule fires, so drains rarely overlap; reserved concurrency 1 makes sure
// they never do (the mirror's order and deduplication assume one sender).
const (
	trackingTimeoutSeconds = 60
	trackingMemoryMB       = 1024
)

var sageMakerMLflowARN = regexp.MustCompile(`^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:mlflow-tracking-server/[A-Za-z0-9-]+$`)

// readTracking reads the MLflow context values into env.
func readTracking(env *Environment, get func(string) (string, error)) error {
	var err error
	if env.MLflowTrackingURI, err = get(ContextMLflowTrackingURI); err != nil {
		return err
	}
	if env.MLflowTokenSecret, err = get(ContextMLflowTokenSecret); err != nil {
		return err
	}
	if env.MLflowExperiment, err = get(ContextMLflowExperiment); err != nil {
		return err
	}
	if u := env.MLflowTrackingURI; u != "" && !sageMakerMLflowARN.MatchString(u) {
		p, perr := url.Parse(u)
		if perr != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return fmt.Errorf("context %q: %q is neither an http(s) URL nor a SageMaker MLflow tracking server ARN: %w",
				ContextMLflowTrackingURI, u, ErrInvalidContext)
		}
	}
	if env.MLflowTrackingURI == "" && (env.MLflowTokenSecret != "" || env.MLflowExperiment != "") {
		return fmt.Errorf("context %q and %q need %q: %w", ContextMLflowTokenSecret, ContextMLflowExperiment,
			ContextMLflowTrackingURI, ErrInvalidContext)
	}
	return nil
}

// addTracking, with the MLflow mirror on (Environment.MLflowTrackingURI), tells the events and stages functions
// where to queue (the outbox is kept in the jobs table) and adds the tracking function, which drains the outbox
// every minute (functions/tracking says why a schedule): it reads the jobs, models and studies tables and the
// artifacts bucket, writes the outbox, and reads the token's secret.
func (s *PipelineStack) addTracking(env Environment, data *DataStack,
	function func(id, name, description string, memory, timeout, concurrency, storage int, extraEnv map[string]*string) (constructs.GoFunction, error)) error {
	if env.MLflowTrackingURI == "" {
		return nil
	}
	outbox := data.Tables[TableJobs]
	for _, fn := range []constructs.GoFunction{s.Stages, s.Events} {
		fn.Function.AddEnvironment(jsii.String(config.EnvTrackingTable), outbox.TableName(), nil)
	}
	fnEnv := map[string]*string{
		config.EnvTrackingTable:     outbox.TableName(),
		config.EnvMLflowTrackingURI: jsii.String(env.MLflowTrackingURI),
	}
	if env.MLflowExperiment != "" {
		fnEnv[config.EnvMLflowExperiment] = jsii.String(env.MLflowExperiment)
	}
	if env.MLflowTokenSecret != "" {
		fnEnv[config.EnvMLflowTokenSecret] = jsii.String(env.MLflowTokenSecret)
	}
	if env.Commit != "" {
		fnEnv[config.EnvGitCommit] = jsii.String(env.Commit)
	}
	fn, err := function("Tracking", "tracking", "Orrery MLflow mirror: sends the queued runs, model versions and aliases to MLflow",
		trackingMemoryMB, trackingTimeoutSeconds, 1, 0, fnEnv)
	if err != nil {
		return err
	}
	s.Tracking = &fn
	constructs.GrantItems(fn.Role, constructs.ReadWrite, outbox)
	constructs.GrantItems(fn.Role, constructs.Read, data.Tables[TableModels], data.Tables[TableStudies])
	constructs.GrantObjects(fn.Role, data.Artifacts, data.Key, constructs.Read)
	if secret := env.MLflowTokenSecret; secret != "" {
		var sec awssecretsmanager.ISecret
		if strings.HasPrefix(secret, "arn:") {
			sec = awssecretsmanager.Secret_FromSecretCompleteArn(s.Stack, jsii.String("MLflowToken"), jsii.String(secret))
		} else {
			sec = awssecretsmanager.Secret_FromSecretNameV2(s.Stack, jsii.String("MLflowToken"), jsii.String(secret))
		}
		sec.GrantRead(fn.Role, nil)
	}
	if sageMakerMLflowARN.MatchString(env.MLflowTrackingURI) {
		fn.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("sagemaker-mlflow:*"), Resources: jsii.Strings(env.MLflowTrackingURI),
		}))
	}
	// A scheduled invocation that cannot run (the one allowed is still draining) is dropped, not retried: the
	// next minute's replaces it, and the outbox keeps the work.
	awsevents.NewRule(s.Stack, jsii.String("TrackingSchedule"), &awsevents.RuleProps{
		Description: jsii.String("Drains Orrery's MLflow outbox every minute"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(1))),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn.Function, &awseventstargets.LambdaFunctionProps{
			RetryAttempts: jsii.Number(0), MaxEventAge: awscdk.Duration_Seconds(jsii.Number(60)),
		})},
	})
	fn.Function.ConfigureAsyncInvoke(&awslambda.EventInvokeConfigOptions{
		RetryAttempts: jsii.Number(0), MaxEventAge: awscdk.Duration_Seconds(jsii.Number(60)),
	})
	return suppressFunctionFindings(fn)
}

// apiTracking, with the MLflow mirror on, lets the api function read the mirror's outbox (GetItem of its refs,
// Query of its entries, in the jobs table) to add the mirroring state to job statuses and MLflow links to model
// records; it never calls the server.
func apiTracking(env Environment, fn constructs.GoFunction, data *DataStack) {
	if env.MLflowTrackingURI == "" {
		return
	}
	fn.Function.AddEnvironment(jsii.String(config.EnvTrackingTable), data.Tables[TableJobs].TableName(), nil)
	fn.Function.AddEnvironment(jsii.String(config.EnvMLflowTrackingURI), jsii.String(env.MLflowTrackingURI), nil)
	if env.MLflowExperiment != "" {
		fn.Function.AddEnvironment(jsii.String(config.EnvMLflowExperiment), jsii.String(env.MLflowExperiment), nil)
	}
	constructs.GrantItemActions(fn.Role, []string{"Query"}, data.Tables[TableJobs])
}

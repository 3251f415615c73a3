// Package stacks defines the CloudFormation stacks of Orrery's AWS deployment, split by lifecycle: data (buckets,
// tables, keys), backbone (queues with dead-letter queues, EventBridge rules), compute (the trainer image, AWS
// Batch), pipeline (the backbone Lambda functions and the Step Functions state machines built by shared/pipeline),
// api (the HTTP API), serving (the predict function and its live alias), monitoring (alarms, alert topic,
// dashboard) and, for a GitHub repository, ci (the OIDC roles of the workflows and the trainer image
// repository). New builds them all into one app for one Environment and applies cdk-nag's AwsSolutions checks.
//
// The CDK is for infra/... alone (a rule of shared/arch). From the domain library the package reads only the
// definitions it deploys (shared/pipeline), the names the functions read from their environment (shared/config)
// and the deployment alarms' metric names (shared/ml/deployment). Its moto test alone uses the SDK's SNS and SQS
// clients.
//
// It imports nothing of this module but infra/constructs, shared/config, shared/fault, shared/ml/deployment,
// shared/pipeline and shared/serving/emf. It must not import the AWS SDK.
package stacks

import "github.com/orrery-ml/orrery/shared/fault"

// Sentinel errors returned while building the app.
var (
	// ErrUnknownEnvironment: the `env` context names no known environment.
	ErrUnknownEnvironment = fault.New(fault.Invalid, "stacks: unknown environment")
	// ErrInvalidContext: a context value is malformed.
	ErrInvalidContext = fault.New(fault.Invalid, "stacks: invalid context value")
	// ErrUnsupportedTask: a state-machine definition uses a Task resource the pipeline stack cannot grant.
	ErrUnsupportedTask = fault.New(fault.Invalid, "stacks: unsupported state-machine task")
)

// ErrMissingDockerfile: trainer/Dockerfile, the compute stack's image, is absent.
var ErrMissingDockerfile = fault.New(fault.NotFound, "stacks: trainer Dockerfile missing")

// ErrInvalidApp: CDK rejected a construct's properties while the app was built.
var ErrInvalidApp = fault.New(fault.Invalid, "stacks: invalid app")

// Package stacks defines the CloudFormation stacks of Orrery's AWS deployment, split by lifecycle: data (buckets,
// tables, keys), backbone (queues with dead-letter queues, EventBridge rules), compute (the trainer image, AWS
// Batch), pipeline (the backbone Lambda functions and the Step Functions state machines built by shared/pipeline),
// api (the HTTP API), serving (the predict function and its live alias), monitoring (alarms, alert topic,
// dashboard) and, for a GitHub repository, ci (the OIDC roles of the workflows and the trainer image
// repository). New builds them all into one app for one Environment and applies cdk-nag's AwsSolutions checks.
//
// Only infra/ may import the CDK (enforced by shared/arch). This package must not import store adapters, the AWS
// SDK or anything under functions/ (its moto test alone uses the SDK's SNS and SQS clients); from the domain
// library it reads only the definitions it deploys (shared/pipeline) and the names the functions read from their
// environment.
package stacks

import "errors"

// Sentinel errors returned while building the app.
var (
	// ErrUnknownEnvironment: the `env` context names no known environment.
	ErrUnknownEnvironment = errors.New("stacks: unknown environment")
	// ErrInvalidContext: a context value is malformed.
	ErrInvalidContext = errors.New("stacks: invalid context value")
	// ErrUnsupportedTask: a state-machine definition uses a Task resource the pipeline stack cannot grant.
	ErrUnsupportedTask = errors.New("stacks: unsupported state-machine task")
)

// ErrMissingDockerfile: trainer/Dockerfile, the compute stack's image, is absent.
var ErrMissingDockerfile = errors.New("stacks: trainer Dockerfile missing")

// ErrInvalidApp: CDK rejected a construct's properties while the app was built.
var ErrInvalidApp = errors.New("stacks: invalid app")

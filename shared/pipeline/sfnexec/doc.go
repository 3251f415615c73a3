// Package sfnexec is the AWS Step Functions adapter of shared/pipeline (it
// also speaks to emulators of that API, such as moto or LocalStack):
// Executions implements pipeline.Executions over the deployed state
// machines (one ARN per machine), and Runner creates or updates a state
// machine from an asl.Definition, runs an execution and reports a failed
// one as an *asl.Error with the same Error and Cause the local executor
// would give.
//
// Both call the API through small ports (API, Client) that
// shared/awsclient/sfnrest implements; the SDK's Step Functions client
// would link its endpoint tables into the api function.
//
// It must not import the store adapters, shared/ml/..., functions/... or
// github.com/aws/aws-sdk-go-v2/service/sfn.
package sfnexec

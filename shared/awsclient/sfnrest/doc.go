// Package sfnrest calls the AWS Step Functions API (its JSON 1.0
// protocol: a signed POST of the operation's JSON with X-Amz-Target
// AWSStepFunctions.<Operation>) for the operations shared/pipeline/sfnexec
// uses: StartExecution, StopExecution and DescribeExecution for
// Executions, CreateStateMachine, UpdateStateMachine and
// DeleteStateMachine for Runner. The SDK's Step Functions client would
// link its endpoint tables, whose package init every cold start of the api
// function pays (issue 16 item 7; shared/arch keeps the client out of the
// api).
//
// It is one of the packages that use the AWS SDK (its signer and
// credentials; a rule of shared/arch names them).
//
// It must not import github.com/aws/aws-sdk-go-v2/service/sfn,
// aws-lambda-go, shared/api or the store adapters.
package sfnrest

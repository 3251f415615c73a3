// Package sfnexec runs pipeline definitions on AWS Step Functions (or on an
// emulator that speaks its API, such as moto or LocalStack): it creates or
// updates a state machine from a pipeline.Definition, starts executions and
// waits for their outcome, reporting a failed execution as a *pipeline.Error
// with the same Error and Cause the local executor would give.
//
// It is the adapter between shared/pipeline and the AWS SDK; it must not
// import store adapters, shared/ml/... or entry points under functions/.
package sfnexec

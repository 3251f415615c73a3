// Package asl is an interpreter of the Amazon States Language (ASL), the
// JSONPath dialect (not JSONata), on one machine: it parses and validates
// definitions (Definition, State, ChoiceRule, Retrier, Catcher, which
// marshal to exactly the ASL that Step Functions accepts) and runs them
// with an Executor that binds each Task resource to a Go Handler.
//
// It implements InputPath, Parameters, ResultSelector, ResultPath,
// OutputPath, the context object, intrinsic functions, Retry and Catch,
// Choice, Wait, Pass, Succeed, Fail, Parallel and Map as the ASL
// specification (https://states-language.net/spec.html) and the AWS Step
// Functions developer guide describe them.
//
// Files by concern: execute.go (executions and the state loop), states.go
// (Fail and Wait), task.go (Task states and handlers), heartbeat.go,
// retry.go (Retry back-off), fanout.go (Parallel and Map), paths.go
// (InputPath, ResultPath, OutputPath and payload templates), jsonpath.go,
// intrinsic.go, choice.go, definition.go and errors.go.
//
// The package knows nothing of Orrery: it must not import any package of
// this module, nor the AWS SDK.
package asl

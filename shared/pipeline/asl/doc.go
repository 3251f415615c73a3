// Package asl is an interpreter of the Amazon States Language (ASL), the
// JSONPath dialect (not JSONata), on one machine: it parses and validates
// definitions (Definition, State, ChoiceRule, Retrier, Catcher, which
// marshal to exactly the ASL that Step Functions accepts) and runs them
// with an Executor that binds each Task resource to a Go Handler.
//
// It implements InputPath, Parameters, ResultSelector, ResultPath,
// OutputPath, the context object, workflow variables (Assign and $name),
// intrinsic functions, JSONPath filter expressions, Retry and Catch,
// Choice, Wait, Pass, Succeed, Fail, Parallel and Map (INLINE, and
// DISTRIBUTED run in this process with a Map Run's failure threshold), and
// the payload and Wait quotas, as the ASL specification
// (https://states-language.net/spec.html) and the AWS Step Functions
// developer guide describe them. It does not implement JSONata or a
// Distributed Map's ItemReader, ItemBatcher and ResultWriter (Parse refuses
// them). A Task runs the Handler bound to its Resource string, whatever the
// ARN says: there is no activity worker API and no SendTaskSuccess, so an
// activity or a .waitForTaskToken task ends when its handler returns.
//
// Files by concern: execute.go (executions and the state loop), states.go
// (Fail and Wait), task.go (Task states and handlers), heartbeat.go,
// retry.go (Retry back-off), fanout.go (Parallel and Map), tolerance.go
// (a Distributed Map's failure threshold), variables.go (workflow variables
// and their scopes), limits.go (payload and Wait quotas), paths.go
// (InputPath, ResultPath, OutputPath and payload templates), jsonpath.go
// (paths and filter expressions), intrinsic.go, choice.go, definition.go
// and errors.go.
//
// The package knows nothing of Orrery. It imports nothing of this module.
// It must not import the AWS SDK.
package asl

// Package pipeline builds Orrery's state machines as Amazon States Language
// (ASL) JSON — the JSONPath dialect, not JSONata — and runs them on one
// machine with a local executor that interprets the same JSON.
//
// Definitions are Go values (Definition, State, ChoiceRule, Retrier, Catcher)
// that marshal to exactly the ASL that Step Functions accepts; Training
// builds the `training` state machine with placeholder resource ARNs that the
// CDK app replaces with real ones. Executor interprets a definition: it binds
// each Task resource ARN to a Go Handler, and implements InputPath,
// Parameters, ResultSelector, ResultPath, OutputPath, the context object,
// intrinsic functions, Retry and Catch, Choice, Wait, Pass, Succeed, Fail,
// Parallel and Map as the ASL specification describes
// (https://states-language.net/spec.html and the AWS Step Functions
// developer guide).
//
// The package must not import the AWS SDK (the adapter that runs a
// definition on Step Functions is sfnexec), store adapters, or entry points
// under functions/.
package pipeline

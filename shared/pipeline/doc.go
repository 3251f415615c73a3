// Package pipeline builds Orrery's state machines — training, evaluation and
// optimization — as Amazon States Language definitions (shared/pipeline/asl)
// and binds their Task resources to Orrery's handlers for the local
// executor. Training, Evaluation and Optimization build the definitions
// with placeholder resource ARNs that the CDK app replaces with real ones;
// TrainingHandlers, EvaluationHandlers and OptimizationHandlers bind the same
// definitions' tasks to the stages, evaluation steps and optimization steps.
// The glue between the engine's errors and Orrery's fault codes is here too:
// TaskError names a handler's error after its code (Orrery.NotFound, ...), as
// the stages Lambda does on AWS, and CodeOf reads the code back from a
// state-machine error.
//
// The adapter that runs a definition on Step Functions is sfnexec. It must
// not import the AWS SDK, the store adapters or functions/....
package pipeline

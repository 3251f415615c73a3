// Package pipeline builds Orrery's state machines — training, evaluation,
// optimization and deployment — as Amazon States Language definitions
// (shared/pipeline/asl) and binds their Task resources to Orrery's handlers
// for the local executor. Training, Evaluation, Optimization and Deployment
// build the definitions with placeholder resource ARNs that the CDK app replaces with real ones
// (the deployment machine's other tasks are AWS SDK service integrations);
// TrainingHandlers, EvaluationHandlers, OptimizationHandlers and
// DeploymentHandlers bind the same definitions' tasks to the stages,
// evaluation steps, optimization steps and deployment steps — and, for the
// deployment machine, its service integrations to Go handlers over the
// embedded runtime's endpoints.
// The glue between the engine's errors and Orrery's fault codes is here too:
// TaskError names a handler's error after its code (Orrery.NotFound, ...), as
// the stages Lambda does on AWS, and CodeOf reads the code back from a
// state-machine error.
//
// The adapter that runs a definition on Step Functions is sfnexec. It must
// not import the AWS SDK, the store adapters or functions/....
package pipeline

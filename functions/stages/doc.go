// Command stages is the `stages` Lambda function. A request is a JSON
// object whose top-level key names its kind (handler.go routes it):
//
//   - "stage": the training state machine (shared/pipeline.Training) calls
//     it for every stage that is not the Batch training job — validate,
//     preprocess, evaluate, register and mark_failed. It decodes a
//     training.StageRequest, runs TrainingPipeline.RunStage over DynamoDB
//     (jobs, models) and S3 (artifacts; s3://bucket/key data sets read by
//     s3table.ReadTable), and returns the stage's training.Refs.
//   - "step": the optimization state machine (shared/pipeline.Optimization)
//     calls it for suggest, tell, finalize and mark_failed. It decodes an
//     optimization.StepRequest and runs optimization.StepRunner.Step over
//     DynamoDB (the studies table: studies and trials) and S3 (the HTML
//     report). Trials are not steps: they run in the trainer's container.
//   - "evaluation": the evaluation job's steps (evaluation.go).
//   - "deployment": the deployment machine's steps (deployment.go,
//     events/aws/stages-deployment-check.json): shared/deploymentjob over
//     the deployments table (records, the endpoint locks), the models
//     table (the registry's aliases), S3 (the model files, the training
//     data the validator rebuilds splits from) and CloudWatch (the predict
//     function's EMF metrics read back as each version's traffic, and the
//     score-drift and positive-rate figures put for the deployment's
//     alarms), when ORRERY_PREDICT_FUNCTION is set. With
//     ORRERY_TRACKING_TABLE set (the MLflow mirror on), every registry
//     alias the steps move (champion, challenger, live) is queued in the
//     mirror's outbox too (mlflowmirror.Aliases) for the tracking function.
//
// A failed stage or step is returned as messages.InvokeResponse_Error whose
// Type is the name of the error's fault code (fault.CodeOf(err).Name():
// Orrery.InvalidInput, Orrery.NotFound, ..., Orrery.Internal), the name the
// local executor gives it too (pipeline.TaskError): aws-lambda-go passes that
// type through verbatim as the Lambda error type, which is the Error the
// state machine's Retry and Catch match.
//
// main.go only wires; handler.go holds the handler, tested with fake stage
// and step runners and, against moto, with the real pipeline and steps.
//
// It runs on AWS only, without the embedded runtime or the HTTP API. It
// must not import shared/embedded, shared/pipeline/localexec,
// shared/store/filestore, shared/store/sqlitestore, functions/local or
// shared/api.
package main

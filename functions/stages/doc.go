// Command stages is the `stages` Lambda function: the training state
// machine (shared/pipeline.Training) calls it for every stage that is not the
// Batch training job — validate, preprocess, evaluate, register and
// mark_failed. It decodes a training.StageRequest, runs
// TrainingPipeline.RunStage over DynamoDB (jobs, models) and S3 (artifacts;
// s3://bucket/key data sets read by s3store.ReadTable), and returns the
// stage's training.Refs.
//
// A failed stage is returned as messages.InvokeResponse_Error whose Type is
// training.StageErrorName(err) (Orrery.InvalidInput, Orrery.NotFound, ...):
// aws-lambda-go passes that type through verbatim as the Lambda error type,
// which is the Error the state machine's Retry and Catch match.
//
// main.go only wires; handler.go holds the handler, tested with a fake stage
// runner and, against moto, with the real pipeline.
//
// It must not import the embedded runtime's adapters (sqlitestore,
// filestore), functions/local, or the HTTP API.
package main

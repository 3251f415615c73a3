// Command trigger is the Lambda function behind the datasets bucket's
// incoming/ queue: S3 sends an ObjectCreated event per upload to SQS (with a
// dead-letter queue), Lambda hands the function batches of those messages,
// and each upload starts a training job with the stored retraining policy
// (shared/retraining).
//
// The function answers with a partial batch response (SQSEventResponse's
// BatchItemFailures, enabled on the event source mapping with
// ReportBatchItemFailures): a message that fails — undecodable, no policy,
// or the store or Step Functions unavailable — is named and comes back after
// its visibility timeout until the queue's redrive policy moves it to the
// dead-letter queue, while the rest of its batch is deleted. S3's
// s3:TestEvent messages are acknowledged and skipped.
//
// Configuration (names in shared/config): ORRERY_JOBS_TABLE,
// ORRERY_MODELS_TABLE (retraining policies live there),
// ORRERY_TRAINING_STATE_MACHINE_ARN, and optionally ORRERY_LOG_LEVEL; AWS
// endpoints follow shared/awsclient. main.go only wires; handler.go decodes.
//
// It must not import shared/embedded, shared/pipeline/localexec,
// shared/store/filestore or shared/store/sqlitestore.
package main

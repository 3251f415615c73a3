// Command events is the Lambda function that keeps job records in step with
// what AWS reports: EventBridge rules send "Step Functions Execution Status
// Change" (source aws.states) and "Batch Job State Change" (source aws.batch)
// events to an SQS queue with a dead-letter queue, and Lambda hands the
// function batches of them. Each event becomes a conditional write of the job
// record (shared/jobevents): late and duplicated events change nothing.
//
// The function answers with a partial batch response: a message that cannot
// be decoded, carries an unknown status, or meets a store error is named in
// BatchItemFailures and retried until the redrive policy moves it to the
// dead-letter queue; the rest of the batch is deleted.
//
// With ORRERY_TRACKING_TABLE set (the MLflow mirror on), the end of every
// execution — SUCCEEDED, FAILED, TIMED_OUT, ABORTED, a job's or not — is
// also queued in the mirror's outbox (jobevents.Service.Ended,
// mlflowmirror.Queue.ExecutionEnded) for the tracking function to send; a
// failure to queue fails the message, which is retried.
//
// Configuration (names in shared/config): ORRERY_JOBS_TABLE and optionally
// ORRERY_TRACKING_TABLE and ORRERY_LOG_LEVEL; AWS endpoints follow
// shared/awsclient. main.go only wires; handler.go decodes.
//
// It must not import shared/embedded, shared/pipeline/localexec,
// shared/store/filestore or shared/store/sqlitestore.
package main

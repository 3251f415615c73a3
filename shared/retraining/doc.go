// Package retraining is the retraining-on-upload flow without its transport:
// an object created under the datasets bucket's incoming/ prefix starts a
// training job with the stored retraining policy of the longest prefix the
// object's key starts with (store.RetrainingPolicy: model name and
// TrainingConfig, its dataset_path set to s3://bucket/key). Only data files
// retrain — CSV, TSV, Parquet, FITS (.fits, .fit, .fts, each optionally
// .gz) and VOTable (.vot, .votable, .xml) — so a checksum or a README
// uploaded beside them is Ignored with its reason.
//
// At-least-once delivery is the rule upstream (S3 notifications, SQS, Lambda
// retries), so the flow de-duplicates on bucket, key and ETag: the job id is
// derived from them, and the job is created by a conditional put
// (store.JobStore.CreateJob refuses an existing id). A duplicate of a job
// that has started is dropped; a duplicate of a job still QUEUED (its first
// delivery may have died between creating the job and starting it) starts it
// again, which the Executions port makes idempotent (on AWS an execution is
// named after its job).
//
// functions/trigger decodes the SQS and S3 events and calls Service.Handle.
// It must not import the AWS SDK, aws-lambda-go or the store adapters.
package retraining

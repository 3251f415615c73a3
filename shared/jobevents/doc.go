// Package jobevents applies the state changes AWS reports about the work of a
// job — Step Functions execution status changes and AWS Batch job state
// changes, delivered by EventBridge through SQS, at least once and in any
// order — to the job records, by conditional writes only (store.JobStore):
// an event that would move a finished job, or move a job backwards, is
// refused by the store and dropped here as late or duplicated.
//
// Which job an event is about: an execution is named after its job and its
// input carries "job_id" (shared/pipeline/sfnexec); a Batch training job
// carries the job id as its "job_id" parameter or its "orrery:job_id" tag.
//
// functions/events decodes the EventBridge envelopes and calls Service. It
// must not import the AWS SDK, aws-lambda-go or the store adapters.
package jobevents

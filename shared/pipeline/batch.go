package pipeline

import "strconv"

// The AWS Batch jobs the state machines run (Train, RunTrial) and how their
// liveness is bounded.
//
// The Batch tasks use the "Run a Job (.sync)" integration and set no
// HeartbeatSeconds. Step Functions starts a task's heartbeat clock when the
// task starts, that is when the job is submitted (Step Functions developer
// guide, "Task": HeartbeatSeconds; SendTaskHeartbeat "resets the Heartbeat
// clock"), but the trainer can only heartbeat once its container runs. A
// job waits RUNNABLE for as long as Batch needs to scale a compute
// environment up from zero, pull the image or find Spot capacity (AWS Batch
// User Guide, "Job states"), so any HeartbeatSeconds short enough to notice
// a hung trainer would also fail healthy jobs in the queue with
// States.HeartbeatTimeout. Liveness comes instead from:
//
//   - the job definition's attempt timeout (Timeout.AttemptDurationSeconds),
//     which Batch measures from the attempt's startedAt, the moment it
//     becomes RUNNING (AWS Batch API reference, JobTimeout): a hung trainer
//     is terminated, and BatchJobRetryStrategy decides whether it runs again;
//   - the trainer's exit codes: 0 done, 75 interrupted (resumes from its
//     checkpoint when retried), anything else a failure that is not retried;
//   - the job queue's job state time limit actions, which cancel a job that
//     stays RUNNABLE because no compute environment can ever run it, or
//     because capacity has been short for too long (infra/stacks);
//   - the task's TimeoutSeconds, which bounds queue time and all attempts
//     together; when it runs out Step Functions terminates the job.
//
// The trainer still sends heartbeats with the task token it is given
// (EnvTaskToken): without HeartbeatSeconds they time nothing out, but their
// answer tells the trainer when the task no longer waits for it (its
// execution was stopped or failed), and it stops.

// BatchRetryRule is one EvaluateOnExit condition of an AWS Batch retry
// strategy: the attempt's exit code, status reason and reason are matched
// against the patterns that are set (a pattern may end in *), and the first
// rule that matches decides the Action, RETRY or EXIT (AWS Batch API
// reference, EvaluateOnExit).
type BatchRetryRule struct {
	OnExitCode     string
	OnStatusReason string
	OnReason       string
	Action         string
}

// BatchRetryStrategy is an AWS Batch job's retry strategy: at most Attempts
// attempts (1 to 10), each failed one judged by EvaluateOnExit in order; a
// failed attempt no rule matches is retried.
type BatchRetryStrategy struct {
	Attempts       int
	EvaluateOnExit []BatchRetryRule
}

// TrainerExitRetryable is the trainer's exit status for an interrupted or
// transiently failed run (trainer/batchjob.ExitRetryable, EX_TEMPFAIL).
const TrainerExitRetryable = 75

// BatchJobRetryStrategy is the one retry strategy of the trainer's Batch
// jobs: the state machines submit their jobs with it (SubmitJob's
// RetryStrategy overrides the job definition's) and the CDK app writes it
// into the job definition, so a job behaves the same however it is
// submitted. It retries what is not the trainer's fault — a reclaimed Spot
// host ("Host EC2*"), an image that could not be pulled — and the trainer's
// own retryable exit, and ends the job on any other exit code, so an
// application error is not run again.
func BatchJobRetryStrategy() BatchRetryStrategy {
	return BatchRetryStrategy{
		Attempts: 5,
		EvaluateOnExit: []BatchRetryRule{
			{OnStatusReason: "Host EC2*", Action: "RETRY"},
			{OnReason: "CannotPullContainerError:*", Action: "RETRY"},
			{OnExitCode: strconv.Itoa(TrainerExitRetryable), Action: "RETRY"},
			{OnExitCode: "*", Action: "EXIT"},
		},
	}
}

// Map returns the strategy as the JSON object SubmitJob's RetryStrategy and
// CloudFormation's AWS::Batch::JobDefinition RetryStrategy take, with only
// the conditions that are set.
func (s BatchRetryStrategy) Map() map[string]any {
	rules := make([]any, 0, len(s.EvaluateOnExit))
	for _, r := range s.EvaluateOnExit {
		m := map[string]any{"Action": r.Action}
		for k, v := range map[string]string{"OnExitCode": r.OnExitCode, "OnStatusReason": r.OnStatusReason, "OnReason": r.OnReason} {
			if v != "" {
				m[k] = v
			}
		}
		rules = append(rules, m)
	}
	return map[string]any{"Attempts": s.Attempts, "EvaluateOnExit": rules}
}

// Package evaluationapi connects the HTTP API's evaluation routes
// (shared/api) to evaluation jobs (shared/evaluationjob): it maps a POST
// /ml/evaluation/evaluate body to a job's Config, stores the QUEUED job —
// the one path from request to job that `orrery serve` and the `api`
// Lambda share — and, as Evaluations, implements api.Evaluations for a
// runtime whose executions start elsewhere (Step Functions on AWS).
//
// It is kept apart from evaluationjob so that the code the state machine's
// tasks run (the `stages` Lambda, the local executor) does not depend on
// the HTTP API. It must not import the AWS SDK or the store adapters.
package evaluationapi

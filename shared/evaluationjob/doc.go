// Package evaluationjob runs evaluation jobs — POST /ml/evaluation/evaluate,
// `orrery evaluate` and `orrery compare` — over the store ports alone: the
// model registry (store.ModelRegistry), the artifact store
// (store.ArtifactStore: model files, evaluation reports) and job records
// (store.JobStore), with data sets read by a ReadTable function (local files
// by default; the AWS runtime reads s3:// objects). The same code therefore
// runs in `orrery serve` (SQLite and a directory) and in the `stages` Lambda
// (DynamoDB and S3), each step driven by the `evaluation` state machine of
// shared/pipeline.
//
// Service.Submit turns an API request into a QUEUED job (the one path from
// request to job both runtimes share); Service.Step runs the state
// machine's tasks: "evaluate" (Service.Run: evaluate, optionally compare,
// record the result) and "mark_failed" (Service.MarkFailed). Evaluations is
// the api.Evaluations of a runtime whose executions start elsewhere (Step
// Functions on AWS).
//
// It must not import AWS SDK packages or store adapters.
package evaluationjob

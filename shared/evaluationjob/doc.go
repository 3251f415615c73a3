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
// Service.Submit stores a QUEUED job for a Config (the evaluationapi
// subpackage maps the HTTP API's request to one: the one path from request
// to job both runtimes share); Service.Step runs the state machine's
// tasks: "plan" (Service.Plan: light or heavy, Offload), "evaluate"
// (Service.Run: evaluate, optionally compare, record the result), "reduce"
// (Service.Reduce: the same with the fold jobs' cross-validation folds and
// bootstrap replicates combined) and "mark_failed" (Service.MarkFailed);
// Service.RunFold is one fold job (the trainer's fold mode).
//
// It must not import shared/api, the AWS SDK or the store adapters.
package evaluationjob

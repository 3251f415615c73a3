// Command tracking is the Lambda function that drains the MLflow mirror's
// outbox on AWS (shared/mlflowmirror over the DynamoDB outbox,
// dynamostore's tracking items): it sends what the other functions queued —
// the end of every execution (the events function), the registry alias
// moves (the stages function's deployment steps) — to the tracking server
// MLFLOW_TRACKING_URI names, reading the records and files it mirrors from
// DynamoDB and S3.
//
// # Why a scheduled drainer
//
// An EventBridge schedule invokes it every minute, and its reserved
// concurrency of 1 makes it the only sender, which the mirror's order and
// deduplication assume. Each invocation sends what is due until the outbox
// is empty, an entry fails (the failure and its backoff are recorded on
// the entry: the next invocation tries again), or its deadline nears. So no
// flow ever waits for MLflow, and an MLflow that is slow or down costs
// nothing but a later sync. The alternatives were worse: a last step in
// every state machine would hold (or fail) each flow's end while MLflow is
// down and need its own retry policy in each machine; sending from the
// events function would call MLflow inside its SQS batches and hold the
// status events of every job behind a slow server. The price is up to a
// minute before a run shows in MLflow.
//
// An invocation with {"sync": true} (optionally "subject": a job, model or
// study id) replays what was missed, like `orrery tracking sync`: entries
// the server refused are tried again, backoffs ignored, every metric point
// checked against the server's history. Every invocation answers the
// outbox's state (Result).
//
// Configuration (names in shared/config): ORRERY_TRACKING_TABLE (the
// outbox), ORRERY_JOBS_TABLE, ORRERY_MODELS_TABLE, ORRERY_STUDIES_TABLE,
// ORRERY_ARTIFACTS_BUCKET, MLFLOW_TRACKING_URI, optionally
// MLFLOW_EXPERIMENT_NAME, and the bearer token in MLFLOW_TRACKING_TOKEN or,
// better, a Secrets Manager secret named by ORRERY_MLFLOW_TOKEN_SECRET (the
// CDK app passes the secret's name, never the token). main.go only wires;
// handler.go drains.
//
// It must not import shared/embedded, shared/pipeline/localexec,
// shared/store/filestore, shared/store/sqlitestore or functions/local.
package main

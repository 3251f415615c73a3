// Package mlflowmirror mirrors Orrery's jobs into a user's MLflow tracking
// server: a training job is a run (config as params, per-epoch metric
// history, final metrics, reports and the model directory as artifacts, a
// model version), a study a parent run with a nested run per trial, an
// evaluation a run linked to its model version, and the deployment flow's
// registry aliases MLflow registry aliases.
//
// Nothing is sent from the job's own goroutine: every call is appended to a
// persisted outbox (store.TrackingOutbox) and a drainer sends it later,
// retrying with backoff, so a slow or absent server never fails or slows a
// job. Replays are idempotent: the ids the server gave (runs, model versions)
// are kept in the outbox's refs and found again by tag when an attempt died
// before its answer, and metric points already logged are recognised by
// (key, step, timestamp).
//
// The embedded runtime runs the drainer in-process (Mirror.Run, Flush,
// Sync) over the sqlite outbox. On AWS the outbox is in DynamoDB: the
// events and stages functions hold a Queue, which only appends (the end of
// every execution, the registry alias moves), and functions/tracking
// drains it on a schedule (Mirror.Drain), resolving each ended execution
// to the job or study it ran and reading a training job's epochs from its
// history.json.
//
// It must not import shared/ml/... or the AWS SDK.
package mlflowmirror

// Package sqlitestore keeps job records and the model registry of the embedded
// runtime in one SQLite file, through the pure-Go driver modernc.org/sqlite (no
// cgo). It implements store.JobStore and store.ModelRegistry (and, for
// hyperparameter studies, store.StudyStore and store.TrialStore; for
// deployments, store.DeploymentStore and store.LiveDeployments); the DynamoDB
// adapter implements the same ports on AWS, and both pass the port suite in
// shared/store/storetest.
//
// Job status changes are single conditional UPDATE statements, so a late or
// duplicated event can never move a finished job, even when several goroutines
// or processes share the file (WAL journal, busy timeout).
//
// It must not import shared/ml/..., the AWS SDK, shared/store/dynamostore,
// shared/store/filestore or shared/store/s3store.
package sqlitestore

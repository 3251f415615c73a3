// Package store declares the persistence ports of Orrery — job records, the
// model registry, the artifact store, hyperparameter studies and trials,
// retraining policies, idempotency records, deployment records, the
// embedded runtime's endpoints and registry aliases — with the
// records they hold, the rules shared by every adapter (status machines,
// CheckKey, CheckID) and the errors their adapters return. Adapters live in
// subpackages named after what they wrap: sqlitestore (embedded SQLite),
// filestore (a local directory), s3store (S3) and dynamostore (DynamoDB).
//
// This package holds no I/O of its own. It must not import the AWS SDK or
// shared/ml/....
package store

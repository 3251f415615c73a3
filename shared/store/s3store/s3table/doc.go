// Package s3table reads data sets stored in S3 (s3://bucket/key) into a
// dataset.Table, by the key's extension as dataset.Read does: ReadTable, and
// TableReader for the ReadTable hooks of the training pipeline, the
// evaluation service and the deployment checks. It is apart from s3store so
// that the functions that only store artifacts do not link the data-set
// readers (issue 16 item 7).
//
// It must not import the AWS SDK, shared/ml/..., aws-lambda-go,
// shared/store/dynamostore, shared/store/filestore or
// shared/store/sqlitestore.
package s3table

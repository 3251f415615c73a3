// Package storetest is the port test suite of shared/store: TestJobStore,
// TestModelRegistry and TestArtifactStore check every contract written in
// store.go, and TestStudyStore, TestRetrainingPolicyStore,
// TestIdempotencyStore and TestDeploymentStore those of the other ports
// (creation, lookup, conflicts, invalid arguments, every allowed and
// forbidden status transition, concurrent conditional writes, listing order,
// artifact keys, atomic overwrites, prefixes) against any adapter. Each adapter
// runs it from its own _test.go file: sqlitestore and filestore here, the S3
// and DynamoDB adapters against moto.
//
// Besides the port comments the suite pins down what every adapter must agree
// on: unknown statuses and JSON fields that are not JSON are ErrInvalid, a
// negative list limit is ErrInvalid, a zero CreatedAt is filled in, updates
// without a status change are refused (ErrConflict) once a job or deployment
// is finished, and DeletePrefix("") is ErrInvalid.
//
// It is a test helper. Only test files may import shared/store/storetest.
// It must not import shared/ml/..., the AWS SDK or the store adapters.
package storetest

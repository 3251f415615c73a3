// Package filestore is the artifact store of the embedded runtime: a local
// directory (by default ./.orrery/) in which each slash-separated key is a
// file. It implements store.ArtifactStore like the S3 adapter does on AWS, and
// passes the same port suite (shared/store/storetest).
//
// Writes are atomic: an object is written to a temporary file in its final
// directory, synced, and renamed into place, so a reader sees the old object
// or the new one, never half of either.
//
// It must not import shared/ml/..., the AWS SDK, shared/store/dynamostore,
// shared/store/s3store or shared/store/sqlitestore.
package filestore

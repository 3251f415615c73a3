// Package s3store is the artifact store of Orrery on AWS: store.ArtifactStore
// over one S3 bucket, optionally under a key prefix. It passes the same port
// suite (shared/store/storetest) as the embedded filestore, run against moto's
// S3 in the tests.
//
// Each Put is one PutObject of a fully buffered body: S3 makes an object
// visible only when its upload completed, so a reader sees the old object or
// the new one, never half of either, and an upload whose reader fails leaves
// nothing behind. List pages through ListObjectsV2; DeletePrefix removes what
// List finds in DeleteObjects batches of at most 1,000 keys (the S3 limit).
// URIs are s3://bucket/key.
//
// ReadObject reads a whole object; subpackage s3table reads an
// s3://bucket/key data set into a dataset.Table by its extension, apart from
// this package so that a function that stores artifacts but reads no data
// set (predict) does not link the data-set readers (Parquet, FITS) and their
// package inits.
//
// It must not import shared/dataset, shared/ml/..., aws-lambda-go, shared/store/dynamostore,
// shared/store/filestore or shared/store/sqlitestore.
package s3store

// Package batchjob runs one training job the way the AWS Batch trainer
// container does: the job spec from the environment, the data from a path or
// S3 (through a DataReader), the shared validation, preprocessing, split,
// evaluation and model format, the network trained by a pluggable backend
// (the pure-Go engine or libtorch), checkpoints in the artifact store every
// epoch, resumption on a later attempt, progress in the job record, and an
// exit status that tells Batch whether to retry.
//
// It uses the store ports only; trainer/main.go picks the adapters. It must
// not import any AWS SDK package, a store adapter, or gotch.
package batchjob

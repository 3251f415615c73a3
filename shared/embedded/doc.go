// Package embedded wires Orrery's embedded default: everything on one machine
// under one home directory (default ./.orrery) — an SQLite database for jobs
// and the model registry, a directory as the artifact store, and the training
// pipeline on top. The `orrery` binary and its tests build on it.
//
// It must not import the AWS SDK, aws-lambda-go or shared/awsclient.
package embedded

// Package config names the environment variables that configure Orrery's
// binaries — infra/ sets them on each Lambda function and on the trainer's
// Batch job definitions, shared/pipeline on the state machines' Batch jobs,
// functions/ and trainer/ read them — as exported constants, so the sides
// cannot drift; and it provides Reader, which builds a binary's typed Config
// from the environment while collecting every missing or malformed variable
// into one error.
//
// Each binary keeps its own Config type and FromEnv function (for example
// FromEnv in functions/api for the `api` function, batchjob.FromEnv for the
// trainer); only the names live here.
//
// infra/ imports it without pulling in the domain library. It imports
// nothing of this module but shared/fault. It must not import the AWS SDK
// or the CDK.
package config

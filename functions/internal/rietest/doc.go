// Package rietest runs a Lambda function of this repository under the AWS
// Lambda Runtime Interface Emulator for smoke tests: it builds the calling
// test's package as a linux/amd64 `bootstrap` with -tags lambda.norpc (as
// `make functions` does for arm64), starts aws-lambda-rie with it against the
// moto endpoint, and returns the invocation URL.
//
// It is for tests only. Only test files may import
// functions/internal/rietest. It must not import the store adapters.
package rietest

// Package awstest connects tests to the AWS emulator that scripts/test.sh
// starts (moto in server mode on 127.0.0.1): it reads the endpoint from
// ORRERY_TEST_AWS_ENDPOINT and skips the test, saying so, when it is unset,
// so that a plain `go test ./...` still works without the emulator.
//
// It is a test helper. Only test files and functions/internal/rietest may
// import shared/awsclient/awstest. It must not import shared/ml/... or the
// store adapters.
package awstest

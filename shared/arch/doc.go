// Package arch enforces Orrery's dependency rules (ARCHITECTURE.md) with a
// test over every package's imports: aws-sdk-go-v2 only in store adapters and
// functions/; aws-lambda-go only in functions/; awscdk only in infra/; gotch
// only in trainer/torch; shared/ml/... never imports store adapters or AWS;
// no package is named "shared", "util", "common", "types" or "misc".
//
// It has no code of its own besides the test.
package arch

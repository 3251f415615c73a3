// Package arch enforces Orrery's dependency rules (ARCHITECTURE.md) with a
// test over every package's imports: aws-sdk-go-v2 only in store adapters and
// functions/; aws-lambda-go only in functions/; awscdk only in infra/; gotch
// only in trainer/torch; shared/ml/... never imports store adapters or AWS;
// no package is named "shared", "util", "common", "types" or "misc";
// shared/pipeline/asl imports nothing of Orrery and shared/fault nothing but
// the standard library. A second test reads the module's source and checks
// that every sentinel error declares its fault code (fault.New).
//
// It has no code of its own besides the test.
package arch

// Package mlflowtest connects tests to the real MLflow server that
// scripts/test.d/35-mlflow.sh starts and reads back what they sent: it reads
// the server's URI from ORRERY_TEST_MLFLOW_URI and skips the test, saying
// so, when it is unset, and REST reads MLflow's own REST API (runs, metric
// histories, artifacts, registry aliases) without going through the
// client in shared/tracking/mlflow, so that a test checks the server's
// view rather than the client's.
//
// It is a test helper. Only test files may import
// shared/tracking/mlflow/mlflowtest. It imports nothing of this module.
package mlflowtest

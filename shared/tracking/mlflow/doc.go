// Package mlflow is a client for the MLflow tracking server's REST API (the
// 2.0 paths served by MLflow 3.x): experiments, runs, log-batch within the
// server's request limits, proxied artifacts and the model registry, with
// bearer or basic authentication.
//
// It must not import shared/ml/..., shared/store/... or the AWS SDK.
package mlflow

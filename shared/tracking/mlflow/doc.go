// Package mlflow is a client for the MLflow tracking server's REST API (the
// 2.0 paths served by MLflow 3.x): experiments, runs, log-batch within the
// server's request limits, proxied artifacts and the model registry, with
// bearer or basic authentication — or, when the tracking URI is a SageMaker
// managed MLflow tracking server's ARN, SigV4 signing (sigv4.go) with the
// environment's AWS credentials (subpackage mlflowaws: the SDK's default
// credential chain and a role to assume), and artifacts written to the runs'
// S3 artifact roots (s3artifacts.go).
//
// It is an adapter of AWS services in that case, so it is one of the
// packages that may use the AWS SDK (a rule of shared/arch names them); it
// uses the SDK's signer and S3 only. It must not
// import shared/ml/..., shared/store/... or aws-lambda-go.
package mlflow

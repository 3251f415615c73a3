// Package mlflowaws opens an MLflow tracking server as the senders do (the
// tracking function, `orrery tracking sync` and the embedded mirror): for a
// SageMaker managed MLflow tracking server's ARN with the AWS SDK's default
// credential chain (environment, shared files, SSO, container and instance
// roles) and the ARN's role to assume, if any. It is apart from
// shared/tracking/mlflow, whose NewFromEnv signs with the environment's
// credentials alone, so that the functions that only show MLflow links (the
// api) do not link the SDK's config module and its credential chain, whose
// package inits every cold start pays (issue 16 item 7).
//
// It is one of the packages that use the AWS SDK (a rule of shared/arch
// names them). It imports nothing of this module but shared/tracking/mlflow.
package mlflowaws

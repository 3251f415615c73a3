package config

// Environment variables of the Lambda functions, set by infra/. Table and
// bucket variables hold names (not ARNs); state-machine variables hold ARNs.
const (
	// EnvLogLevel is the log/slog level: debug, info (default), warn, error.
	EnvLogLevel = "ORRERY_LOG_LEVEL"

	// EnvJobsTable is the DynamoDB table of job records.
	EnvJobsTable = "ORRERY_JOBS_TABLE"
	// EnvModelsTable is the DynamoDB table of the model registry.
	EnvModelsTable = "ORRERY_MODELS_TABLE"
	// EnvIdempotencyTable is the DynamoDB table of the HTTP API's
	// idempotency records (TTL attribute: see shared/store/dynamostore).
	EnvIdempotencyTable = "ORRERY_IDEMPOTENCY_TABLE"
	// EnvStudiesTable is the DynamoDB table of optimization studies and
	// trials.
	EnvStudiesTable = "ORRERY_STUDIES_TABLE"
	// EnvDeploymentsTable is the DynamoDB table of deployments.
	EnvDeploymentsTable = "ORRERY_DEPLOYMENTS_TABLE"

	// EnvArtifactsBucket is the S3 bucket of models, reports and
	// checkpoints.
	EnvArtifactsBucket = "ORRERY_ARTIFACTS_BUCKET"
	// EnvDatasetsBucket is the S3 bucket users upload data sets to (its
	// incoming/ prefix triggers retraining).
	EnvDatasetsBucket = "ORRERY_DATASETS_BUCKET"

	// EnvTrainingStateMachineARN is the ARN of the `training` state machine.
	EnvTrainingStateMachineARN = "ORRERY_TRAINING_STATE_MACHINE_ARN"
	// EnvOptimizationStateMachineARN is the ARN of the `optimization` state
	// machine.
	EnvOptimizationStateMachineARN = "ORRERY_OPTIMIZATION_STATE_MACHINE_ARN"
	// EnvEvaluationStateMachineARN is the ARN of the `evaluation` state
	// machine (optional for the api function: unset, POST
	// /ml/evaluation/evaluate answers 501).
	EnvEvaluationStateMachineARN = "ORRERY_EVALUATION_STATE_MACHINE_ARN"
	// EnvDeploymentStateMachineARN is the ARN of the `deployment` state
	// machine.
	EnvDeploymentStateMachineARN = "ORRERY_DEPLOYMENT_STATE_MACHINE_ARN"

	// EnvDataRoots lists, comma-separated, where a request's dataset_path may
	// point: s3://bucket/prefix entries on AWS (default: the whole datasets
	// bucket), directories on the embedded runtime. Anything outside them is
	// refused.
	EnvDataRoots = "ORRERY_DATA_ROOTS"
	// EnvMaxBodyBytes caps the size of an HTTP request body (default 1 MiB).
	EnvMaxBodyBytes = "ORRERY_MAX_BODY_BYTES"
	// EnvIdempotencyRetention is how long an answer to a request with an
	// Idempotency-Key is replayed, as a Go duration (default 24h).
	EnvIdempotencyRetention = "ORRERY_IDEMPOTENCY_RETENTION"
)

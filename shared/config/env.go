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
	// machine (optional for the api function: unset, the deployment routes
	// answer 501).
	EnvDeploymentStateMachineARN = "ORRERY_DEPLOYMENT_STATE_MACHINE_ARN"
	// EnvAlarmPrefix starts the names of the CloudWatch alarms a deployment
	// creates (orrery-<environment>).
	EnvAlarmPrefix = "ORRERY_ALARM_PREFIX"

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

// Environment variables of the trainer container (trainer/). infra/ sets the
// storage ones above and EnvBackend/EnvDevice on the Batch job definitions;
// the state machines' Batch tasks (shared/pipeline) add EnvStageRefs,
// EnvTrial or EnvEvaluationFold and EnvTaskToken to each job; AWS Batch sets EnvBatchJobID and
// EnvBatchJobAttempt.
const (
	// EnvStageRefs holds the training machine's Train task input,
	// training.Refs, as JSON: the trainer runs the train stage of that job.
	EnvStageRefs = "ORRERY_STAGE_REFS"
	// EnvTrial holds the optimization machine's RunTrial task input,
	// optimization.TrialInput, as JSON: the trainer runs that trial.
	EnvTrial = "ORRERY_TRIAL"
	// EnvEvaluationFold holds one fold of a heavy evaluation, the
	// evaluation machine's RunFold task input (evaluationjob.FoldTask), as
	// JSON: the trainer cross-validates that fold.
	EnvEvaluationFold = "ORRERY_EVALUATION_FOLD"
	// EnvTaskToken is the Step Functions task token of the Train or
	// RunTrial task; the trainer sends SendTaskHeartbeat with it.
	EnvTaskToken = "ORRERY_TASK_TOKEN"
	// EnvBackend is the trainer's network backend: auto (default: gonum,
	// large networks to torch in a torch build), gonum or torch.
	EnvBackend = "ORRERY_BACKEND"
	// EnvDevice is where the torch backend trains: cpu (default) or cuda.
	EnvDevice = "ORRERY_DEVICE"
	// EnvThreads caps libtorch's CPU threads (OMP_NUM_THREADS; default:
	// libtorch's own, the physical cores).
	EnvThreads = "ORRERY_THREADS"
	// EnvArtifactsPrefix is a key prefix inside EnvArtifactsBucket under
	// which the trainer keeps its artifacts (default none, as the Lambdas
	// do).
	EnvArtifactsPrefix = "ORRERY_ARTIFACTS_PREFIX"
	// EnvHome is the embedded runtime's home directory: orrery.db (SQLite)
	// and artifacts/ (a directory); the `orrery` binary and the trainer
	// off AWS read their stores there.
	EnvHome = "ORRERY_HOME"
	// EnvBatchJobID is AWS Batch's id of the running job.
	EnvBatchJobID = "AWS_BATCH_JOB_ID"
	// EnvBatchJobAttempt is AWS Batch's attempt number of the running job
	// (1 for the first).
	EnvBatchJobAttempt = "AWS_BATCH_JOB_ATTEMPT"
)

// Environment variables of the predict function (functions/predict) and of
// the api function's endpoint views.
const (
	// EnvModelID is the model a published version of the predict function
	// serves: the deployment flow fixes it in each version's environment
	// (unset in the version the serving stack creates: nothing deployed).
	EnvModelID = "ORRERY_MODEL_ID"
	// EnvModelManifestSHA256 is the SHA-256 the registry kept of that
	// model's manifest.json when it was registered: the deployment flow fixes
	// it beside EnvModelID, and the predict function refuses a model whose
	// manifest no longer has it (even with SHA256SUMS rewritten to match).
	EnvModelManifestSHA256 = "ORRERY_MODEL_MANIFEST_SHA256"
	// EnvEnvironment is the environment (dev, staging, prod) a stack's
	// functions serve; ?environment= naming another is answered 404.
	EnvEnvironment = "ORRERY_ENVIRONMENT"
	// EnvPredictFunction is the name of the environment's predict function:
	// the deployment state machine moves its aliases (one per endpoint), and
	// the api function shows them under GET /ml/endpoints.
	EnvPredictFunction = "ORRERY_PREDICT_FUNCTION"
	// EnvFunctionVersion is the version of the running Lambda function, set
	// by Lambda itself.
	EnvFunctionVersion = "AWS_LAMBDA_FUNCTION_VERSION"
)

// Environment variables of the MLflow mirror on AWS (shared/mlflowmirror):
// the functions that queue (events, stages) get EnvTrackingTable only; the
// tracking function, which drains, gets the server's address and
// credentials too.
const (
	// EnvTrackingTable is the DynamoDB table of the mirror's outbox (the
	// jobs table, as infra/ deploys it). Set, tracking is on.
	EnvTrackingTable = "ORRERY_TRACKING_TABLE"
	// EnvMLflowTrackingURI is the tracking server's URL or a SageMaker
	// managed MLflow tracking server's ARN, the name MLflow's clients read.
	EnvMLflowTrackingURI = "MLFLOW_TRACKING_URI"
	// EnvMLflowExperiment names the experiment runs go to.
	EnvMLflowExperiment = "MLFLOW_EXPERIMENT_NAME"
	// EnvMLflowToken is the bearer token, when given in the environment.
	EnvMLflowToken = "MLFLOW_TRACKING_TOKEN"
	// EnvMLflowTokenSecret names (ARN or name) the Secrets Manager secret
	// whose string is the bearer token: what the CDK app passes instead of
	// the token itself, which would show in the function's configuration.
	EnvMLflowTokenSecret = "ORRERY_MLFLOW_TOKEN_SECRET"
	// EnvGitCommit is the git commit deployed (the CDK app's commit
	// context), which training runs are tagged with.
	EnvGitCommit = "ORRERY_GIT_COMMIT"
)

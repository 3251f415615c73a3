package stacks

import (
	"github.com/aws/jsii-runtime-go"

	"github.com/orrery-ml/orrery/shared/config"
)

// storageEnvironment names the tables and buckets under the variable names shared/config defines, which every
// function and the trainer read.
func storageEnvironment(data *DataStack) map[string]*string {
	return map[string]*string{
		config.EnvJobsTable:        data.Tables[TableJobs].TableName(),
		config.EnvModelsTable:      data.Tables[TableModels].TableName(),
		config.EnvStudiesTable:     data.Tables[TableStudies].TableName(),
		config.EnvDeploymentsTable: data.Tables[TableDeployments].TableName(),
		config.EnvIdempotencyTable: data.Tables[TableIdempotency].TableName(),
		config.EnvArtifactsBucket:  data.Artifacts.BucketName(),
		config.EnvDatasetsBucket:   data.Datasets.BucketName(),
		config.EnvLogLevel:         jsii.String("info"),
	}
}

// trainerEnvironment is the environment of a trainer job definition (the variables batchjob.FromEnv reads, named in
// shared/config): the stores of both of its tasks — the Train stage's jobs and models tables, a trial's studies table,
// the artifacts bucket —, the log level, and the torch backend on device ("cuda" for the GPU definition, "cpu" for
// the CPU one). The state machines' Batch tasks add the task's own variables (config.EnvStageRefs or config.EnvTrial,
// config.EnvTaskToken) as container overrides.
func trainerEnvironment(data *DataStack, device string) map[string]*string {
	return map[string]*string{
		config.EnvJobsTable:       data.Tables[TableJobs].TableName(),
		config.EnvModelsTable:     data.Tables[TableModels].TableName(),
		config.EnvStudiesTable:    data.Tables[TableStudies].TableName(),
		config.EnvArtifactsBucket: data.Artifacts.BucketName(),
		config.EnvLogLevel:        jsii.String("info"),
		config.EnvBackend:         jsii.String("torch"),
		config.EnvDevice:          jsii.String(device),
	}
}

// evaluateEnvironment is the environment of the CPU job definition of heavy evaluations' fold jobs: the stores a fold
// reads and writes (jobs and models tables, artifacts bucket), the log level, and the gonum backend on the CPU (the
// CPU image has no other). The evaluation machine's RunFold task adds config.EnvEvaluationFold and
// config.EnvTaskToken as container overrides.
func evaluateEnvironment(data *DataStack) map[string]*string {
	return map[string]*string{
		config.EnvJobsTable:       data.Tables[TableJobs].TableName(),
		config.EnvModelsTable:     data.Tables[TableModels].TableName(),
		config.EnvArtifactsBucket: data.Artifacts.BucketName(),
		config.EnvLogLevel:        jsii.String("info"),
		config.EnvBackend:         jsii.String("gonum"),
		config.EnvDevice:          jsii.String("cpu"),
	}
}

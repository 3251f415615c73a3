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

// trainerEnvironment is the trainer container's environment.
func trainerEnvironment(data *DataStack) map[string]*string {
	return storageEnvironment(data)
}

package sfnexec_test

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	batchtypes "github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/stretchr/testify/require"
)

// batchQueue is a Batch job queue and job definition created in moto, whose
// "simple" Batch backend (no Docker) marks every submitted job SUCCEEDED.
type batchQueue struct {
	client                  *batch.Client
	queueARN, definitionARN string
}

// newBatchQueue creates an unmanaged compute environment, a job queue on it
// and a container job definition, all named after name.
func newBatchQueue(t *testing.T, env *motoEnv, name string) batchQueue {
	t.Helper()
	ctx := t.Context()
	c := batch.NewFromConfig(env.cfg)
	ce, err := c.CreateComputeEnvironment(ctx, &batch.CreateComputeEnvironmentInput{
		ComputeEnvironmentName: aws.String(name), Type: batchtypes.CETypeUnmanaged, ServiceRole: aws.String(env.roleARN),
	})
	require.NoError(t, err, "create compute environment")
	q, err := c.CreateJobQueue(ctx, &batch.CreateJobQueueInput{
		JobQueueName: aws.String(name), Priority: aws.Int32(1), State: batchtypes.JQStateEnabled,
		ComputeEnvironmentOrder: []batchtypes.ComputeEnvironmentOrder{{ComputeEnvironment: ce.ComputeEnvironmentArn, Order: aws.Int32(1)}},
	})
	require.NoError(t, err, "create job queue")
	d, err := c.RegisterJobDefinition(ctx, &batch.RegisterJobDefinitionInput{
		JobDefinitionName: aws.String(name), Type: batchtypes.JobDefinitionTypeContainer,
		// The legacy vcpus/memory fields: with resourceRequirements, moto
		// describes the job's vcpus as 1.0, which the SDK refuses as an
		// integer.
		ContainerProperties: &batchtypes.ContainerProperties{Image: aws.String("orrery-trainer:test"),
			Vcpus: aws.Int32(1), Memory: aws.Int32(2048)},
	})
	require.NoError(t, err, "register job definition")
	return batchQueue{client: c, queueARN: aws.ToString(q.JobQueueArn), definitionARN: aws.ToString(d.JobDefinitionArn)}
}

// job returns the Batch job with id, as moto recorded it.
func (b batchQueue) job(t *testing.T, id string) batchtypes.JobDetail {
	t.Helper()
	out, err := b.client.DescribeJobs(t.Context(), &batch.DescribeJobsInput{Jobs: []string{id}})
	require.NoError(t, err)
	if len(out.Jobs) != 1 {
		require.NoError(t, errors.New("no such Batch job"), id)
	}
	return out.Jobs[0]
}

// listSucceeded lists the SUCCEEDED jobs of a queue.
func listSucceeded(queue string) *batch.ListJobsInput {
	return &batch.ListJobsInput{JobQueue: aws.String(queue), JobStatus: batchtypes.JobStatusSucceeded}
}

package sfnexec_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
	"github.com/orrery-ml/orrery/shared/awsclient/sfnrest"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/sfnexec"
)

// waitDefinition waits long enough for a stop to find it running.
const waitDefinition = `{"StartAt":"Hold","States":{"Hold":{"Type":"Wait","Seconds":30,"End":true}}}`

func TestNewRefuses(t *testing.T) {
	client := &sfnrest.Client{Endpoint: "http://127.0.0.1:9", Region: "us-east-1"}
	for _, arn := range []string{"training", "arn:aws:states:us-east-1:123456789012:execution:training:x",
		"arn:aws:lambda:us-east-1:123456789012:function:training", "arn:aws:states:us-east-1:123456789012:stateMachine:"} {
		_, err := sfnexec.New(client, map[pipeline.Machine]string{pipeline.MachineTraining: arn})
		require.ErrorIs(t, err, sfnexec.ErrInvalid, "arn %q", arn)
	}
	_, err := sfnexec.New(nil, map[pipeline.Machine]string{pipeline.MachineTraining: "arn:aws:states:us-east-1:123456789012:stateMachine:training"})
	require.ErrorIs(t, err, sfnexec.ErrInvalid)
}

func TestExecutionARN(t *testing.T) {
	e, err := sfnexec.New(&sfnrest.Client{Endpoint: "http://127.0.0.1:9", Region: "us-east-1"}, map[pipeline.Machine]string{
		pipeline.MachineTraining:   "arn:aws:states:us-east-1:123456789012:stateMachine:orrery-dev-training",
		pipeline.MachineEvaluation: ""})
	require.NoError(t, err)
	arn, err := e.ExecutionARN(pipeline.MachineTraining, "job-1")
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:states:us-east-1:123456789012:execution:orrery-dev-training:job-1", arn)
	assert.True(t, e.Runs(pipeline.MachineTraining))
	assert.False(t, e.Runs(pipeline.MachineEvaluation), "an empty ARN is a machine not run here")
	for _, id := range []string{"", "job 1", "job/1", string(make([]byte, 81))} {
		require.ErrorIs(t, e.Start(t.Context(), pipeline.MachineTraining, id, nil), sfnexec.ErrInvalid)
		require.ErrorIs(t, e.Stop(t.Context(), pipeline.MachineTraining, id, "x"), sfnexec.ErrInvalid)
	}
	require.ErrorIs(t, e.Start(t.Context(), pipeline.MachineEvaluation, "job-1", nil), pipeline.ErrUnknownMachine)
}

// TestAgainstEmulator starts, restarts, describes and stops executions in
// the emulator's Step Functions.
func TestAgainstEmulator(t *testing.T) {
	cfg := awstest.Config(t)
	client := sfn.NewFromConfig(cfg)
	ctx := t.Context()
	created, err := client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String(awstest.Name(t, "training")),
		Definition: aws.String(waitDefinition),
		RoleArn:    aws.String("arn:aws:iam::123456789012:role/orrery-test"),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = client.DeleteStateMachine(context.Background(), &sfn.DeleteStateMachineInput{StateMachineArn: created.StateMachineArn})
	})
	e, err := sfnexec.New(sfnrest.New(cfg, os.Getenv), map[pipeline.Machine]string{pipeline.MachineTraining: aws.ToString(created.StateMachineArn)})
	require.NoError(t, err)
	flows := pipeline.Flows{Executions: e}

	require.NoError(t, flows.StartTraining(ctx, "job-1"))
	require.NoError(t, flows.StartTraining(ctx, "job-1"), "a second start of the same job is not an error")
	require.NoError(t, flows.StartTraining(ctx, "job-2"))

	list, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: created.StateMachineArn})
	require.NoError(t, err)
	names := map[string]int{}
	for _, x := range list.Executions {
		names[aws.ToString(x.Name)]++
	}
	assert.Equal(t, map[string]int{"job-1": 1, "job-2": 1}, names, "one execution per job")

	d, err := e.Describe(ctx, pipeline.MachineTraining, "job-1")
	require.NoError(t, err)
	assert.Equal(t, pipeline.StatusRunning, d.Status)
	var input pipeline.TrainingInput
	require.NoError(t, json.Unmarshal(d.Input, &input))
	assert.Equal(t, "job-1", input.JobID)
	_, err = e.Describe(ctx, pipeline.MachineTraining, "job-never-started")
	require.ErrorIs(t, err, pipeline.ErrNoExecution)

	require.NoError(t, flows.StopTraining(ctx, "job-1"))
	require.Eventually(t, func() bool {
		d, err := e.Describe(ctx, pipeline.MachineTraining, "job-1")
		return err == nil && d.Status == pipeline.StatusAborted
	}, 2*time.Minute, 50*time.Millisecond, "stopped execution is ABORTED")
	require.NoError(t, flows.StopTraining(ctx, "job-never-started"), "stopping a job without execution is not an error")
}

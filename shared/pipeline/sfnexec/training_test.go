package sfnexec_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

// TestTrainingStateMachineOnMoto deploys the training state machine to moto
// with real (emulated) resources and runs it to the end through the
// ShouldDeploy choice: the stages and deploy functions are moto's
// Docker-less Lambda, which answers with its payload, and Train submits a
// real job to moto's Batch (its "simple" mode marks the job SUCCEEDED
// without running a container) and waits for it through the .sync
// integration. It checks that what ships is accepted and executed by moto's
// interpreter, down to the Batch request (job name, queue, definition,
// parameters, environment with the task token); the stages' own behaviour is
// tested with the local executor.
func TestTrainingStateMachineOnMoto(t *testing.T) {
	moto := newMotoEnv(t)
	ctx := t.Context()
	run := time.Now().Format("150405.000000")
	run = run[:6] + run[7:]
	q := newBatchQueue(t, moto, "orrery-train-"+run)
	r := pipeline.Resources{StagesFunction: echoFunction, DeployFunction: echoFunction,
		JobQueue: q.queueARN, JobDefinition: q.definitionARN}
	def, err := pipeline.Training(r)
	require.NoError(t, err)
	tr := def.States[pipeline.StateTrain]
	require.Equal(t, pipeline.BatchSubmitJobSync, tr.Resource)
	jobID := "trn-" + run
	out, err := moto.runner.Execute(ctx, def, asl.Execution{Name: jobID, StateMachine: "training-" + run,
		Input: pipeline.TrainingInput{JobID: jobID}.JSON()})
	require.NoError(t, err)

	// The Succeeded state outputs $.refs: here the echo of Register's
	// request, which carries the stage name.
	var refs map[string]any
	require.NoError(t, json.Unmarshal(out, &refs), "output %s", out)
	assert.Equal(t, "register", refs["stage"], "output %s", out)

	// The Batch job Train submitted, as moto's Batch recorded it.
	jobs, err := q.client.ListJobs(ctx, listSucceeded(q.queueARN))
	require.NoError(t, err)
	require.Len(t, jobs.JobSummaryList, 1, "one Batch job on the queue")
	job := q.job(t, *jobs.JobSummaryList[0].JobId)
	assert.Equal(t, "orrery-train-"+jobID, *job.JobName)
	assert.Equal(t, map[string]string{"job_id": jobID}, job.Parameters, "Batch parameters carry the job id")
	env := map[string]string{}
	for _, kv := range job.Container.Environment {
		env[*kv.Name] = *kv.Value
	}
	assert.Contains(t, env, pipeline.EnvStageRefs, "the stage refs reach the container")
	// $$.Task.Token under the job run (.sync) pattern: the trainer's
	// heartbeats need it (SendTaskHeartbeat is documented for "Task states
	// using the job run pattern" too).
	assert.NotEmpty(t, env[pipeline.EnvTaskToken], "the task token reaches the container")
	var stageRefs map[string]any
	require.NoError(t, json.Unmarshal([]byte(env[pipeline.EnvStageRefs]), &stageRefs), "refs %q", env[pipeline.EnvStageRefs])
	assert.Equal(t, "preprocess", stageRefs["stage"], "Train's refs are Preprocess's output (the echo)")
	// moto's Batch drops the request's retryStrategy (its submitjob reads
	// no such parameter), so the exit-75 retry is checked on the local
	// executor, which emulates it (shared/pipeline local.go).
}

// TestTrainingFailureAlertsOnMoto runs the training state machine as it
// ships, with an alert topic, on moto's interpreter, through its failure
// path: MarkFailed (the echo), the Alert state publishing to moto's SNS,
// and Failed. moto's Docker-less Lambda cannot fail, so ValidateData is
// replaced by a Pass state that leaves in $.error what its Catch leaves for
// a Lambda function error that is not retried (the Catch and the stage's
// errors run against moto in functions/stages TestFaultsOnTheAWSPath). The
// alert must reach a queue subscribed to the topic, naming the job and the
// error, and the execution must end with the original error's name and
// cause.
func TestTrainingFailureAlertsOnMoto(t *testing.T) {
	moto := newMotoEnv(t)
	ctx := t.Context()
	run := time.Now().Format("150405.000000")
	run = run[:6] + run[7:]
	snsc, sqsc := sns.NewFromConfig(moto.cfg), sqs.NewFromConfig(moto.cfg)
	topic, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("orrery-alerts-fail-" + run)})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = snsc.DeleteTopic(context.Background(), &sns.DeleteTopicInput{TopicArn: topic.TopicArn}) })
	queue, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orrery-alerts-fail-" + run)})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = sqsc.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: queue.QueueUrl}) })
	qa, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: queue.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	require.NoError(t, err)
	_, err = snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"),
		Endpoint: aws.String(qa.Attributes["QueueArn"]), Attributes: map[string]string{"RawMessageDelivery": "true"}})
	require.NoError(t, err)

	q := newBatchQueue(t, moto, "orrery-train-fail-"+run)
	def, err := pipeline.Training(pipeline.Resources{StagesFunction: echoFunction, JobQueue: q.queueARN,
		JobDefinition: q.definitionARN, AlertTopic: aws.ToString(topic.TopicArn)})
	require.NoError(t, err)
	require.Contains(t, def.States, pipeline.StateAlert)
	const cause = `{"errorMessage":"evaluate: training: data changed since validation: s3://d/htru2.csv","errorType":"Orrery.DataChanged"}`
	failure, err := json.Marshal(map[string]string{"Error": "Orrery.DataChanged", "Cause": cause})
	require.NoError(t, err)
	v := def.States[pipeline.StateValidateData]
	def.States[pipeline.StateValidateData] = asl.State{Type: asl.TypePass, Result: failure, ResultPath: asl.P("$.error"),
		Next: v.Catch[0].Next}

	jobID := "trn-fail-" + run
	_, err = moto.runner.Execute(ctx, def, asl.Execution{Name: jobID, StateMachine: "training-fail-" + run,
		Input: pipeline.TrainingInput{JobID: jobID}.JSON()})
	var e *asl.Error
	require.ErrorAs(t, err, &e, "%v", err)
	assert.Equal(t, pipeline.ErrorTrainingFailed, e.Name)
	assert.Equal(t, "Orrery.DataChanged: "+cause, e.Cause)

	// moto delivers to the subscribed queue as it publishes; the long poll
	// returns as soon as the message is there.
	msg, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: queue.QueueUrl, MaxNumberOfMessages: 10,
		WaitTimeSeconds: 20})
	require.NoError(t, err)
	require.Len(t, msg.Messages, 1, "one alert")
	body := aws.ToString(msg.Messages[0].Body)
	assert.True(t, strings.HasPrefix(body, "Training job "+jobID+" failed: "), "alert %q", body)
	var sent fault.Failure
	require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(body, "Training job "+jobID+" failed: ")), &sent), "alert %q", body)
	assert.Equal(t, fault.Failure{Error: "Orrery.DataChanged", Cause: cause}, sent)
	jobs, err := q.client.ListJobs(ctx, listSucceeded(q.queueARN))
	require.NoError(t, err)
	assert.Empty(t, jobs.JobSummaryList, "no Batch job for a job that failed validation")
}

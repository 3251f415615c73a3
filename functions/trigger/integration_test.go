package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient"
	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
	"github.com/orrery-ml/orrery/shared/awsclient/sfnrest"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/sfnexec"
	"github.com/orrery-ml/orrery/shared/retraining"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
)

// maxReceiveCount is the incoming queue's redrive policy in these tests: a
// message is tried twice, then moved to the dead-letter queue.
const maxReceiveCount = 2

// backbone is the retraining backbone in the emulator: a table, a datasets
// bucket, the incoming queue with its dead-letter queue, a state machine,
// and the trigger handler wired to them as main.go wires it.
type backbone struct {
	sqs      *sqs.Client
	sfn      *sfn.Client
	sfnREST  *sfnrest.Client
	s3       *s3.Client
	db       *dynamostore.Store
	bucket   string
	queueURL string
	dlqURL   string
	queueARN string
	machine  string
	handler  *handler
}

func newBackbone(t *testing.T) *backbone {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test against the AWS emulator")
	}
	cfg := awstest.Config(t)
	ctx := t.Context()
	b := &backbone{
		sqs:     sqs.NewFromConfig(cfg),
		sfn:     sfn.NewFromConfig(cfg),
		sfnREST: sfnrest.New(cfg, os.Getenv),
		s3:      s3.NewFromConfig(cfg, awsclient.S3Options(cfg)),
	}
	ddb := dynamodb.NewFromConfig(cfg)
	table := awstest.Name(t, "orrery-jobs")
	require.NoError(t, dynamostore.CreateTable(ctx, ddb, table))
	t.Cleanup(func() {
		_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	db, err := dynamostore.New(ddb, dynamostore.Tables{Jobs: table, Models: table})
	require.NoError(t, err)
	b.db = db
	require.NoError(t, db.PutRetrainingPolicy(ctx, store.RetrainingPolicy{
		Prefix:    "incoming/htru2/",
		ModelName: "htru2-mlp",
		Config:    json.RawMessage(`{"target_column":"class","positive_class":"1","epochs":5}`),
	}))

	dlq, err := b.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awstest.Name(t, "incoming-dlq"))})
	require.NoError(t, err)
	b.dlqURL = aws.ToString(dlq.QueueUrl)
	dlqAttrs, err := b.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: dlq.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	require.NoError(t, err)
	redrive, err := json.Marshal(map[string]any{
		"deadLetterTargetArn": dlqAttrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)],
		"maxReceiveCount":     maxReceiveCount,
	})
	require.NoError(t, err)
	q, err := b.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName:  aws.String(awstest.Name(t, "incoming")),
		Attributes: map[string]string{"RedrivePolicy": string(redrive), "VisibilityTimeout": "30"},
	})
	require.NoError(t, err)
	b.queueURL = aws.ToString(q.QueueUrl)
	qAttrs, err := b.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	require.NoError(t, err)
	b.queueARN = qAttrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	t.Cleanup(func() {
		_, _ = b.sqs.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl})
		_, _ = b.sqs.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: dlq.QueueUrl})
	})

	sm, err := b.sfn.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String(awstest.Name(t, "training")),
		Definition: aws.String(`{"StartAt":"Done","States":{"Done":{"Type":"Pass","End":true}}}`),
		RoleArn:    aws.String("arn:aws:iam::123456789012:role/orrery-test"),
	})
	require.NoError(t, err)
	b.machine = aws.ToString(sm.StateMachineArn)
	t.Cleanup(func() {
		_, _ = b.sfn.DeleteStateMachine(context.Background(), &sfn.DeleteStateMachineInput{StateMachineArn: sm.StateMachineArn})
	})
	ex, err := sfnexec.New(b.sfnREST, map[pipeline.Machine]string{pipeline.MachineTraining: b.machine})
	require.NoError(t, err)
	b.handler = &handler{objects: &retraining.Service{Jobs: db, Policies: db, Executions: pipeline.Flows{Executions: ex}}, log: quietLog()}

	b.bucket = awstest.Name(t, "orrery-datasets")
	_, err = b.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b.bucket)})
	require.NoError(t, err)
	return b
}

// poll does what Lambda's SQS event source mapping does: receive batches of
// up to 10 messages, invoke the handler, delete the messages it did not name
// as failures. Messages are received with a visibility timeout far longer
// than a batch takes even on a loaded machine (so no message reappears while
// its batch is handled), and a failed message is made visible again at once
// (ChangeMessageVisibility 0), as a retry after its timeout would: nothing
// depends on how fast the handler runs. It stops once the queue holds no
// message at all, visible, in flight or delayed (a message past its
// maxReceiveCount leaves for the dead-letter queue at the next receive), and
// returns every failure reported.
func (b *backbone) poll(t *testing.T) []string {
	const visibility = 120
	t.Helper()
	ctx := t.Context()
	var failed []string
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		out, err := b.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(b.queueURL),
			MaxNumberOfMessages:         10,
			VisibilityTimeout:           visibility,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		require.NoError(t, err)
		if len(out.Messages) == 0 {
			if b.drained(t) {
				return failed
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		batch := events.SQSEvent{}
		for _, m := range out.Messages {
			batch.Records = append(batch.Records, events.SQSMessage{
				MessageId:      aws.ToString(m.MessageId),
				ReceiptHandle:  aws.ToString(m.ReceiptHandle),
				Body:           aws.ToString(m.Body),
				Attributes:     m.Attributes,
				EventSource:    "aws:sqs",
				EventSourceARN: b.queueARN,
			})
		}
		resp, err := b.handler.Handle(ctx, batch)
		require.NoError(t, err)
		failedNow := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			failedNow[f.ItemIdentifier] = true
			failed = append(failed, f.ItemIdentifier)
		}
		for _, m := range out.Messages {
			if failedNow[aws.ToString(m.MessageId)] {
				_, err := b.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(b.queueURL),
					ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
				require.NoError(t, err)
				continue
			}
			_, err := b.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(b.queueURL), ReceiptHandle: m.ReceiptHandle})
			require.NoError(t, err)
		}
	}
	t.Fatalf("queue %s not drained within 3 minutes", b.queueURL)
	return nil
}

// drained reports whether the incoming queue holds no message: none
// visible, none in flight, none delayed.
func (b *backbone) drained(t *testing.T) bool {
	t.Helper()
	counts := []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
	}
	out, err := b.sqs.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(b.queueURL), AttributeNames: counts,
	})
	require.NoError(t, err)
	for _, name := range counts {
		n, ok := out.Attributes[string(name)]
		require.True(t, ok, "queue attribute %s", name)
		if n != "0" {
			return false
		}
	}
	return true
}

// executions lists the state machine's executions by name.
func (b *backbone) executions(t *testing.T) map[string]int {
	t.Helper()
	names := map[string]int{}
	p := sfn.NewListExecutionsPaginator(b.sfn, &sfn.ListExecutionsInput{StateMachineArn: aws.String(b.machine)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		require.NoError(t, err)
		for _, x := range page.Executions {
			names[aws.ToString(x.Name)]++
		}
	}
	return names
}

// s3Event is the notification S3 sends for one created object.
func s3Event(t *testing.T, bucket, key, etag string) string {
	t.Helper()
	var ev events.S3Event
	var r events.S3EventRecord
	r.EventVersion, r.EventSource, r.AWSRegion = "2.1", "aws:s3", "us-east-1"
	r.EventName = "ObjectCreated:Put"
	r.EventTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r.S3.Bucket.Name = bucket
	r.S3.Object.Key = strings.ReplaceAll(key, " ", "+")
	r.S3.Object.ETag = etag
	r.S3.Object.Size = 1024
	ev.Records = append(ev.Records, r)
	body, err := json.Marshal(ev)
	require.NoError(t, err)
	return string(body)
}

// TestDuplicatesAndPoison is the bar: 100 deliveries of events for 10
// objects start exactly 10 executions, and a poison message goes to the
// dead-letter queue while the rest of its batch succeeds.
func TestDuplicatesAndPoison(t *testing.T) {
	b := newBackbone(t)
	ctx := t.Context()
	const objects, copies = 10, 10
	var bodies []string
	want := map[string]int{}
	for i := range objects {
		o := retraining.ObjectCreated{Bucket: b.bucket, Key: fmt.Sprintf("incoming/htru2/batch %02d.csv", i), ETag: fmt.Sprintf("etag%02d", i)}
		want[retraining.JobID(o)] = 1
		for range copies {
			bodies = append(bodies, s3Event(t, o.Bucket, o.Key, o.ETag))
		}
	}
	const poison = `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"x"},"object":{"key":"%zz"}}}]}`
	bodies = append(bodies, poison)
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(bodies), func(i, j int) { bodies[i], bodies[j] = bodies[j], bodies[i] })
	poisonID := ""
	for _, body := range bodies {
		out, err := b.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(b.queueURL), MessageBody: aws.String(body)})
		require.NoError(t, err)
		if body == poison {
			poisonID = aws.ToString(out.MessageId)
		}
	}

	failed := b.poll(t)
	assert.Equal(t, []string{poisonID, poisonID}[:maxReceiveCount], failed,
		"only the poison message fails, once per delivery, never the rest of its batch")
	assert.Equal(t, want, b.executions(t), "exactly one execution per object")

	jobs, err := b.db.ListJobs(ctx, 0)
	require.NoError(t, err)
	assert.Len(t, jobs, objects, "exactly one job per object")
	for _, j := range jobs {
		assert.Equal(t, store.Queued, j.Status)
		assert.Contains(t, string(j.Config), `"dataset_path": "s3://`+b.bucket+`/incoming/htru2/batch `)
	}

	// The queue is drained, so the poison message has left it: it is in
	// the dead-letter queue (waited for with long polls, not a sleep).
	var dead *sqs.ReceiveMessageOutput
	for end := time.Now().Add(time.Minute); time.Now().Before(end); {
		dead, err = b.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(b.dlqURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		require.NoError(t, err)
		if len(dead.Messages) > 0 {
			break
		}
	}
	require.Len(t, dead.Messages, 1, "the poison message is in the dead-letter queue")
	assert.Equal(t, poison, aws.ToString(dead.Messages[0].Body))
	assert.Equal(t, poisonID, aws.ToString(dead.Messages[0].MessageId))
}

// TestUploadStartsExecution follows an upload through the backbone: S3
// notifies the queue, the trigger starts the execution named after the job.
func TestUploadStartsExecution(t *testing.T) {
	b := newBackbone(t)
	ctx := t.Context()
	_, err := b.s3.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: aws.String(b.bucket),
		NotificationConfiguration: &s3types.NotificationConfiguration{
			QueueConfigurations: []s3types.QueueConfiguration{{
				QueueArn: aws.String(b.queueARN),
				Events:   []s3types.Event{s3types.EventS3ObjectCreated},
				Filter: &s3types.NotificationConfigurationFilter{Key: &s3types.S3KeyFilter{
					FilterRules: []s3types.FilterRule{{Name: s3types.FilterRuleNamePrefix, Value: aws.String("incoming/")}},
				}},
			}},
		},
	})
	require.NoError(t, err)
	const key = "incoming/htru2/2026-03-01.csv"
	put, err := b.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b.bucket), Key: aws.String(key), Body: strings.NewReader("mean,class\n1.0,0\n"),
	})
	require.NoError(t, err)
	_, err = b.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b.bucket), Key: aws.String("reports/elsewhere.csv"), Body: strings.NewReader("x"),
	})
	require.NoError(t, err)

	assert.Empty(t, b.poll(t), "no message fails")
	id := retraining.JobID(retraining.ObjectCreated{Bucket: b.bucket, Key: key, ETag: aws.ToString(put.ETag)})
	assert.Equal(t, map[string]int{id: 1}, b.executions(t))
	job, err := b.db.GetJob(ctx, id)
	require.NoError(t, err)
	assert.Contains(t, string(job.Config), `"dataset_path": "s3://`+b.bucket+"/"+key+`"`)
	assert.Contains(t, string(job.Config), `"name": "htru2-mlp"`)

	desc, err := b.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{
		ExecutionArn: aws.String(strings.Replace(b.machine, ":stateMachine:", ":execution:", 1) + ":" + id),
	})
	require.NoError(t, err)
	assert.JSONEq(t, `{"job_id":"`+id+`"}`, aws.ToString(desc.Input))
}

package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
	"github.com/orrery-ml/orrery/shared/jobevents"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
)

const sampleJob = "retrain-0b1c5c7bd2f14f5a9a7e2b1b7c9f3d10"

func fixture(t *testing.T, name string) []byte { return fixtureBytes(t, name) }

func fixtureBytes(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "aws", name))
	require.NoError(t, err)
	return b
}

// TestFixturesRoundTrip decodes the sample payloads into aws-lambda-go's
// types and encodes them again without loss, as aws-lambda-go's tests do.
func TestFixturesRoundTrip(t *testing.T) {
	tests := []struct {
		file string
		into any
	}{
		{"eventbridge-sfn-execution-status-change.json", &events.EventBridgeEvent{}},
		{"eventbridge-batch-job-state-change.json", &events.EventBridgeEvent{}},
		{"sqs-job-events.json", &events.SQSEvent{}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			in := fixture(t, tc.file)
			require.NoError(t, json.Unmarshal(in, tc.into))
			out, err := json.Marshal(tc.into)
			require.NoError(t, err)
			assert.JSONEq(t, string(in), string(out))
		})
	}
}

// recorder is a Changes that records what it is given.
type recorder struct {
	executions []jobevents.ExecutionChange
	batchJobs  []jobevents.BatchJobChange
}

func (r *recorder) Execution(_ context.Context, c jobevents.ExecutionChange) (jobevents.Outcome, error) {
	r.executions = append(r.executions, c)
	return jobevents.Applied, nil
}

func (r *recorder) BatchJob(_ context.Context, c jobevents.BatchJobChange) (jobevents.Outcome, error) {
	r.batchJobs = append(r.batchJobs, c)
	return jobevents.Applied, nil
}

func quietLog() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

func TestDecode(t *testing.T) {
	var batch events.SQSEvent
	require.NoError(t, json.Unmarshal(fixture(t, "sqs-job-events.json"), &batch))
	batch.Records = append(batch.Records,
		events.SQSMessage{MessageId: "not-json", Body: "{"},
		events.SQSMessage{MessageId: "other-detail", Body: `{"detail-type":"EC2 Instance State-change Notification","detail":{}}`},
		events.SQSMessage{MessageId: "name-only", Body: `{"detail-type":"Step Functions Execution Status Change",` +
			`"detail":{"name":"job-7","status":"RUNNING","input":null}}`},
		events.SQSMessage{MessageId: "tag-only", Body: `{"detail-type":"Batch Job State Change",` +
			`"detail":{"jobId":"b-9","status":"FAILED","tags":{"orrery:job_id":"job-9"}}}`},
	)
	rec := &recorder{}
	h := &handler{changes: rec, log: quietLog()}
	resp, err := h.Handle(t.Context(), batch)
	require.NoError(t, err)
	assert.Equal(t, []events.SQSBatchItemFailure{{ItemIdentifier: "not-json"}, {ItemIdentifier: "other-detail"}}, resp.BatchItemFailures)
	assert.Equal(t, []jobevents.ExecutionChange{
		{JobID: sampleJob, ExecutionARN: "arn:aws:states:us-east-1:123456789012:execution:orrery-dev-training:" + sampleJob,
			Status: "TIMED_OUT", Error: "States.Timeout", Cause: "The execution exceeded its TimeoutSeconds of 3600"},
		{JobID: "job-7", Status: "RUNNING"},
	}, rec.executions)
	assert.Equal(t, []jobevents.BatchJobChange{
		{JobID: sampleJob, BatchJobID: "4c7599ae-0a82-49aa-ba5a-4727fcce14a8", Status: "RUNNING"},
		{JobID: "job-9", BatchJobID: "b-9", Status: "FAILED"},
	}, rec.batchJobs)
}

// TestAgainstEmulator applies the sample events to a job in DynamoDB, then
// replays them, in order and reversed: the duplicates and late events change
// nothing.
func TestAgainstEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test against the AWS emulator")
	}
	cfg := awstest.Config(t)
	ddb := dynamodb.NewFromConfig(cfg)
	table := awstest.Name(t, "orrery-jobs")
	require.NoError(t, dynamostore.CreateTable(t.Context(), ddb, table))
	t.Cleanup(func() {
		_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table})
	})
	db, err := dynamostore.New(ddb, dynamostore.Tables{Jobs: table})
	require.NoError(t, err)
	require.NoError(t, db.CreateJob(t.Context(), store.Job{ID: sampleJob, Kind: "training", Status: store.Queued}))

	var batch events.SQSEvent
	require.NoError(t, json.Unmarshal(fixture(t, "sqs-job-events.json"), &batch))
	h := &handler{changes: &jobevents.Service{Jobs: db}, log: quietLog()}
	for range 3 {
		resp, err := h.Handle(t.Context(), batch)
		require.NoError(t, err)
		assert.Empty(t, resp.BatchItemFailures)
		job, err := db.GetJob(t.Context(), sampleJob)
		require.NoError(t, err)
		assert.Equal(t, store.Failed, job.Status, "Batch RUNNING then execution TIMED_OUT")
		assert.Equal(t, "train", job.Stage)
		assert.Equal(t, "execution TIMED_OUT: States.Timeout: The execution exceeded its TimeoutSeconds of 3600", job.Error)
	}
	// Delivered in the other order, one message a batch (the end first,
	// then the Batch job's RUNNING, as a retried message arrives late): the
	// finished job does not move.
	for i := len(batch.Records) - 1; i >= 0; i-- {
		resp, err := h.Handle(t.Context(), events.SQSEvent{Records: batch.Records[i : i+1]})
		require.NoError(t, err)
		assert.Empty(t, resp.BatchItemFailures)
	}
	job, err := db.GetJob(t.Context(), sampleJob)
	require.NoError(t, err)
	assert.Equal(t, store.Failed, job.Status, "late events never move a finished job")
	assert.Equal(t, "execution TIMED_OUT: States.Timeout: The execution exceeded its TimeoutSeconds of 3600", job.Error)
}

func TestFromEnv(t *testing.T) {
	c, err := FromEnv(func(k string) string { return map[string]string{"ORRERY_JOBS_TABLE": "jobs"}[k] })
	require.NoError(t, err)
	assert.Equal(t, "jobs", c.JobsTable)
	_, err = FromEnv(func(string) string { return "" })
	require.ErrorContains(t, err, "ORRERY_JOBS_TABLE")
}

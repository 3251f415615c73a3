package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
)

// TestTrackingQueuesExecutionEnds wires the function as main does with the
// MLflow mirror on (ORRERY_TRACKING_TABLE) against DynamoDB in the
// emulator: the sample batch's TIMED_OUT execution is queued in the
// outbox, once per delivery, its Batch and RUNNING events are not; with
// the mirror off nothing is queued.
func TestTrackingQueuesExecutionEnds(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test against the AWS emulator")
	}
	cfg := awstest.Config(t)
	awstest.UseEmulator(t)
	ddb := dynamodb.NewFromConfig(cfg)
	table := awstest.Name(t, "orrery-jobs")
	require.NoError(t, dynamostore.CreateTable(t.Context(), ddb, table))
	t.Cleanup(func() {
		_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table})
	})
	db, err := dynamostore.New(ddb, dynamostore.Tables{Jobs: table, Tracking: table})
	require.NoError(t, err)
	require.NoError(t, db.CreateJob(t.Context(), store.Job{ID: sampleJob, Kind: "training", Status: store.Queued}))
	var batch events.SQSEvent
	require.NoError(t, json.Unmarshal(fixture(t, "sqs-job-events.json"), &batch))

	for _, on := range []bool{false, true} {
		env := map[string]string{config.EnvJobsTable: table}
		if on {
			env[config.EnvTrackingTable] = table
		}
		c, err := FromEnv(func(k string) string { return env[k] })
		require.NoError(t, err)
		h, err := newHandler(t.Context(), c, quietLog())
		require.NoError(t, err)
		for range 2 {
			resp, err := h.Handle(t.Context(), batch)
			require.NoError(t, err)
			assert.Empty(t, resp.BatchItemFailures)
		}
		pending, err := db.PendingTracking(t.Context(), "", 0)
		require.NoError(t, err)
		if !on {
			assert.Empty(t, pending, "the mirror off queues nothing")
			continue
		}
		require.Len(t, pending, 2, "the execution's end, once per delivery")
		for _, e := range pending {
			assert.Equal(t, sampleJob, e.Subject)
			assert.Equal(t, "mlflow.execution_end", e.Kind)
		}
	}
}

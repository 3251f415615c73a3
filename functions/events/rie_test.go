package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/functions/internal/rietest"
	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
)

// TestBootstrapUnderRIE is the Lambda smoke test: it builds this function as
// a linux/amd64 bootstrap with -tags lambda.norpc (as `make functions` does
// for arm64), runs it under the AWS Lambda Runtime Interface Emulator with a
// job table in moto, and invokes it with events/aws/sqs-job-events.json.
//
// rietest.Start documents the build and the emulator's settings.
func TestBootstrapUnderRIE(t *testing.T) {
	table := awstest.Name(t, "orrery-jobs")
	url := rietest.Start(t, "ORRERY_JOBS_TABLE="+table)

	cfg := awstest.Config(t)
	ddb := dynamodb.NewFromConfig(cfg)
	require.NoError(t, dynamostore.CreateTable(t.Context(), ddb, table))
	t.Cleanup(func() {
		_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table})
	})
	db, err := dynamostore.New(ddb, dynamostore.Tables{Jobs: table})
	require.NoError(t, err)
	require.NoError(t, db.CreateJob(t.Context(), store.Job{ID: sampleJob, Kind: "training", Status: store.Queued}))

	payload := fixture(t, "sqs-job-events.json")
	for range 2 { // the second invocation replays the batch: nothing changes
		resp, err := http.Post(url, "application/json", bytes.NewReader(payload))
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, resp.Body.Close())
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
		var answer struct {
			BatchItemFailures []map[string]string `json:"batchItemFailures"`
		}
		require.NoError(t, json.Unmarshal(body, &answer), "%s", body)
		assert.Empty(t, answer.BatchItemFailures, "%s", body)

		job, err := db.GetJob(t.Context(), sampleJob)
		require.NoError(t, err)
		assert.Equal(t, store.Failed, job.Status)
		assert.Equal(t, "train", job.Stage)
	}
}

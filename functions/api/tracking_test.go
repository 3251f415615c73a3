package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/mlflowmirror"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
)

// TestTrackingStateAgainstEmulator wires the function as main does with the
// MLflow mirror on: a job whose end the tracking function could not send
// yet reads as behind in its status, with the run it has; both variables or
// neither.
func TestTrackingStateAgainstEmulator(t *testing.T) {
	cfg := awstest.Config(t)
	ctx := t.Context()
	awstest.UseEmulator(t)
	ddb := dynamodb.NewFromConfig(cfg)
	table := awstest.Name(t, "api-tracking")
	require.NoError(t, dynamostore.CreateTable(ctx, ddb, table))
	t.Cleanup(func() {
		_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table})
	})
	db, err := dynamostore.New(ddb, dynamostore.Tables{Jobs: table, Tracking: table})
	require.NoError(t, err)
	const jobID = "trn-20260101000000-0000aaaa"
	require.NoError(t, db.CreateJob(ctx, store.Job{ID: jobID, Kind: "training", Status: store.Succeeded,
		Config: json.RawMessage(`{"epochs": 3}`)}))
	require.NoError(t, mlflowmirror.NewQueue(db, nil).ExecutionEnded(ctx, jobID))
	pending, err := db.PendingTracking(ctx, jobID, 0)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.NoError(t, db.FailTracking(ctx, pending[0].Seq, "connection refused", time.Now().Add(time.Minute), false))
	require.NoError(t, db.PutTrackingRef(ctx, "run:training/"+jobID, "run-1"))

	env := fullEnv()
	env[config.EnvJobsTable], env[config.EnvModelsTable], env[config.EnvIdempotencyTable] = table, table, table
	env[config.EnvTrackingTable], env[config.EnvMLflowTrackingURI] = table, "https://mlflow.example.org"
	c, err := FromEnv(envOf(env))
	require.NoError(t, err)
	h, err := newHandler(ctx, c, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	status := readEvent(t, "get-training-status.json")
	status.RawPath = "/ml/training/" + jobID + "/status"
	status.RequestContext.HTTP.Path = status.RawPath
	resp, err := httpadapter.NewV2(h).ProxyWithContext(ctx, status)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, resp.Body)
	var got struct {
		Tracking struct {
			State     string `json:"state"`
			LastError string `json:"last_error"`
			RunID     string `json:"run_id"`
		} `json:"tracking"`
	}
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &got), resp.Body)
	assert.Equal(t, mlflowmirror.StateBehind, got.Tracking.State)
	assert.Equal(t, "connection refused", got.Tracking.LastError)
	assert.Equal(t, "run-1", got.Tracking.RunID)

	delete(env, config.EnvMLflowTrackingURI)
	_, err = FromEnv(envOf(env))
	require.ErrorContains(t, err, config.EnvMLflowTrackingURI)
}

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
	"github.com/orrery-ml/orrery/shared/awsclient"
	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
)

// TestBootstrapUnderRIE builds the function as a linux/amd64 bootstrap with
// -tags lambda.norpc, runs it under the Lambda Runtime Interface Emulator
// against moto, and checks that a failed stage reaches the caller with the
// Orrery.* error type — what Step Functions' Retry and Catch match — not
// the Go type name aws-lambda-go reports for other errors.
func TestBootstrapUnderRIE(t *testing.T) {
	table := awstest.Name(t, "stages-rie")
	url := rietest.Start(t, config.EnvJobsTable+"="+table, config.EnvModelsTable+"="+table,
		config.EnvStudiesTable+"="+table, config.EnvArtifactsBucket+"=orrery-artifacts-unused")

	cfg := awstest.Config(t)
	ddb := dynamodb.NewFromConfig(cfg, awsclient.DynamoDBOptions(cfg))
	require.NoError(t, dynamostore.CreateTable(t.Context(), ddb, table))
	t.Cleanup(func() {
		_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table})
	})

	tests := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"unknown stage", []byte(`{"stage": "deploy", "refs": {"job_id": "trn-1"}}`), training.ErrorNameInvalidInput},
		{"the validate fixture, job never submitted", fixture(t, "stages-validate.json"), training.ErrorNameNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(url, "application/json", bytes.NewReader(tc.payload))
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, resp.Body.Close())
			require.NoError(t, err)
			var answer struct {
				ErrorType    string `json:"errorType"`
				ErrorMessage string `json:"errorMessage"`
			}
			require.NoError(t, json.Unmarshal(body, &answer), "%s", body)
			assert.Equal(t, tc.want, answer.ErrorType, "%s", body)
			assert.NotEmpty(t, answer.ErrorMessage)
		})
	}
}

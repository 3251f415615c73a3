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
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
)

// TestBootstrapUnderRIE builds the function as a linux/amd64 bootstrap with
// -tags lambda.norpc, runs it under the Lambda Runtime Interface Emulator
// against moto, and checks that a failed stage reaches the caller with the
// Orrery.* error type — what Step Functions' Retry and Catch match — not
// the Go type name aws-lambda-go reports for other errors — and that a
// `{"step": "suggest", ...}` request of the optimization machine plans a
// round of a study stored in DynamoDB.
func TestBootstrapUnderRIE(t *testing.T) {
	table := awstest.Name(t, "stages-rie")
	url := rietest.Start(t, config.EnvJobsTable+"="+table, config.EnvModelsTable+"="+table,
		config.EnvStudiesTable+"="+table, config.EnvArtifactsBucket+"=orrery-artifacts-unused")

	cfg := awstest.Config(t)
	ddb := dynamodb.NewFromConfig(cfg)
	require.NoError(t, dynamostore.CreateTable(t.Context(), ddb, table))
	t.Cleanup(func() {
		_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table})
	})

	// A study for the optimization machine's Suggest step.
	db, err := dynamostore.New(ddb, dynamostore.Tables{Studies: table})
	require.NoError(t, err)
	base := training.Defaults()
	base.DatasetPath, base.TargetColumn = "s3://orrery-datasets-unused/absent.csv", "class"
	study := awstest.Name(t, "hpo")
	require.NoError(t, optimization.CreateStudy(t.Context(), optimization.Stores{Studies: db, Trials: db}, study, "rie",
		optimization.StudySpec{Space: optimization.Space{Dimensions: []optimization.Dimension{
			{Name: "dropout_rate", Kind: optimization.Float, Low: 0, High: 0.5}}},
			Directions: []optimization.Direction{optimization.Maximize}, Strategy: "sobol", Parallel: 3,
			Budget: optimization.Budget{Trials: 6}, Base: &base}))

	t.Run("suggest", func(t *testing.T) {
		resp, err := http.Post(url, "application/json", bytes.NewReader([]byte(`{"step":"suggest","study_id":"`+study+`"}`)))
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, resp.Body.Close())
		require.NoError(t, err)
		var round optimization.SuggestOutput
		require.NoError(t, json.Unmarshal(body, &round), "%s", body)
		assert.Equal(t, optimization.SuggestOutput{StudyID: study, Trials: []int{0, 1, 2}}, round, "%s", body)
		trials, err := db.ListTrials(t.Context(), study)
		require.NoError(t, err)
		assert.Len(t, trials, 3, "the round is queued in DynamoDB")
	})

	tests := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"unknown stage", []byte(`{"stage": "deploy", "refs": {"job_id": "trn-1"}}`), fault.Invalid.Name()},
		{"the validate fixture, job never submitted", fixture(t, "stages-validate.json"), fault.NotFound.Name()},
		{"suggest for an unknown study", []byte(`{"step": "suggest", "study_id": "hpo-absent"}`), fault.NotFound.Name()},
		{"a step request with a typo", []byte(`{"step": "suggest", "studyid": "hpo-1"}`), fault.Invalid.Name()},
		{"neither stage nor step", []byte(`{"evaluate": "mdl-1"}`), fault.Invalid.Name()},
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

package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/functions/internal/rietest"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/store"
)

// TestEvaluationBootstrapUnderRIE runs the built bootstrap under the Lambda
// Runtime Interface Emulator against moto, with a model and its data set
// registered there first, and invokes it as the evaluation state machine
// does: the job is evaluated (the answer is its evaluationjob.Output) and an
// unknown job comes back with the Orrery.NotFound error type.
func TestEvaluationBootstrapUnderRIE(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model, builds a bootstrap and runs the Lambda Runtime Interface Emulator")
	}
	w := newEvaluationWorld(t)
	url := rietest.Start(t, config.EnvJobsTable+"="+w.table, config.EnvModelsTable+"="+w.table,
		config.EnvStudiesTable+"="+w.table, config.EnvArtifactsBucket+"="+w.artifacts)
	job, err := w.svc.Submit(t.Context(), evaluationjob.Config{EvaluateRequest: evaluation.EvaluateRequest{ModelID: w.modelID, BootstrapResamples: 100}})
	require.NoError(t, err)

	invoke := func(payload string) []byte {
		t.Helper()
		resp, err := http.Post(url, "application/json", bytes.NewReader([]byte(payload)))
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, resp.Body.Close())
		require.NoError(t, err)
		return body
	}
	var out evaluationjob.Output
	body := invoke(`{"evaluation": {"job_id": "` + job.ID + `"}}`)
	require.NoError(t, json.Unmarshal(body, &out), "%s", body)
	assert.Equal(t, string(store.Succeeded), out.Status, "%s", body)
	assert.Equal(t, w.modelID, out.ModelID)
	got, err := w.svc.Jobs.GetJob(t.Context(), job.ID)
	require.NoError(t, err)
	assert.Equal(t, store.Succeeded, got.Status, got.Error)

	var failure struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	body = invoke(`{"evaluation": {"job_id": "evj-absent"}}`)
	require.NoError(t, json.Unmarshal(body, &failure), "%s", body)
	assert.Equal(t, fault.NotFound.Name(), failure.ErrorType, "%s", body)
	assert.Contains(t, failure.ErrorMessage, "evj-absent")
}

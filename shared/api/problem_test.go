package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
)

// TestProblemForMapsCodes: the status and kind of a problem follow the
// error's fault code; an internal error's text never reaches the client.
func TestProblemForMapsCodes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		typ        string
		detail     string
		hiddenText string
	}{
		{"invalid: a store argument", fmt.Errorf("get job %q: %w", "", store.ErrInvalid), 400, "invalid-request", `get job ""`, ""},
		{"invalid: a data set", fmt.Errorf("evaluate m: %w: column x", dataset.ErrMissingColumn), 400, "invalid-request", "evaluate m: dataset: missing column: column x", ""},
		{"invalid: an evaluation request", fmt.Errorf("%w: cv_folds: 1", evaluation.ErrInvalidRequest), 400, "invalid-request", "evaluation: invalid request: cv_folds: 1", ""},
		{"invalid: a search space", fmt.Errorf("%w: lr: low > high", optimization.ErrInvalidSpace), 400, "invalid-request", "optimization: invalid search space: lr: low > high", ""},
		{"not found", fmt.Errorf("job trn-1: %w", store.ErrNotFound), 404, "not-found", "job trn-1", ""},
		{"not found: a study's trial", fmt.Errorf("tell hpo-1: %w: 3", optimization.ErrUnknownTrial), 404, "not-found", "tell hpo-1: optimization: unknown trial: 3", ""},
		{"conflict", fmt.Errorf("cancel trn-1: it is SUCCEEDED: %w", store.ErrConflict), 409, "conflict", "cancel trn-1: it is SUCCEEDED", ""},
		{"data changed", fmt.Errorf("model m: %w: weights.safetensors", nn.ErrChecksum), 409, "data-changed", "model m: nn: checksum mismatch: weights.safetensors", ""},
		{"diverged", fmt.Errorf("train: %w", training.ErrDiverged), 422, "diverged", "train: training: loss diverged", ""},
		{"cancelled", fmt.Errorf("list jobs: %w", context.Canceled), 499, "client-closed-request", "the request was cancelled", ""},
		{"unavailable", fmt.Errorf("start training job trn-1: throttled: %w", api.ErrUnavailable), 503, "unavailable", "start training job trn-1: throttled", ""},
		{"a deadline is unavailable", fmt.Errorf("get job trn-1: %w", context.DeadlineExceeded), 503, "unavailable", "get job trn-1: context deadline exceeded", ""},
		{"not implemented", fmt.Errorf("deployments: %w", api.ErrNotImplemented), 501, "not-implemented", "deployments", ""},
		{"internal: unknown", errors.New("dial tcp 10.0.0.7:443: connection refused"), 500, "internal",
			"the server failed to handle the request; it has been logged", "10.0.0.7"},
		{"internal: a sentinel of that code", fmt.Errorf("open /srv/orrery/db: %w", fault.New(fault.Internal, "sqlitestore: schema too new")), 500, "internal",
			"the server failed to handle the request; it has been logged", "/srv/orrery"},
		{"internal: a misconfigured data root", fmt.Errorf("data root %q: %w", "/secret/path", api.ErrDataRoot), 500, "internal",
			"the server failed to handle the request; it has been logged", "/secret/path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := api.ProblemFor(tc.err)
			assert.Equal(t, tc.status, p.Status)
			assert.Equal(t, "urn:orrery:problem:"+tc.typ, p.Type)
			assert.NotEmpty(t, p.Title)
			assert.Equal(t, tc.detail, p.Detail)
			if tc.hiddenText != "" {
				assert.NotContains(t, p.Detail+p.Title, tc.hiddenText)
			}
		})
	}
}

// TestProblemForRequestErrors: a RequestError keeps its fields and its own
// status; an invalid TrainingConfig names its field.
func TestProblemForRequestErrors(t *testing.T) {
	re := &api.RequestError{Status: http.StatusRequestEntityTooLarge, Fields: []api.FieldError{{Field: "body", Detail: "over 1 MiB"}}}
	p := api.ProblemFor(fmt.Errorf("read body: %w", re))
	assert.Equal(t, http.StatusRequestEntityTooLarge, p.Status)
	assert.Equal(t, re.Fields, p.Errors)
	assert.Equal(t, fault.Invalid, fault.CodeOf(re), "a RequestError is invalid input wherever it goes")

	p = api.ProblemFor(fmt.Errorf("%w: early_stopping.patience: 0 is not positive", training.ErrInvalidConfig))
	assert.Equal(t, http.StatusBadRequest, p.Status)
	assert.Equal(t, []api.FieldError{{Field: "early_stopping.patience", Pointer: "/early_stopping/patience", Detail: "0 is not positive"}}, p.Errors)
}

package jobevents_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/jobevents"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
)

func newService(t *testing.T, status store.Status) (*jobevents.Service, *sqlitestore.DB) {
	t.Helper()
	db, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "orrery.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	require.NoError(t, db.CreateJob(t.Context(), store.Job{ID: "job-1", Kind: "training", Status: status, Stage: "validate"}))
	return &jobevents.Service{Jobs: db}, db
}

func TestExecution(t *testing.T) {
	tests := []struct {
		name       string
		from       store.Status
		status     string
		want       jobevents.Outcome
		wantStatus store.Status
		wantError  string
	}{
		{"running starts", store.Queued, jobevents.ExecutionRunning, jobevents.Applied, store.Running, ""},
		{"running twice is stale", store.Running, jobevents.ExecutionRunning, jobevents.Stale, store.Running, ""},
		{"succeeded", store.Running, jobevents.ExecutionSucceeded, jobevents.Applied, store.Succeeded, ""},
		{"failed with cause", store.Running, jobevents.ExecutionFailed, jobevents.Applied, store.Failed,
			"execution FAILED: States.TaskFailed: trainer exited 1"},
		{"timed out", store.Running, jobevents.ExecutionTimedOut, jobevents.Applied, store.Failed,
			"execution TIMED_OUT: States.TaskFailed: trainer exited 1"},
		{"aborted cancels", store.Queued, jobevents.ExecutionAborted, jobevents.Applied, store.Cancelled, "execution aborted"},
		{"late failure after success", store.Succeeded, jobevents.ExecutionFailed, jobevents.Stale, store.Succeeded, ""},
		{"late running after failure", store.Failed, jobevents.ExecutionRunning, jobevents.Stale, store.Failed, ""},
		{"redrive pending", store.Failed, jobevents.ExecutionPendingRedrive, jobevents.Skipped, store.Failed, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc, db := newService(t, tc.from)
			out, err := svc.Execution(t.Context(), jobevents.ExecutionChange{JobID: "job-1", Status: tc.status,
				Error: "States.TaskFailed", Cause: "trainer exited 1"})
			require.NoError(t, err)
			assert.Equal(t, tc.want, out)
			job, err := db.GetJob(t.Context(), "job-1")
			require.NoError(t, err)
			assert.Equal(t, tc.wantStatus, job.Status)
			assert.Equal(t, tc.wantError, job.Error)
		})
	}

	t.Run("unknown job", func(t *testing.T) {
		svc, _ := newService(t, store.Queued)
		out, err := svc.Execution(t.Context(), jobevents.ExecutionChange{JobID: "job-2", Status: jobevents.ExecutionRunning})
		require.NoError(t, err)
		assert.Equal(t, jobevents.NoJob, out)
	})
	t.Run("unknown status", func(t *testing.T) {
		svc, _ := newService(t, store.Queued)
		_, err := svc.Execution(t.Context(), jobevents.ExecutionChange{JobID: "job-1", Status: "PAUSED"})
		require.ErrorIs(t, err, jobevents.ErrUnknownStatus)
	})
}

func TestBatchJob(t *testing.T) {
	tests := []struct {
		name         string
		from         store.Status
		status       string
		want         jobevents.Outcome
		wantStatus   store.Status
		wantStage    string
		wantAttempts int
	}{
		{"running starts a queued job", store.Queued, jobevents.BatchRunning, jobevents.Applied, store.Running, "train", 0},
		{"running sets the stage of a running job", store.Running, jobevents.BatchRunning, jobevents.Applied, store.Running, "train", 0},
		{"running after the end is stale", store.Succeeded, jobevents.BatchRunning, jobevents.Stale, store.Succeeded, "validate", 0},
		{"failed attempt counted", store.Running, jobevents.BatchFailed, jobevents.Applied, store.Running, "validate", 1},
		{"failed after the end is stale", store.Failed, jobevents.BatchFailed, jobevents.Stale, store.Failed, "validate", 0},
		{"runnable changes nothing", store.Queued, jobevents.BatchRunnable, jobevents.Skipped, store.Queued, "validate", 0},
		{"succeeded changes nothing", store.Running, jobevents.BatchSucceeded, jobevents.Skipped, store.Running, "validate", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc, db := newService(t, tc.from)
			out, err := svc.BatchJob(t.Context(), jobevents.BatchJobChange{JobID: "job-1", BatchJobID: "b-1", Status: tc.status})
			require.NoError(t, err)
			assert.Equal(t, tc.want, out)
			job, err := db.GetJob(t.Context(), "job-1")
			require.NoError(t, err)
			assert.Equal(t, tc.wantStatus, job.Status)
			assert.Equal(t, tc.wantStage, job.Stage)
			assert.Equal(t, tc.wantAttempts, job.Attempts)
		})
	}
	t.Run("unknown status", func(t *testing.T) {
		svc, _ := newService(t, store.Queued)
		_, err := svc.BatchJob(t.Context(), jobevents.BatchJobChange{JobID: "job-1", Status: "EXPLODED"})
		require.ErrorIs(t, err, jobevents.ErrUnknownStatus)
	})
}

// TestEnded checks that every execution end — applied, stale or of no job
// record — is passed to Ended, the other statuses not, and that its error
// is the event's.
func TestEnded(t *testing.T) {
	tests := []struct {
		name    string
		from    store.Status
		id      string
		status  string
		want    jobevents.Outcome
		wantEnd []string
	}{
		{"succeeded", store.Running, "job-1", jobevents.ExecutionSucceeded, jobevents.Applied, []string{"job-1"}},
		{"succeeded after the register stage", store.Succeeded, "job-1", jobevents.ExecutionSucceeded, jobevents.Stale, []string{"job-1"}},
		{"failed", store.Running, "job-1", jobevents.ExecutionFailed, jobevents.Applied, []string{"job-1"}},
		{"aborted", store.Queued, "job-1", jobevents.ExecutionAborted, jobevents.Applied, []string{"job-1"}},
		{"a study's execution", store.Queued, "study-1", jobevents.ExecutionTimedOut, jobevents.NoJob, []string{"study-1"}},
		{"running", store.Queued, "job-1", jobevents.ExecutionRunning, jobevents.Applied, nil},
		{"redrive", store.Failed, "job-1", jobevents.ExecutionPendingRedrive, jobevents.Skipped, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc, _ := newService(t, tc.from)
			var ended []string
			svc.Ended = func(_ context.Context, id string) error { ended = append(ended, id); return nil }
			out, err := svc.Execution(t.Context(), jobevents.ExecutionChange{JobID: tc.id, Status: tc.status})
			require.NoError(t, err)
			assert.Equal(t, tc.want, out)
			assert.Equal(t, tc.wantEnd, ended)
		})
	}
	t.Run("its error is the event's", func(t *testing.T) {
		svc, _ := newService(t, store.Running)
		svc.Ended = func(context.Context, string) error { return errors.New("outbox down") }
		_, err := svc.Execution(t.Context(), jobevents.ExecutionChange{JobID: "job-1", Status: jobevents.ExecutionSucceeded})
		require.ErrorContains(t, err, "outbox down")
	})
}

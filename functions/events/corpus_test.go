package main

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/jobevents"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
)

// TestBadEventCorpus: SQS messages that are not usable EventBridge state
// changes — the bad-input corpus's EventBridge part. Each refused message
// is a batch item failure whose logged error names what is wrong (the
// detail-type, the status, the detail); each handled one is no failure;
// the job the events could have moved is left as it was.
func TestBadEventCorpus(t *testing.T) {
	db, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "orrery.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	const job = "trn-20260301120000-0a1b2c3d"
	require.NoError(t, db.CreateJob(t.Context(), store.Job{ID: job, Kind: "training", Status: store.Running, Stage: "train"}))
	exec := func(detail string) string {
		return `{"id": "ev-1", "detail-type": "Step Functions Execution Status Change", "source": "aws.states", "detail": ` + detail + `}`
	}
	batch := func(detail string) string {
		return `{"id": "ev-1", "detail-type": "Batch Job State Change", "source": "aws.batch", "detail": ` + detail + `}`
	}
	tests := []struct {
		kind, body string
		refused    bool
		want       string
	}{
		{"not JSON", `not json`, true, "not a Step Functions or Batch state change"},
		{"JSON array", `[{"detail-type": "Batch Job State Change"}]`, true, "not a Step Functions or Batch state change"},
		{"unknown detail-type", `{"id": "ev-1", "detail-type": "EC2 Instance State-change Notification", "detail": {}}`, true, `detail-type \"EC2 Instance State-change Notification\"`},
		{"no detail-type", `{"id": "ev-1", "detail": {}}`, true, `detail-type \"\"`},
		{"execution detail a string", exec(`"SUCCEEDED"`), true, "ev-1"},
		{"execution status unknown", exec(`{"name": "` + job + `", "status": "PAUSED"}`), true, `status \"PAUSED\"`},
		{"batch detail an array", batch(`[]`), true, "ev-1"},
		{"batch status unknown", batch(`{"jobId": "b-1", "status": "EXPLODED", "parameters": {"job_id": "` + job + `"}}`), true, `status \"EXPLODED\"`},
		{"batch parameters not strings", batch(`{"jobId": "b-1", "status": "SUCCEEDED", "parameters": {"job_id": 7}}`), true, "ev-1"},
		{"execution of an unknown job", exec(`{"name": "trn-nope", "status": "SUCCEEDED"}`), false, ""},
		{"batch job without a job id", batch(`{"jobId": "b-1", "status": "FAILED"}`), false, ""},
	}
	refused, handled := 0, 0
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			var logs bytes.Buffer
			h := &handler{changes: &jobevents.Service{Jobs: db}, log: slog.New(slog.NewJSONHandler(&logs, nil))}
			resp, err := h.Handle(t.Context(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m-1", Body: tc.body}}})
			require.NoError(t, err, "a bad message never fails the batch as a whole")
			got, err := db.GetJob(t.Context(), job)
			require.NoError(t, err)
			assert.Equal(t, store.Running, got.Status, "the job is left as it was")
			assert.Empty(t, got.Error)
			if !tc.refused {
				assert.Empty(t, resp.BatchItemFailures, "%s", logs.String())
				if !t.Failed() {
					handled++
				}
				return
			}
			require.Equal(t, []events.SQSBatchItemFailure{{ItemIdentifier: "m-1"}}, resp.BatchItemFailures)
			assert.Contains(t, logs.String(), tc.want)
			assert.Contains(t, logs.String(), `"message_id":"m-1"`)
			if !t.Failed() {
				refused++
			}
		})
	}
	t.Logf("EventBridge bad-event corpus: %d kinds tried, %d refused clearly, %d handled", len(tests), refused, handled)
}

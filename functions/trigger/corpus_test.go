package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBadEventCorpus: SQS messages that are not S3 ObjectCreated
// notifications — the bad-input corpus's S3/SQS part (shared/api's
// TestBadInputCorpus has the API and data files). Each refused message is
// a batch item failure (so SQS retries it and then dead-letters it) whose
// logged error names what is wrong; each handled one is no failure; none
// reaches the retraining service, so nothing is written.
func TestBadEventCorpus(t *testing.T) {
	const created = `{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "orrery-dev-datasets"}, "object": %s}}`
	tests := []struct {
		kind, body string
		refused    bool
		want       string // text the logged error holds
	}{
		{"not JSON", `<xml/>`, true, "not an S3 event notification"},
		{"truncated JSON", `{"Records": [`, true, "not an S3 event notification"},
		{"JSON array", `[]`, true, "not an S3 event notification"},
		{"no Records", `{}`, true, "no Records"},
		{"empty Records", `{"Records": []}`, true, "no Records"},
		{"Records not an array", `{"Records": "x"}`, true, "Records"},
		{"object without key", `{"Records": [` + fmt.Sprintf(created, `{"size": 3}`) + `]}`, true, "record 0 has no object key"},
		{"object key not a string", `{"Records": [` + fmt.Sprintf(created, `{"key": 7}`) + `]}`, true, "key"},
		{"S3 test event", `{"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "orrery-dev-datasets"}`, false, ""},
		{"object removed", `{"Records": [{"eventName": "ObjectRemoved:Delete", "s3": {"object": {"key": "incoming/x.csv"}}}]}`, false, ""},
	}
	refused, handled := 0, 0
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			var logs bytes.Buffer
			rec := &recorder{}
			h := &handler{objects: rec, log: slog.New(slog.NewJSONHandler(&logs, nil))}
			resp, err := h.Handle(t.Context(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m-1", Body: tc.body}}})
			require.NoError(t, err, "a bad message never fails the batch as a whole")
			assert.Empty(t, rec.got, "nothing reached the retraining service")
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
	t.Logf("S3/SQS bad-event corpus: %d kinds tried, %d refused clearly, %d handled", len(tests), refused, handled)
}

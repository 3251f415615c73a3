package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/retraining"
)

// fixture reads a payload from events/aws.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "aws", name))
	require.NoError(t, err)
	return b
}

// TestFixturesRoundTrip decodes the sample payloads into aws-lambda-go's
// types and encodes them again, as aws-lambda-go's own tests do: nothing is
// lost but the decoded key that events.S3Object adds.
func TestFixturesRoundTrip(t *testing.T) {
	tests := []struct {
		file string
		into any
	}{
		{"s3-object-created.json", &events.S3Event{}},
		{"sqs-s3-object-created.json", &events.SQSEvent{}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			in := fixture(t, tc.file)
			require.NoError(t, json.Unmarshal(in, tc.into))
			out, err := json.Marshal(tc.into)
			require.NoError(t, err)
			var got any
			require.NoError(t, json.Unmarshal(out, &got))
			dropKey(got, "urlDecodedKey")
			want, err := json.Marshal(mustAny(t, in))
			require.NoError(t, err)
			gotJSON, err := json.Marshal(got)
			require.NoError(t, err)
			assert.JSONEq(t, string(want), string(gotJSON))
		})
	}
}

func mustAny(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(b, &v))
	return v
}

// dropKey removes every map entry named key, at any depth.
func dropKey(v any, key string) {
	switch x := v.(type) {
	case map[string]any:
		delete(x, key)
		for _, e := range x {
			dropKey(e, key)
		}
	case []any:
		for _, e := range x {
			dropKey(e, key)
		}
	}
}

// recorder is an Objects that records what it is given and fails for keys
// in fail.
type recorder struct {
	mu   sync.Mutex
	got  []retraining.ObjectCreated
	fail map[string]error
}

func (r *recorder) Handle(_ context.Context, o retraining.ObjectCreated) (retraining.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, o)
	if err := r.fail[o.Key]; err != nil {
		return retraining.Result{}, err
	}
	return retraining.Result{Outcome: retraining.Started, JobID: retraining.JobID(o)}, nil
}

func quietLog() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

func TestHandleSampleBatch(t *testing.T) {
	var batch events.SQSEvent
	require.NoError(t, json.Unmarshal(fixture(t, "sqs-s3-object-created.json"), &batch))
	rec := &recorder{}
	h := &handler{objects: rec, log: quietLog()}
	resp, err := h.Handle(t.Context(), batch)
	require.NoError(t, err)
	assert.Equal(t, []events.SQSBatchItemFailure{{ItemIdentifier: batch.Records[2].MessageId}}, resp.BatchItemFailures,
		"only the message that is not an S3 event fails; the test event is skipped")
	require.Len(t, rec.got, 1)
	assert.Equal(t, retraining.ObjectCreated{
		Bucket: "orrery-dev-datasets-123456789012-us-east-1",
		Key:    "incoming/htru2/2026-03-01 batch.csv",
		ETag:   "9b2cf535f27731c974343645a3985328",
		Size:   1875439,
	}, rec.got[0], "the key is URL-decoded")
}

func TestHandleFailures(t *testing.T) {
	s3Body := func(keys ...string) string {
		var ev events.S3Event
		for _, k := range keys {
			var r events.S3EventRecord
			r.EventName = "ObjectCreated:Put"
			r.S3.Bucket.Name = "datasets"
			r.S3.Object.Key = k
			r.S3.Object.ETag = "etag-" + k
			ev.Records = append(ev.Records, r)
		}
		b, err := json.Marshal(ev)
		require.NoError(t, err)
		return string(b)
	}
	removed := `{"Records":[{"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"datasets"},"object":{"key":"incoming/a.csv"}}}]}`
	tests := []struct {
		name string
		body string
		fail bool
	}{
		{"one object", s3Body("incoming/a.csv"), false},
		{"two objects", s3Body("incoming/a.csv", "incoming/b.csv"), false},
		{"one of two objects fails", s3Body("incoming/a.csv", "incoming/bad.csv"), true},
		{"not JSON", "{", true},
		{"JSON without records", `{"hello":"world"}`, true},
		{"bad URL escape in key", s3Body("incoming/%zz.csv"), true},
		{"object removed is skipped", removed, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{fail: map[string]error{"incoming/bad.csv": errors.New("no policy")}}
			h := &handler{objects: rec, log: quietLog()}
			batch := events.SQSEvent{Records: []events.SQSMessage{
				{MessageId: "ok-before", Body: s3Body("incoming/x.csv")},
				{MessageId: "under-test", Body: tc.body},
				{MessageId: "ok-after", Body: s3Body("incoming/y.csv")},
			}}
			resp, err := h.Handle(t.Context(), batch)
			require.NoError(t, err)
			var failed []string
			for _, f := range resp.BatchItemFailures {
				failed = append(failed, f.ItemIdentifier)
			}
			if tc.fail {
				assert.Equal(t, []string{"under-test"}, failed)
			} else {
				assert.Empty(t, failed)
			}
		})
	}
}

func TestFromEnv(t *testing.T) {
	env := map[string]string{
		"ORRERY_JOBS_TABLE":                 "orrery-dev-jobs",
		"ORRERY_MODELS_TABLE":               "orrery-dev-models",
		"ORRERY_TRAINING_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:orrery-dev-training",
	}
	c, err := FromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, "orrery-dev-jobs", c.JobsTable)
	assert.Equal(t, "orrery-dev-models", c.ModelsTable)

	_, err = FromEnv(func(string) string { return "" })
	require.Error(t, err)
	for k := range env {
		assert.Contains(t, err.Error(), k, "the error names every missing variable")
	}
}

package main

import (
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// FuzzEventMessage feeds arbitrary SQS message bodies to the events
// handler: it must not panic, a body it refuses is errBadMessage (never
// applied), and one it applies is a Step Functions or Batch state change.
func FuzzEventMessage(f *testing.F) {
	f.Add(string(fixtureBytes(f, "eventbridge-sfn-execution-status-change.json")))
	f.Add(string(fixtureBytes(f, "eventbridge-batch-job-state-change.json")))
	f.Add(`{"detail-type":"Batch Job State Change","detail":{"jobId":"j","status":"FAILED","tags":{"orrery:job_id":"x"}}}`)
	f.Add(`{"detail-type":"Step Functions Execution Status Change","detail":{"name":"job-7","input":"{\"job_id\":3}"}}`)
	f.Add(`{`)
	f.Fuzz(func(t *testing.T, body string) {
		rec := &recorder{}
		h := &handler{changes: rec, log: quietLog()}
		err := h.message(t.Context(), events.SQSMessage{MessageId: "m", Body: body})
		applied := len(rec.executions) + len(rec.batchJobs)
		if err != nil && !errors.Is(err, errBadMessage) {
			t.Fatalf("refusal is not errBadMessage: %v", err)
		}
		if err != nil && applied > 0 {
			t.Fatalf("a refused message was applied: %v", err)
		}
		if err == nil && applied != 1 {
			t.Fatalf("an accepted message applied %d changes", applied)
		}
	})
}

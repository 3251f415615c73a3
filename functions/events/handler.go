package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/jobevents"
)

// EventBridge detail types handled here.
const (
	detailExecution = "Step Functions Execution Status Change"
	detailBatchJob  = "Batch Job State Change"
)

// jobIDTag and jobIDParameter carry the job id of a Batch training job.
const (
	jobIDTag       = "orrery:job_id"
	jobIDParameter = "job_id"
)

// Changes applies state changes to job records (jobevents.Service has it).
type Changes interface {
	Execution(ctx context.Context, c jobevents.ExecutionChange) (jobevents.Outcome, error)
	BatchJob(ctx context.Context, c jobevents.BatchJobChange) (jobevents.Outcome, error)
}

// handler turns SQS batches of EventBridge events into calls of Changes.
type handler struct {
	changes Changes
	log     *slog.Logger
}

// errBadMessage marks a message that is not an event this function handles.
var errBadMessage = fault.New(fault.Invalid, "events: message is not a Step Functions or Batch state change")

// executionDetail is the detail of a Step Functions Execution Status Change.
type executionDetail struct {
	ExecutionARN string  `json:"executionArn"`
	Name         string  `json:"name"`
	Status       string  `json:"status"`
	Input        *string `json:"input"`
	Error        *string `json:"error"`
	Cause        *string `json:"cause"`
}

// batchDetail is the detail of a Batch Job State Change.
type batchDetail struct {
	JobID        string            `json:"jobId"`
	JobName      string            `json:"jobName"`
	Status       string            `json:"status"`
	StatusReason string            `json:"statusReason"`
	Parameters   map[string]string `json:"parameters"`
	Tags         map[string]string `json:"tags"`
}

// Handle processes every message of the batch and names the ones that
// failed. It never fails as a whole.
func (h *handler) Handle(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, msg := range batch.Records {
		if err := h.message(ctx, msg); err != nil {
			h.log.ErrorContext(ctx, "message failed", "message_id", msg.MessageId,
				"receive_count", msg.Attributes["ApproximateReceiveCount"], "error", err.Error())
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
		}
	}
	return resp, nil
}

// message decodes one EventBridge event and applies it.
func (h *handler) message(ctx context.Context, msg events.SQSMessage) error {
	var ev events.EventBridgeEvent
	if err := json.Unmarshal([]byte(msg.Body), &ev); err != nil {
		return fmt.Errorf("message %s: %w: %w", msg.MessageId, errBadMessage, err)
	}
	var (
		out   jobevents.Outcome
		jobID string
		err   error
	)
	switch ev.DetailType {
	case detailExecution:
		var d executionDetail
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			return fmt.Errorf("message %s: event %s: %w: %w", msg.MessageId, ev.ID, errBadMessage, err)
		}
		jobID = executionJobID(d)
		out, err = h.changes.Execution(ctx, jobevents.ExecutionChange{
			JobID: jobID, ExecutionARN: d.ExecutionARN, Status: d.Status, Error: deref(d.Error), Cause: deref(d.Cause),
		})
	case detailBatchJob:
		var d batchDetail
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			return fmt.Errorf("message %s: event %s: %w: %w", msg.MessageId, ev.ID, errBadMessage, err)
		}
		jobID = d.Parameters[jobIDParameter]
		if jobID == "" {
			jobID = d.Tags[jobIDTag]
		}
		out, err = h.changes.BatchJob(ctx, jobevents.BatchJobChange{
			JobID: jobID, BatchJobID: d.JobID, Status: d.Status, StatusReason: d.StatusReason,
		})
	default:
		return fmt.Errorf("message %s: event %s: detail-type %q: %w", msg.MessageId, ev.ID, ev.DetailType, errBadMessage)
	}
	if err != nil {
		return fmt.Errorf("message %s: event %s: %w", msg.MessageId, ev.ID, err)
	}
	h.log.InfoContext(ctx, "event handled", "message_id", msg.MessageId, "event_id", ev.ID,
		"detail_type", ev.DetailType, "job_id", jobID, "outcome", string(out))
	return nil
}

// executionJobID is the job of an execution: "job_id" of its input when the
// event includes the input, else the execution's name.
func executionJobID(d executionDetail) string {
	if d.Input != nil {
		var in struct {
			JobID string `json:"job_id"`
		}
		if json.Unmarshal([]byte(*d.Input), &in) == nil && in.JobID != "" {
			return in.JobID
		}
	}
	return d.Name
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

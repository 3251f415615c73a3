package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/retraining"
)

// Objects handles one uploaded object (retraining.Service has it).
type Objects interface {
	Handle(ctx context.Context, o retraining.ObjectCreated) (retraining.Result, error)
}

// handler turns SQS batches of S3 events into calls of Objects.
type handler struct {
	objects Objects
	log     *slog.Logger
}

// s3TestEvent is the message S3 sends when a notification is configured.
type s3TestEvent struct {
	Event string `json:"Event"`
}

// Handle processes every message of the batch and names the ones that
// failed, so that only they are retried. It never fails as a whole: a
// message that cannot be decoded is one failed item.
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

// message handles every S3 record of one SQS message.
func (h *handler) message(ctx context.Context, msg events.SQSMessage) error {
	var test s3TestEvent
	if json.Unmarshal([]byte(msg.Body), &test) == nil && test.Event == "s3:TestEvent" {
		h.log.InfoContext(ctx, "s3 test event skipped", "message_id", msg.MessageId)
		return nil
	}
	objects, err := decodeObjects(msg.Body)
	if err != nil {
		return fmt.Errorf("message %s: %w", msg.MessageId, err)
	}
	var errs []error
	for _, o := range objects {
		res, err := h.objects.Handle(ctx, o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		h.log.InfoContext(ctx, "object handled", "message_id", msg.MessageId, "bucket", o.Bucket, "key", o.Key,
			"etag", o.ETag, "outcome", string(res.Outcome), "job_id", res.JobID, "policy", res.Policy, "reason", res.Reason)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("message %s: %w", msg.MessageId, err)
	}
	return nil
}

// errBadMessage marks a message body that is not an S3 event notification.
var errBadMessage = fault.New(fault.Invalid, "trigger: message is not an S3 event notification")

// decodeObjects reads the ObjectCreated records of an S3 event notification
// (other event types are skipped). Keys arrive URL-encoded, spaces as "+";
// events.S3Object decodes them.
func decodeObjects(body string) ([]retraining.ObjectCreated, error) {
	dec := json.NewDecoder(strings.NewReader(body))
	var ev events.S3Event
	if err := dec.Decode(&ev); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadMessage, err)
	}
	if len(ev.Records) == 0 {
		return nil, fmt.Errorf("%w: no Records", errBadMessage)
	}
	var out []retraining.ObjectCreated
	for i, r := range ev.Records {
		if !strings.HasPrefix(r.EventName, "ObjectCreated:") {
			continue
		}
		if r.S3.Object.URLDecodedKey == "" {
			return nil, fmt.Errorf("%w: record %d has no object key", errBadMessage, i)
		}
		out = append(out, retraining.ObjectCreated{
			Bucket: r.S3.Bucket.Name,
			Key:    r.S3.Object.URLDecodedKey,
			ETag:   r.S3.Object.ETag,
			Size:   r.S3.Object.Size,
		})
	}
	return out, nil
}

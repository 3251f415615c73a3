package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/orrery-ml/orrery/shared/store"
)

// deadlineMargin is the part of an invocation's time left unused, so that a
// drain cut short by the deadline still records its state before Lambda
// ends the invocation.
const deadlineMargin = 10 * time.Second

// Request is an invocation's input; a scheduled event (whose fields are
// none of these) drains.
type Request struct {
	// Sync replays what was missed instead of draining what is due.
	Sync bool `json:"sync"`
	// Subject limits a sync to one job, model or study ("": every one).
	Subject string `json:"subject"`
}

// Result is the outbox's state after the invocation.
type Result struct {
	// Sent counts the entries sent by this invocation.
	Sent int `json:"sent"`
	// Pending and Dead count the entries left: still to send, and refused
	// by the server for good (a sync revives them).
	Pending   int    `json:"pending"`
	Dead      int    `json:"dead"`
	LastError string `json:"last_error,omitempty"`
}

// drainer is what the handler needs of *mlflowmirror.Mirror.
type drainer interface {
	Drain(ctx context.Context) error
	Sync(ctx context.Context, subject string) (int, error)
}

// summarizer counts the outbox's entries (store.TrackingOutbox has it).
type summarizer interface {
	SummarizeTracking(ctx context.Context, subject string) (store.TrackingSummary, error)
}

// handler drains the outbox.
type handler struct {
	mirror drainer
	outbox summarizer
	log    *slog.Logger
}

// Handle drains (or, asked to, syncs) within the invocation's deadline less
// deadlineMargin. A failure to reach the server is no error of the
// invocation — it is recorded on the entries, logged, and answered in the
// Result, and the next invocation tries again —; only an outbox that cannot
// be read is.
func (h *handler) Handle(ctx context.Context, raw json.RawMessage) (Result, error) {
	var req Request
	if len(raw) > 0 {
		// A scheduled event is a JSON object too; its fields are ignored.
		_ = json.Unmarshal(raw, &req)
	}
	work := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		work, cancel = context.WithDeadline(ctx, deadline.Add(-deadlineMargin))
		defer cancel()
	}
	before, err := h.outbox.SummarizeTracking(ctx, req.Subject)
	if err != nil {
		return Result{}, err
	}
	var sendErr error
	if req.Sync {
		_, sendErr = h.mirror.Sync(work, req.Subject)
	} else {
		sendErr = h.mirror.Drain(work)
	}
	after, err := h.outbox.SummarizeTracking(ctx, req.Subject)
	if err != nil {
		return Result{}, err
	}
	res := Result{Sent: max(0, before.Pending+before.Dead-after.Pending-after.Dead), Pending: after.Pending, Dead: after.Dead,
		LastError: after.LastError}
	attrs := []any{"sync", req.Sync, "subject", req.Subject, "sent", res.Sent, "pending", res.Pending, "dead", res.Dead}
	if sendErr != nil {
		h.log.WarnContext(ctx, "mlflow: tracking is behind; the entries are kept and retried", append(attrs, "error", sendErr.Error())...)
	} else {
		h.log.InfoContext(ctx, "mlflow: drained", attrs...)
	}
	return res, nil
}

package store

import (
	"context"
	"encoding/json"
	"time"
)

// TrackingEntry is one call waiting to be mirrored into an external
// tracking server (MLflow): what to send, for which Orrery subject (a job,
// study, model or deployment id), and how its attempts went.
type TrackingEntry struct {
	// Seq orders the entries; the outbox assigns it on append.
	Seq int64 `json:"seq"`
	// Subject is the Orrery id the entry belongs to (job, study, model).
	Subject string `json:"subject"`
	// Kind says what Payload holds; the mirror owns both.
	Kind    string          `json:"kind"`
	Payload json.RawMessage `json:"payload"`
	// Attempts counts the failed attempts so far; an entry with attempts
	// may have reached the server in part, so its replay deduplicates.
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error,omitempty"`
	NotBefore time.Time `json:"not_before,omitzero"`
	// Dead marks an entry the server refused for good (a 4xx): it is no
	// longer drained until a sync revives it.
	Dead      bool      `json:"dead,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// TrackingSummary is the state of one subject's entries.
type TrackingSummary struct {
	Pending   int    `json:"pending"`
	Dead      int    `json:"dead"`
	LastError string `json:"last_error,omitempty"`
}

// TrackingOutbox keeps the entries a tracking mirror has still to send and
// the ids the tracking server gave what was sent (run ids, model
// versions), so that a replay finds them instead of creating twice.
//
// Rules every adapter follows: an entry without a Subject or Kind, or whose
// Payload is not JSON, is ErrInvalid and nothing is stored.
type TrackingOutbox interface {
	// AppendTracking stores the entries, all or none, in order, with
	// increasing Seq.
	AppendTracking(ctx context.Context, entries ...TrackingEntry) error
	// PendingTracking returns at most limit (0: all) entries that are not
	// Dead, by Seq; subject "" means every subject.
	PendingTracking(ctx context.Context, subject string, limit int) ([]TrackingEntry, error)
	// AckTracking removes the entry (sent). Removing a missing one is not
	// an error.
	AckTracking(ctx context.Context, seq int64) error
	// FailTracking counts a failed attempt of the entry with its error,
	// not to be tried again before notBefore; dead gives it up. Returns
	// ErrNotFound if the entry does not exist.
	FailTracking(ctx context.Context, seq int64, lastError string, notBefore time.Time, dead bool) error
	// ReviveTracking makes the subject's Dead entries pending again and due
	// now ("" : every subject's); it returns how many entries are pending.
	ReviveTracking(ctx context.Context, subject string) (int, error)
	// SummarizeTracking returns the subject's pending and dead entries and
	// the last error among them.
	SummarizeTracking(ctx context.Context, subject string) (TrackingSummary, error)
	// TrackingRef returns what PutTrackingRef stored under key, ErrNotFound
	// if nothing.
	TrackingRef(ctx context.Context, key string) (string, error)
	// PutTrackingRef stores value under key, replacing what was there.
	PutTrackingRef(ctx context.Context, key, value string) error
}

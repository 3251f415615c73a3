package store

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/orrery-ml/orrery/shared/fault"
)

// Errors every adapter returns (wrapped with the operation and identifiers).
var (
	// ErrNotFound: the job, model or artifact does not exist.
	ErrNotFound = fault.New(fault.NotFound, "store: not found")
	// ErrConflict: a record with that id exists already, or a conditional
	// write lost (for example a status change of a finished job).
	ErrConflict = fault.New(fault.Conflict, "store: conflict")
	// ErrInvalid: the argument cannot be stored (empty id, bad key, ...).
	ErrInvalid = fault.New(fault.Invalid, "store: invalid argument")
)

// Status is a job's state: QUEUED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED.
// QUEUED may also go straight to FAILED or CANCELLED.
type Status string

const (
	Queued    Status = "QUEUED"
	Running   Status = "RUNNING"
	Succeeded Status = "SUCCEEDED"
	Failed    Status = "FAILED"
	Cancelled Status = "CANCELLED"
)

// Terminal reports whether no transition leaves s.
func (s Status) Terminal() bool { return s == Succeeded || s == Failed || s == Cancelled }

// CanTransition reports whether a job may move from s to next.
func (s Status) CanTransition(next Status) bool {
	switch s {
	case Queued:
		return next == Running || next == Failed || next == Cancelled
	case Running:
		return next == Succeeded || next == Failed || next == Cancelled
	}
	return false
}

// Job is one unit of long-running work: a training or an evaluation job
// (Kind says which).
type Job struct {
	ID     string `json:"job_id"`
	Kind   string `json:"kind"` // "training" or "evaluation"
	Status Status `json:"status"`
	// Stage is the pipeline stage now running (validate, preprocess, train,
	// evaluate, register).
	Stage string `json:"stage,omitempty"`
	// Config is the job's normalised configuration as JSON.
	Config json.RawMessage `json:"config,omitempty"`
	// Progress is the latest progress event as JSON (tracking.Event).
	Progress json.RawMessage `json:"progress,omitempty"`
	// Result is the job's outcome as JSON (metrics, artifact keys).
	Result json.RawMessage `json:"result,omitempty"`
	// Error says why a FAILED job failed.
	Error    string `json:"error,omitempty"`
	ModelID  string `json:"model_id,omitempty"`
	Attempts int    `json:"attempts,omitempty"`
	// ResumedFrom says where the job's last attempt picked up an earlier
	// one's work ("checkpoint of epoch 57"); empty if it never resumed.
	ResumedFrom string    `json:"resumed_from,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// JobStore keeps job records. Status changes are conditional writes.
//
// Rules every adapter follows (storetest checks them): an unknown status,
// JSON fields that are not valid JSON and a negative ListJobs limit are
// ErrInvalid; a zero CreatedAt is set to the current time; any move back to
// QUEUED, and any update of a finished job — with or without a status change —
// is ErrConflict. Result, ModelID, Error and Stage may be written in the same
// call as the terminal transition.
type JobStore interface {
	// CreateJob stores a new job. Returns ErrConflict if the id exists,
	// ErrInvalid if the id or status is empty.
	CreateJob(ctx context.Context, j Job) error
	// GetJob returns the job. Returns ErrNotFound if it does not exist.
	GetJob(ctx context.Context, id string) (Job, error)
	// UpdateJob applies u to the job in one conditional write. A status change
	// (u.Status non-empty) succeeds only if the stored status CanTransition to
	// it, else ErrConflict — so a late or duplicated event never moves a
	// finished job. Returns ErrNotFound if the job does not exist.
	UpdateJob(ctx context.Context, id string, u JobUpdate) (Job, error)
	// ListJobs returns jobs, newest first, at most limit (0 = all).
	ListJobs(ctx context.Context, limit int) ([]Job, error)
}

// JobUpdate lists the fields to change; nil or empty fields are left as they
// are.
type JobUpdate struct {
	Status   Status
	Stage    string
	Progress json.RawMessage
	Result   json.RawMessage
	Error    string
	ModelID  string
	// AddAttempt increments Attempts.
	AddAttempt  bool
	ResumedFrom string
}

// Model is a registered model: its files live in the artifact store under
// ArtifactKey (a directory of manifest.json, weights.safetensors, ...).
type Model struct {
	ID          string          `json:"model_id"`
	Name        string          `json:"name"`
	JobID       string          `json:"job_id"`
	ModelType   string          `json:"model_type"`
	ArtifactKey string          `json:"artifact_key"`
	ArtifactURI string          `json:"artifact_uri"`
	Metrics     json.RawMessage `json:"metrics,omitempty"`
	DataHash    string          `json:"data_hash"`
	// ManifestSHA256 is the SHA-256 (hex) of the model's manifest.json as
	// registered: the registry's own record of what it registered, checked
	// when the model is loaded, so that a directory rewritten consistently
	// (manifest and SHA256SUMS both) is still refused. Empty for models
	// registered before it was kept.
	ManifestSHA256 string    `json:"manifest_sha256,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
}

// ModelRegistry keeps model records.
type ModelRegistry interface {
	// RegisterModel stores m. Returns ErrConflict if its id exists.
	RegisterModel(ctx context.Context, m Model) error
	// GetModel returns ErrNotFound if the model does not exist.
	GetModel(ctx context.Context, id string) (Model, error)
	// ListModels returns models, newest first.
	ListModels(ctx context.Context) ([]Model, error)
}

// ArtifactStore keeps immutable files by slash-separated key
// ("models/<id>/manifest.json"). Keys must be relative, clean, and must not
// contain "..": ErrInvalid otherwise.
type ArtifactStore interface {
	// Put writes the object atomically: a reader never sees half of it.
	Put(ctx context.Context, key string, r io.Reader) error
	// Get returns ErrNotFound if the key does not exist.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// List returns the keys under prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// DeletePrefix removes every object under prefix (used to clean up a
	// half-written model); removing nothing is not an error; an empty prefix
	// is ErrInvalid, so nobody wipes the whole store by accident.
	DeletePrefix(ctx context.Context, prefix string) error
	// URI returns where a user finds the object (file path or s3:// URI).
	URI(key string) string
}

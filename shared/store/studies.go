package store

import (
	"context"
	"encoding/json"
	"time"
)

// TrialState is a trial's state: WAITING -> RUNNING -> COMPLETE | PRUNED |
// FAILED. A RUNNING trial whose lease has expired (its worker crashed or was
// preempted) may be claimed again and keeps its intermediate values.
type TrialState string

// Trial states.
const (
	TrialWaiting  TrialState = "WAITING"
	TrialRunning  TrialState = "RUNNING"
	TrialComplete TrialState = "COMPLETE"
	TrialPruned   TrialState = "PRUNED"
	TrialFailed   TrialState = "FAILED"
)

// Finished reports whether the trial will not run again.
func (s TrialState) Finished() bool {
	return s == TrialComplete || s == TrialPruned || s == TrialFailed
}

// Known reports whether s is one of the trial states.
func (s TrialState) Known() bool {
	return s == TrialWaiting || s == TrialRunning || s.Finished()
}

// Study is a hyperparameter study: its configuration (search space,
// objectives, strategy, budget) and the optimizer state kept between
// invocations, both as JSON owned by shared/ml/optimization.
type Study struct {
	ID   string `json:"study_id"`
	Name string `json:"name,omitempty"`
	// Status is the study's lifecycle, as for jobs (RUNNING, SUCCEEDED, ...);
	// unlike a job, a finished study may be reopened to extend it.
	Status Status          `json:"status"`
	Config json.RawMessage `json:"config,omitempty"`
	State  json.RawMessage `json:"state,omitempty"`
	// Version increases with every update; UpdateStudy writes only when the
	// caller saw the current version.
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// StudyUpdate lists the study fields to change; empty fields are kept.
type StudyUpdate struct {
	Status Status
	Config json.RawMessage
	State  json.RawMessage
}

// StudyStore keeps study records.
//
// Rules every adapter follows (storetest.TestStudyStore checks them): an
// empty id or status and JSON fields that are not JSON are ErrInvalid; a zero
// CreatedAt is set to the current time; a new study has Version 1.
type StudyStore interface {
	// CreateStudy stores a new study. Returns ErrConflict if the id exists.
	CreateStudy(ctx context.Context, s Study) error
	// GetStudy returns ErrNotFound if the study does not exist.
	GetStudy(ctx context.Context, id string) (Study, error)
	// UpdateStudy applies u if the stored Version equals version, and
	// increments it. Returns ErrConflict when another writer came first,
	// ErrNotFound if the study does not exist.
	UpdateStudy(ctx context.Context, id string, version int, u StudyUpdate) (Study, error)
	// ListStudies returns studies, newest first, at most limit (0 = all).
	ListStudies(ctx context.Context, limit int) ([]Study, error)
}

// Trial is one evaluation of a study's objective.
type Trial struct {
	StudyID string `json:"study_id"`
	// Number is the trial's position in the study, from 0.
	Number int `json:"number"`
	// Key identifies the trial's point when duplicates must be refused (a
	// grid point); empty when duplicates do not matter.
	Key    string          `json:"key,omitempty"`
	State  TrialState      `json:"state"`
	Params json.RawMessage `json:"params"`
	// Values holds the objective values of a COMPLETE trial (and the last
	// intermediate values of a PRUNED one).
	Values json.RawMessage `json:"values,omitempty"`
	// Intermediate holds the values reported at each step (epoch).
	Intermediate json.RawMessage `json:"intermediate,omitempty"`
	// Worker holds the claim of a RUNNING trial until LeaseUntil.
	Worker     string    `json:"worker,omitempty"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	Attempts   int       `json:"attempts"`
	Error      string    `json:"error,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// TrialUpdate is what the worker holding a trial writes; empty fields are
// kept. State may be RUNNING (a heartbeat) or a finished state.
type TrialUpdate struct {
	State        TrialState
	Values       json.RawMessage
	Intermediate json.RawMessage
	LeaseUntil   time.Time
	Error        string
}

// TrialStore keeps the trials of studies. Every write is conditional, so two
// workers never hold one trial and a grid point is never queued twice.
type TrialStore interface {
	// AddTrials stores new WAITING trials, all or none. Returns ErrConflict
	// if a trial with one of their numbers, or one of their non-empty keys,
	// exists in the study; ErrInvalid for a negative number, a state other
	// than WAITING or Params that are not JSON; ErrNotFound if the study
	// does not exist.
	AddTrials(ctx context.Context, studyID string, trials []Trial) error
	// ClaimTrial gives worker the lowest-numbered trial that is WAITING, or
	// RUNNING with LeaseUntil before now (a crashed worker's), marking it
	// RUNNING until now+lease and counting the attempt. Returns ErrNotFound
	// when no trial is claimable.
	ClaimTrial(ctx context.Context, studyID, worker string, now time.Time, lease time.Duration) (Trial, error)
	// UpdateTrial applies u to a RUNNING trial held by worker. Returns
	// ErrConflict if the trial is not RUNNING or another worker holds it,
	// ErrNotFound if it does not exist, ErrInvalid for an unknown state,
	// WAITING, or JSON fields that are not JSON.
	UpdateTrial(ctx context.Context, studyID string, number int, worker string, u TrialUpdate) (Trial, error)
	// ListTrials returns the study's trials by number.
	ListTrials(ctx context.Context, studyID string) ([]Trial, error)
}

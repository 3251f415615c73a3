package store

import (
	"context"
	"encoding/json"
	"time"
)

// ExecutionStatus is a journaled execution's state: RUNNING -> SUCCEEDED |
// FAILED | ABORTED, the names Step Functions gives them.
type ExecutionStatus string

const (
	ExecutionRunning   ExecutionStatus = "RUNNING"
	ExecutionSucceeded ExecutionStatus = "SUCCEEDED"
	ExecutionFailed    ExecutionStatus = "FAILED"
	ExecutionAborted   ExecutionStatus = "ABORTED"
)

// Terminal reports whether the execution has ended.
func (s ExecutionStatus) Terminal() bool { return s != "" && s != ExecutionRunning }

// Execution is the journal record of one execution of a state machine on
// the local executor, named within its machine.
type Execution struct {
	Machine string          `json:"machine"`
	Name    string          `json:"name"`
	Status  ExecutionStatus `json:"status"`
	Input   json.RawMessage `json:"input,omitempty"`
	Output  json.RawMessage `json:"output,omitempty"`
	Error   string          `json:"error,omitempty"`
	Cause   string          `json:"cause,omitempty"`
	// Owner names the process running it (shared/procid); "" while nobody
	// does (it was interrupted and waits to be resumed).
	Owner string `json:"owner,omitempty"`
	// Runs counts the processes that have run it: 1, plus one per resume.
	Runs      int       `json:"runs"`
	StartedAt time.Time `json:"started_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ExecutionUpdate lists what to change; nil and empty fields are left as
// they are. When IfOwner is set the update applies only while the stored
// owner equals *IfOwner, else ErrConflict: that is how one process takes
// over an execution whose owner died without two processes both doing so.
type ExecutionUpdate struct {
	IfOwner *string
	Owner   *string
	// Status RUNNING -> a terminal one; any change of an ended execution is
	// ErrConflict.
	Status ExecutionStatus
	Output json.RawMessage
	Error  string
	Cause  string
	// AddRun increments Runs.
	AddRun bool
}

// ExecutionJournal keeps the executions of the local executor and their
// histories, as Step Functions keeps its executions' histories.
//
// Rules every adapter follows: (Machine, Name) is the key; an empty machine
// or name is ErrInvalid; events are kept in the order appended.
type ExecutionJournal interface {
	// CreateExecution stores a new RUNNING execution. Returns ErrConflict if
	// the machine already has an execution of that name.
	CreateExecution(ctx context.Context, e Execution) error
	// GetExecution returns ErrNotFound if there is no such execution.
	GetExecution(ctx context.Context, machine, name string) (Execution, error)
	// ListExecutions returns the executions with the status ("" for all),
	// oldest first.
	ListExecutions(ctx context.Context, status ExecutionStatus) ([]Execution, error)
	// UpdateExecution applies u in one conditional write and returns the
	// record. Returns ErrNotFound if there is no such execution.
	UpdateExecution(ctx context.Context, machine, name string, u ExecutionUpdate) (Execution, error)
}

// ExecutionHistory keeps each execution's history events (JSON, opaque to
// the store), in order.
type ExecutionHistory interface {
	// AppendEvent adds one event. Returns ErrNotFound if there is no such
	// execution, ErrInvalid if the event is not JSON.
	AppendEvent(ctx context.Context, machine, name string, event json.RawMessage) error
	// History returns the events in the order appended (none: empty).
	History(ctx context.Context, machine, name string) ([]json.RawMessage, error)
}

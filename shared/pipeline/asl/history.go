package asl

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// EventType names an entry of an execution's history.
type EventType string

// The history an execution records, in the spirit of Step Functions'
// GetExecutionHistory: enough to tell what ran and to resume a run that was
// interrupted (Execution.History).
const (
	// ExecutionStarted opens a history; Data is the execution's input.
	ExecutionStarted EventType = "ExecutionStarted"
	// ExecutionResumed marks a run that continued an earlier one's history.
	ExecutionResumed EventType = "ExecutionResumed"
	// StateEntered: the state at Path began.
	StateEntered EventType = "StateEntered"
	// StateExited: the state at Path ended; Data is its output, Vars the
	// workflow variables it assigned, and Next the state that follows (""
	// when it ended its machine or branch).
	StateExited EventType = "StateExited"
	// StateFailed: the state at Path failed with Error and Cause, uncaught.
	StateFailed EventType = "StateFailed"
	// TaskRetried: an attempt of the Task, Parallel or Map at Path failed
	// with Error and Cause and Retry is the number of the retry that
	// follows (1 for the first).
	TaskRetried EventType = "TaskRetried"
	// ExecutionSucceeded closes a history; Data is the execution's output.
	ExecutionSucceeded EventType = "ExecutionSucceeded"
	// ExecutionFailed closes a history with the Error and Cause the
	// execution failed with.
	ExecutionFailed EventType = "ExecutionFailed"
)

// Event is one entry of an execution's history.
type Event struct {
	Type EventType `json:"type"`
	// Path locates a state within the execution: its name and the how-many-th
	// visit of it this is ("Train#1"), below the Map iteration ("RunTrials#2[3]/")
	// or Parallel branch ("Fan#1{0}/") that runs it. Paths are the same on
	// every run of a definition with the same input and task results, which
	// is what lets a resumed run recognise the states that already ended.
	Path  string          `json:"path,omitempty"`
	State string          `json:"state,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
	Vars  json.RawMessage `json:"vars,omitempty"`
	Next  string          `json:"next,omitempty"`
	Error string          `json:"error,omitempty"`
	Cause string          `json:"cause,omitempty"`
	Retry int             `json:"retry,omitempty"`
	Time  time.Time       `json:"time"`
}

// childPath returns the path of the visit-th visit of state name below
// parent.
func childPath(parent, name string, visit int) string {
	return parent + name + "#" + strconv.Itoa(visit)
}

// iterationPath is the parent path of Map iteration i of the state at path.
func iterationPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]/" }

// branchPath is the parent path of Parallel branch i of the state at path.
func branchPath(path string, i int) string { return path + "{" + strconv.Itoa(i) + "}/" }

// exit is a state's recorded end.
type exit struct {
	output any
	vars   map[string]any
	next   string
}

// replayOf indexes the StateExited events of a history by path. A history
// that does not start with ExecutionStarted, or whose outputs are not JSON,
// is refused.
func replayOf(history []Event) (map[string]exit, time.Time, error) {
	if len(history) == 0 {
		return nil, time.Time{}, nil
	}
	if history[0].Type != ExecutionStarted {
		return nil, time.Time{}, fmt.Errorf("history starts with %s, not %s", history[0].Type, ExecutionStarted)
	}
	exits := map[string]exit{}
	for i, e := range history {
		switch e.Type {
		case StateExited:
			var out any
			if err := json.Unmarshal(e.Data, &out); err != nil {
				return nil, time.Time{}, fmt.Errorf("history event %d (%s at %s): output is not JSON: %w", i, e.Type, e.Path, err)
			}
			var vars map[string]any
			if len(e.Vars) > 0 {
				if err := json.Unmarshal(e.Vars, &vars); err != nil {
					return nil, time.Time{}, fmt.Errorf("history event %d (%s at %s): variables are not a JSON object: %w", i, e.Type, e.Path, err)
				}
			}
			exits[e.Path] = exit{output: out, vars: vars, next: e.Next}
		case ExecutionSucceeded, ExecutionFailed:
			return nil, time.Time{}, fmt.Errorf("history event %d: the execution already ended (%s)", i, e.Type)
		}
	}
	return exits, history[0].Time, nil
}

// record hands e to the execution's Record, stamped with the time.
func (r *run) record(ctx context.Context, e Event) error {
	if r.rec == nil {
		return nil
	}
	e.Time = r.x.now().UTC()
	if err := r.rec(ctx, e); err != nil {
		return fmt.Errorf("execution %s: record %s %s: %w", r.name, e.Type, e.Path, err)
	}
	return nil
}

// recordExit is record of a StateExited event with the state's output and
// the variables it assigned.
func (r *run) recordExit(ctx context.Context, e Event, out any, vars map[string]any) error {
	if r.rec == nil {
		return nil
	}
	b, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("execution %s: encode %s %s: %w", r.name, e.Type, e.Path, err)
	}
	e.Data = b
	if len(vars) > 0 {
		if e.Vars, err = json.Marshal(vars); err != nil {
			return fmt.Errorf("execution %s: encode the variables of %s: %w", r.name, e.Path, err)
		}
	}
	return r.record(ctx, e)
}

package sfnexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/pipeline"
)

// ErrInvalid is returned (wrapped) for a state-machine ARN or a name that
// cannot name an execution.
var ErrInvalid = fault.New(fault.Invalid, "sfnexec: invalid argument")

// ErrExecutionExists is what an API's StartExecution answers (wrapped)
// when an execution of that name exists already, running or not.
var ErrExecutionExists = fault.New(fault.Conflict, "sfnexec: execution already exists")

// ErrExecutionDoesNotExist is what an API's StopExecution and
// DescribeExecution answer (wrapped) for an execution that does not exist.
var ErrExecutionDoesNotExist = fault.New(fault.NotFound, "sfnexec: execution does not exist")

// API is the part of the Step Functions API that Executions calls
// (shared/awsclient/sfnrest.Client has it).
type API interface {
	// StartExecution starts the execution name (empty: one the service
	// names) of the state machine with input and returns its ARN; an error
	// wrapping ErrExecutionExists if one of that name exists.
	StartExecution(ctx context.Context, stateMachineARN, name, input string) (string, error)
	// StopExecution stops the execution with the error name and cause; an
	// error wrapping ErrExecutionDoesNotExist if there is no such execution.
	StopExecution(ctx context.Context, executionARN, errorName, cause string) error
	// DescribeExecution describes the execution; an error wrapping
	// ErrExecutionDoesNotExist if there is no such execution.
	DescribeExecution(ctx context.Context, executionARN string) (Execution, error)
}

// Execution is what DescribeExecution answers of an execution.
type Execution struct {
	// Status is RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED or
	// PENDING_REDRIVE.
	Status       string
	Error, Cause string
	// Input and Output are the execution's JSON; nil when absent.
	Input, Output *string
	// StartDate and StopDate are zero when absent.
	StartDate, StopDate time.Time
}

// executionName is what Step Functions accepts as an execution name (and
// what Orrery's job and study ids are made of), compiled on first use: its
// repetition makes it costly to compile, and INIT should not pay for it.
var executionName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`) })

// Executions is the Step Functions adapter of pipeline.Executions: each
// machine is a state machine ARN, and an execution is named within it.
type Executions struct {
	client   API
	machines map[pipeline.Machine]string
}

var _ pipeline.Executions = (*Executions)(nil)

// New returns the executions of the state machines with those ARNs
// (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME); a machine left out (or
// with an empty ARN) is one this runtime does not run. Returns ErrInvalid
// for a nil client or an ARN of another shape.
func New(client API, machines map[pipeline.Machine]string) (*Executions, error) {
	if client == nil {
		return nil, fmt.Errorf("new executions: nil client: %w", ErrInvalid)
	}
	e := &Executions{client: client, machines: map[pipeline.Machine]string{}}
	for m, arn := range machines {
		if arn == "" {
			continue
		}
		parts := strings.Split(arn, ":")
		if len(parts) != 7 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "stateMachine" || parts[6] == "" {
			return nil, fmt.Errorf("new executions: %s: %q is not a state machine ARN: %w", m, arn, ErrInvalid)
		}
		e.machines[m] = arn
	}
	return e, nil
}

// Runs reports whether the machine has a state machine here.
func (e *Executions) Runs(m pipeline.Machine) bool { _, ok := e.machines[m]; return ok }

// ExecutionARN returns the ARN of the machine's execution named name.
func (e *Executions) ExecutionARN(m pipeline.Machine, name string) (string, error) {
	arn, ok := e.machines[m]
	if !ok {
		return "", fmt.Errorf("execution %s/%s: %w: %q", m, name, pipeline.ErrUnknownMachine, m)
	}
	if !executionName().MatchString(name) {
		return "", fmt.Errorf("execution %s/%q: not 1 to 80 letters, digits, - or _: %w", m, name, ErrInvalid)
	}
	return strings.Replace(arn, ":stateMachine:", ":execution:", 1) + ":" + name, nil
}

// Start starts the execution. One of that name that exists already
// (running or ended) is not an error: nothing new is started.
func (e *Executions) Start(ctx context.Context, m pipeline.Machine, name string, input json.RawMessage) error {
	if _, err := e.ExecutionARN(m, name); err != nil {
		return fmt.Errorf("start %w", err)
	}
	if len(input) == 0 {
		input = json.RawMessage("{}")
	}
	_, err := e.client.StartExecution(ctx, e.machines[m], name, string(input))
	if errors.Is(err, ErrExecutionExists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("start execution %s in %s: %w", name, e.machines[m], err)
	}
	return nil
}

// Stop stops the execution with the error Orrery.Cancelled and the cause.
// An execution that does not exist, or has ended, is not an error.
func (e *Executions) Stop(ctx context.Context, m pipeline.Machine, name, cause string) error {
	arn, err := e.ExecutionARN(m, name)
	if err != nil {
		return fmt.Errorf("stop %w", err)
	}
	err = e.client.StopExecution(ctx, arn, fault.Cancelled.Name(), cause)
	if errors.Is(err, ErrExecutionDoesNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stop execution %s: %w", arn, err)
	}
	return nil
}

// Describe returns the execution as DescribeExecution reports it;
// pipeline.ErrNoExecution if it does not exist.
func (e *Executions) Describe(ctx context.Context, m pipeline.Machine, name string) (pipeline.Description, error) {
	arn, err := e.ExecutionARN(m, name)
	if err != nil {
		return pipeline.Description{}, fmt.Errorf("describe %w", err)
	}
	out, err := e.client.DescribeExecution(ctx, arn)
	if errors.Is(err, ErrExecutionDoesNotExist) {
		return pipeline.Description{}, fmt.Errorf("describe execution %s: %w", arn, pipeline.ErrNoExecution)
	}
	if err != nil {
		return pipeline.Description{}, fmt.Errorf("describe execution %s: %w", arn, err)
	}
	d := pipeline.Description{Machine: m, Name: name, Status: out.Status, Error: out.Error,
		Cause: out.Cause, StartedAt: out.StartDate, StoppedAt: out.StopDate}
	if out.Input != nil {
		d.Input = json.RawMessage(*out.Input)
	}
	if out.Output != nil {
		d.Output = json.RawMessage(*out.Output)
	}
	return d, nil
}

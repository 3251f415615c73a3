package sfnexec

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

// Client is the part of the Step Functions API the Runner uses
// (shared/awsclient/sfnrest.Client has it).
type Client interface {
	API
	// CreateStateMachine creates a STANDARD state machine and returns its
	// ARN.
	CreateStateMachine(ctx context.Context, name, definition, roleARN string) (string, error)
	// UpdateStateMachine replaces the state machine's definition and role.
	UpdateStateMachine(ctx context.Context, stateMachineARN, definition, roleARN string) error
	// DeleteStateMachine deletes the state machine.
	DeleteStateMachine(ctx context.Context, stateMachineARN string) error
}

// ErrAborted is returned for an execution that was aborted or timed out on
// the service's side without an error name of its own.
var ErrAborted = fault.New(fault.Cancelled, "sfnexec: execution aborted")

// Runner deploys and runs definitions on Step Functions.
type Runner struct {
	Client Client
	// RoleARN is the execution role of the state machines it creates.
	RoleARN string
	// PollInterval is the pause between DescribeExecution calls
	// (default 100ms).
	PollInterval time.Duration
}

// Deploy creates the state machine name from def, or updates its definition
// when one of that name exists (stateMachineARN names it then), and returns
// its ARN.
func (r *Runner) Deploy(ctx context.Context, name string, def asl.Definition, stateMachineARN string) (string, error) {
	if err := def.Validate(); err != nil {
		return "", fmt.Errorf("deploy state machine %s: %w", name, err)
	}
	body, err := def.JSON()
	if err != nil {
		return "", fmt.Errorf("deploy state machine %s: %w", name, err)
	}
	if stateMachineARN != "" {
		if err := r.Client.UpdateStateMachine(ctx, stateMachineARN, string(body), r.RoleARN); err != nil {
			return "", fmt.Errorf("update state machine %s: %w", stateMachineARN, err)
		}
		return stateMachineARN, nil
	}
	arn, err := r.Client.CreateStateMachine(ctx, name, string(body), r.RoleARN)
	if err != nil {
		return "", fmt.Errorf("create state machine %s: %w", name, err)
	}
	return arn, nil
}

// Start starts an execution and returns its ARN at once.
func (r *Runner) Start(ctx context.Context, stateMachineARN, name string, input json.RawMessage) (string, error) {
	if len(input) == 0 {
		input = json.RawMessage("{}")
	}
	arn, err := r.Client.StartExecution(ctx, stateMachineARN, name, string(input))
	if err != nil {
		return "", fmt.Errorf("start execution %s of %s: %w", name, stateMachineARN, err)
	}
	return arn, nil
}

// Wait polls the execution until it ends and returns its output; a failed
// execution returns an *asl.Error with its Error and Cause.
func (r *Runner) Wait(ctx context.Context, executionARN string) (json.RawMessage, error) {
	every := r.PollInterval
	if every <= 0 {
		every = 100 * time.Millisecond
	}
	for {
		out, err := r.Client.DescribeExecution(ctx, executionARN)
		if err != nil {
			return nil, fmt.Errorf("describe execution %s: %w", executionARN, err)
		}
		switch out.Status {
		case "SUCCEEDED":
			return json.RawMessage(aws.ToString(out.Output)), nil
		case "FAILED":
			return nil, &asl.Error{Name: out.Error, Cause: out.Cause}
		case "TIMED_OUT":
			return nil, &asl.Error{Name: asl.ErrorTimeout, Cause: out.Cause}
		case "ABORTED":
			return nil, fmt.Errorf("execution %s: %w", executionARN, ErrAborted)
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("wait for execution %s: %w", executionARN, ctx.Err())
		case <-t.C:
		}
	}
}

// Execute deploys def as a new state machine named exec.StateMachine, runs
// one execution to its end, deletes the state machine, and returns what
// the execution returned — the same contract as asl.Executor.Execute.
func (r *Runner) Execute(ctx context.Context, def asl.Definition, exec asl.Execution) (json.RawMessage, error) {
	arn, err := r.Deploy(ctx, exec.StateMachine, def, "")
	if err != nil {
		return nil, err
	}
	defer func() {
		_ = r.Client.DeleteStateMachine(context.WithoutCancel(ctx), arn)
	}()
	execARN, err := r.Start(ctx, arn, exec.Name, exec.Input)
	if err != nil {
		return nil, err
	}
	return r.Wait(ctx, execARN)
}

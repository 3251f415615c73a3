package sfnexec

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

// Client is the part of the Step Functions API the Runner uses
// (*sfn.Client satisfies it).
type Client interface {
	CreateStateMachine(ctx context.Context, in *sfn.CreateStateMachineInput, opts ...func(*sfn.Options)) (*sfn.CreateStateMachineOutput, error)
	UpdateStateMachine(ctx context.Context, in *sfn.UpdateStateMachineInput, opts ...func(*sfn.Options)) (*sfn.UpdateStateMachineOutput, error)
	DeleteStateMachine(ctx context.Context, in *sfn.DeleteStateMachineInput, opts ...func(*sfn.Options)) (*sfn.DeleteStateMachineOutput, error)
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, opts ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

var _ Client = (*sfn.Client)(nil)

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
		_, err := r.Client.UpdateStateMachine(ctx, &sfn.UpdateStateMachineInput{
			StateMachineArn: aws.String(stateMachineARN), Definition: aws.String(string(body)), RoleArn: aws.String(r.RoleARN),
		})
		if err != nil {
			return "", fmt.Errorf("update state machine %s: %w", stateMachineARN, err)
		}
		return stateMachineARN, nil
	}
	out, err := r.Client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name: aws.String(name), Definition: aws.String(string(body)), RoleArn: aws.String(r.RoleARN),
		Type: sfntypes.StateMachineTypeStandard,
	})
	if err != nil {
		return "", fmt.Errorf("create state machine %s: %w", name, err)
	}
	return aws.ToString(out.StateMachineArn), nil
}

// Start starts an execution and returns its ARN at once.
func (r *Runner) Start(ctx context.Context, stateMachineARN, name string, input json.RawMessage) (string, error) {
	if len(input) == 0 {
		input = json.RawMessage("{}")
	}
	in := &sfn.StartExecutionInput{StateMachineArn: aws.String(stateMachineARN), Input: aws.String(string(input))}
	if name != "" {
		in.Name = aws.String(name)
	}
	out, err := r.Client.StartExecution(ctx, in)
	if err != nil {
		return "", fmt.Errorf("start execution %s of %s: %w", name, stateMachineARN, err)
	}
	return aws.ToString(out.ExecutionArn), nil
}

// Wait polls the execution until it ends and returns its output; a failed
// execution returns an *asl.Error with its Error and Cause.
func (r *Runner) Wait(ctx context.Context, executionARN string) (json.RawMessage, error) {
	every := r.PollInterval
	if every <= 0 {
		every = 100 * time.Millisecond
	}
	for {
		out, err := r.Client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(executionARN)})
		if err != nil {
			return nil, fmt.Errorf("describe execution %s: %w", executionARN, err)
		}
		switch out.Status {
		case sfntypes.ExecutionStatusSucceeded:
			return json.RawMessage(aws.ToString(out.Output)), nil
		case sfntypes.ExecutionStatusFailed:
			return nil, &asl.Error{Name: aws.ToString(out.Error), Cause: aws.ToString(out.Cause)}
		case sfntypes.ExecutionStatusTimedOut:
			return nil, &asl.Error{Name: asl.ErrorTimeout, Cause: aws.ToString(out.Cause)}
		case sfntypes.ExecutionStatusAborted:
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
		_, _ = r.Client.DeleteStateMachine(context.WithoutCancel(ctx), &sfn.DeleteStateMachineInput{StateMachineArn: aws.String(arn)})
	}()
	execARN, err := r.Start(ctx, arn, exec.Name, exec.Input)
	if err != nil {
		return nil, err
	}
	return r.Wait(ctx, execARN)
}

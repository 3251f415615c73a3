// Executions (this file) is the Step Functions side of the Executions port of
// shared/api and shared/retraining: an execution is named after the job it runs
// (so a job has at most one execution) and its input is {"job_id": "<job_id>"};
// the state machine reads the job's configuration from the job record.

package sfnexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/orrery-ml/orrery/shared/fault"
)

// ErrInvalid is returned (wrapped) for a state-machine ARN or a job id that
// cannot name an execution.
var ErrInvalid = fault.New(fault.Invalid, "sfnexec: invalid argument")

// API is the part of the Step Functions client used here (*sfn.Client has
// it).
type API interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	StopExecution(ctx context.Context, in *sfn.StopExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error)
}

// executionName is what Step Functions accepts as an execution name (and
// what Orrery's job ids are made of).
var executionName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// Executions runs training jobs as executions of one state machine.
type Executions struct {
	client API
	arn    string
}

// Input is the execution input of a training job.
type Input struct {
	JobID string `json:"job_id"`
}

// New returns the executions of the state machine with that ARN
// (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME). Returns ErrInvalid for a
// nil client or an ARN of another shape.
func New(client API, stateMachineARN string) (*Executions, error) {
	if client == nil {
		return nil, fmt.Errorf("new executions: nil client: %w", ErrInvalid)
	}
	parts := strings.Split(stateMachineARN, ":")
	if len(parts) != 7 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "stateMachine" || parts[6] == "" {
		return nil, fmt.Errorf("new executions: %q is not a state machine ARN: %w", stateMachineARN, ErrInvalid)
	}
	return &Executions{client: client, arn: stateMachineARN}, nil
}

// ExecutionARN returns the ARN of the execution that runs jobID.
func (e *Executions) ExecutionARN(jobID string) string {
	return strings.Replace(e.arn, ":stateMachine:", ":execution:", 1) + ":" + jobID
}

// StartTraining starts the execution named jobID with input
// {"job_id": jobID}. An execution of that name that already exists (running
// or finished) is not an error: nothing new is started. Returns ErrInvalid
// for a job id that is not a valid execution name.
func (e *Executions) StartTraining(ctx context.Context, jobID string) error {
	if !executionName.MatchString(jobID) {
		return fmt.Errorf("start execution of job %q: not 1 to 80 letters, digits, - or _: %w", jobID, ErrInvalid)
	}
	input, err := json.Marshal(Input{JobID: jobID})
	if err != nil {
		return fmt.Errorf("start execution of job %s: %w", jobID, err)
	}
	_, err = e.client.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(e.arn),
		Name:            aws.String(jobID),
		Input:           aws.String(string(input)),
	})
	var exists *types.ExecutionAlreadyExists
	if errors.As(err, &exists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("start execution of job %s in %s: %w", jobID, e.arn, err)
	}
	return nil
}

// StopTraining stops the execution of jobID. A job without an execution, or
// whose execution has finished, is not an error.
func (e *Executions) StopTraining(ctx context.Context, jobID string) error {
	if !executionName.MatchString(jobID) {
		return fmt.Errorf("stop execution of job %q: not 1 to 80 letters, digits, - or _: %w", jobID, ErrInvalid)
	}
	_, err := e.client.StopExecution(ctx, &sfn.StopExecutionInput{
		ExecutionArn: aws.String(e.ExecutionARN(jobID)),
		Cause:        aws.String("job cancelled"),
		Error:        aws.String(fault.Cancelled.Name()),
	})
	var missing *types.ExecutionDoesNotExist
	if errors.As(err, &missing) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stop execution of job %s: %w", jobID, err)
	}
	return nil
}

package sfnexec

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/orrery-ml/orrery/shared/pipeline"
)

// StartStudy starts the optimization state machine's execution named
// in.StudyID with input in (the Executions port of shared/optimizationjob).
// An execution of that name that already exists is not an error: nothing
// new is started. Returns ErrInvalid for a study id that is not a valid
// execution name.
func (e *Executions) StartStudy(ctx context.Context, in pipeline.OptimizationInput) error {
	if !executionName.MatchString(in.StudyID) {
		return fmt.Errorf("start execution of study %q: not 1 to 80 letters, digits, - or _: %w", in.StudyID, ErrInvalid)
	}
	_, err := e.client.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(e.arn),
		Name:            aws.String(in.StudyID),
		Input:           aws.String(string(in.JSON())),
	})
	var exists *types.ExecutionAlreadyExists
	if errors.As(err, &exists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("start execution of study %s in %s: %w", in.StudyID, e.arn, err)
	}
	return nil
}

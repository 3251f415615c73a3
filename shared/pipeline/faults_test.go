package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
	"github.com/orrery-ml/orrery/shared/store"
)

// TestTaskErrorNames: the stages, the optimization steps and the
// evaluation steps name their errors by one mapping, and CodeOf reads the
// code back from the name.
func TestTaskErrorNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"invalid config", fmt.Errorf("validate: %w: epochs", training.ErrInvalidConfig), "Orrery.InvalidInput"},
		{"a bad stage request", fmt.Errorf("%w: unknown stage", training.ErrInvalidStage), "Orrery.InvalidInput"},
		{"a bad study", fmt.Errorf("step %q: %w", "train", optimization.ErrInvalidStudy), "Orrery.InvalidInput"},
		{"a bad evaluation", fmt.Errorf("evaluate model m: %w: classes differ", evaluationjob.ErrEvaluation), "Orrery.InvalidInput"},
		{"unknown job", fmt.Errorf("validate job x: %w", store.ErrNotFound), "Orrery.NotFound"},
		{"unknown trial", fmt.Errorf("tell: %w: 7", optimization.ErrUnknownTrial), "Orrery.NotFound"},
		{"finished job", fmt.Errorf("validate job x: %w", store.ErrConflict), "Orrery.Conflict"},
		{"data changed", fmt.Errorf("train: %w", training.ErrDataChanged), "Orrery.DataChanged"},
		{"diverged", fmt.Errorf("train: %w", training.ErrDiverged), "Orrery.Diverged"},
		{"cancelled", fmt.Errorf("train: %w", context.Canceled), "Orrery.Cancelled"},
		{"anything else", errors.New("S3 is having a bad day"), "Orrery.Internal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := pipeline.TaskError(tc.err)
			assert.Equal(t, tc.want, e.Name)
			assert.Equal(t, tc.err.Error(), e.Cause)
			assert.Equal(t, fault.CodeOf(tc.err), pipeline.CodeOf(e), "the code comes back from the name")
		})
	}
	t.Run("an *asl.Error passes through", func(t *testing.T) {
		own := asl.Errorf(asl.ErrorTaskFailed, "batch submitJob: no %s", pipeline.EnvTrialInput)
		assert.Same(t, own, pipeline.TaskError(fmt.Errorf("trial: %w", own)))
	})
}

func TestCodeOfStateMachineErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  *asl.Error
		want fault.Code
	}{
		{"nil", nil, ""},
		{"an Orrery name", &asl.Error{Name: "Orrery.NotFound", Cause: "load job j"}, fault.NotFound},
		{"a failed training execution", &asl.Error{Name: pipeline.ErrorTrainingFailed, Cause: "Orrery.DataChanged: train: data changed"}, fault.DataChanged},
		{"a failed optimization execution", &asl.Error{Name: pipeline.ErrorOptimizationFailed, Cause: "Orrery.InvalidInput: bad space"}, fault.Invalid},
		{"a failed evaluation execution", &asl.Error{Name: pipeline.ErrorEvaluationFailed, Cause: "States.Timeout: the task timed out"}, fault.Unavailable},
		{"a failed execution whose cause names nothing", &asl.Error{Name: pipeline.ErrorTrainingFailed, Cause: "boom"}, fault.Internal},
		{"a timeout", &asl.Error{Name: asl.ErrorTimeout}, fault.Unavailable},
		{"a missed heartbeat", &asl.Error{Name: asl.ErrorHeartbeatTimeout}, fault.Unavailable},
		{"a throttled Lambda, retries spent", &asl.Error{Name: "Lambda.TooManyRequestsException"}, fault.Unavailable},
		{"a Batch service error, retries spent", &asl.Error{Name: "Batch.ServerException"}, fault.Unavailable},
		{"a failed Batch job", &asl.Error{Name: asl.ErrorTaskFailed, Cause: `{"Status": "FAILED"}`}, fault.Internal},
		{"a name of nobody's", &asl.Error{Name: "Custom.Error"}, fault.Internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, pipeline.CodeOf(tc.err))
		})
	}
}

// TestLocalHandlersNameErrorsByCode: each machine's local handlers answer
// a handler's error with the *asl.Error TaskError names.
func TestLocalHandlersNameErrorsByCode(t *testing.T) {
	err := fmt.Errorf("load job j: %w", store.ErrNotFound)
	stages := pipeline.TrainingHandlers(pipeline.LocalResources(), stageFunc(func(context.Context, training.StageRequest) (training.Refs, error) {
		return training.Refs{}, err
	}))
	_, got := stages[pipeline.LocalResources().StagesFunction](t.Context(), []byte(`{"stage": "validate", "refs": {"job_id": "j"}}`))
	var e *asl.Error
	require.ErrorAs(t, got, &e)
	assert.Equal(t, asl.Error{Name: "Orrery.NotFound", Cause: err.Error()}, *e)

	evals := pipeline.EvaluationHandlers(pipeline.LocalEvaluationResources(), evalFunc(func(context.Context, evaluationjob.Request) (evaluationjob.Output, error) {
		return evaluationjob.Output{}, err
	}))
	_, got = evals[pipeline.LocalEvaluationResources().StagesFunction](t.Context(), []byte(`{"evaluation": {"job_id": "evj-1"}}`))
	require.ErrorAs(t, got, &e)
	assert.Equal(t, asl.Error{Name: "Orrery.NotFound", Cause: err.Error()}, *e)
}

type stageFunc func(context.Context, training.StageRequest) (training.Refs, error)

func (f stageFunc) RunStage(ctx context.Context, req training.StageRequest) (training.Refs, error) {
	return f(ctx, req)
}

type evalFunc func(context.Context, evaluationjob.Request) (evaluationjob.Output, error)

func (f evalFunc) Step(ctx context.Context, req evaluationjob.Request) (evaluationjob.Output, error) {
	return f(ctx, req)
}

func (f evalFunc) RunFold(_ context.Context, t evaluationjob.FoldTask) (evaluationjob.FoldOutput, error) {
	_, err := f(context.Background(), evaluationjob.Request{JobID: t.JobID})
	return evaluationjob.FoldOutput{JobID: t.JobID, Fold: t.Fold}, err
}

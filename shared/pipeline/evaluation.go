package pipeline

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

// ErrorEvaluationFailed is the error a failed evaluation execution ends
// with; its cause starts with the name of the error that failed it.
const ErrorEvaluationFailed = "Orrery.EvaluationFailed"

// EvaluationResources are what the evaluation state machine refers to.
type EvaluationResources struct {
	// StagesFunction runs the evaluation's steps: invoked with
	// {"evaluation": evaluationjob.Request}.
	StagesFunction string
	// TimeoutSeconds bounds the Evaluate task (default 900, the longest a
	// Lambda function runs).
	TimeoutSeconds int
}

// EvaluationPlaceholders returns resources whose values are the CDK
// DefinitionSubstitutions key the training machine uses for the stages
// function (${StagesFunctionArn}): the evaluation machine needs no resource
// of its own.
func EvaluationPlaceholders() EvaluationResources {
	return EvaluationResources{StagesFunction: Placeholders().StagesFunction}
}

// LocalEvaluationResources names the resources on the embedded runtime,
// where EvaluationHandlers binds them. The Evaluate task runs in-process
// there, without Lambda's 15 minutes: it may take up to 6 hours (a large
// cross-validation).
func LocalEvaluationResources() EvaluationResources {
	return EvaluationResources{StagesFunction: LocalResources().StagesFunction, TimeoutSeconds: 6 * 3600}
}

// Evaluation builds the `evaluation` state machine (states Evaluate,
// Succeeded, MarkFailed and Failed, named as in the training machine):
//
//	Evaluate (stages function, {"evaluation": {"job_id"}}) -> Succeeded
//
// The Evaluate task retries the Lambda service's transient errors with
// backoff and full jitter, as every task of the training machine does; any
// failure is caught -> MarkFailed (the stages function marks the job FAILED
// with the error, by a conditional write) -> Failed. The job's Config holds
// the evaluation request, so the execution input is only
// {"job_id": "..."}; the output is the Evaluate step's evaluationjob.Output.
func Evaluation(r EvaluationResources) (asl.Definition, error) {
	if r.TimeoutSeconds == 0 {
		r.TimeoutSeconds = 900
	}
	if err := checkResource("StagesFunction", r.StagesFunction, true); err != nil {
		return asl.Definition{}, err
	}
	if r.TimeoutSeconds < 0 {
		return asl.Definition{}, fmt.Errorf("%w: TimeoutSeconds %d must be positive", ErrResources, r.TimeoutSeconds)
	}
	states := map[string]asl.State{
		StateEvaluate: {
			Type: asl.TypeTask, Resource: r.StagesFunction,
			Comment:        "evaluate the model (and compare) as the job's Config asks; the result goes into the job record",
			Parameters:     map[string]any{"evaluation": map[string]any{"job_id.$": "$.job_id"}},
			ResultPath:     asl.P("$.result"),
			TimeoutSeconds: r.TimeoutSeconds, Retry: lambdaRetry(), Catch: catchAll(), Next: StateSucceeded,
		},
		StateSucceeded: {Type: asl.TypeSucceed, OutputPath: asl.P("$.result")},
		StateMarkFailed: {
			Type: asl.TypeTask, Resource: r.StagesFunction, Comment: "record the failure in the job",
			Parameters: map[string]any{"evaluation": map[string]any{
				"step": evaluationjob.StepMarkFailed, "job_id.$": "$.job_id", "error.$": "$.error"}},
			ResultPath: asl.NullPath, TimeoutSeconds: 300, Retry: lambdaRetry(), Next: StateFailed,
		},
		StateFailed: {
			Type: asl.TypeFail, Error: ErrorEvaluationFailed, CausePath: "States.Format('{}: {}', $.error.Error, $.error.Cause)",
		},
	}
	def := asl.Definition{
		Comment: "Orrery evaluation: evaluate (and compare) on the stages function; any failure -> MarkFailed",
		StartAt: StateEvaluate, States: states, TimeoutSeconds: r.TimeoutSeconds + 3600,
	}
	if err := def.Validate(); err != nil {
		return asl.Definition{}, err
	}
	return def, nil
}

// EvaluationInput is the execution input of the evaluation state machine.
type EvaluationInput struct {
	JobID string `json:"job_id"`
}

// JSON encodes the input.
func (in EvaluationInput) JSON() json.RawMessage {
	b, _ := json.Marshal(in)
	return b
}

// EvaluationStepper runs one evaluation step (*evaluationjob.Service
// satisfies it).
type EvaluationStepper interface {
	Step(ctx context.Context, req evaluationjob.Request) (evaluationjob.Output, error)
}

// EvaluationHandlers binds the evaluation machine's Task resource for the
// local executor: the stages function to steps.Step, given the task's
// {"evaluation": ...} event decoded as the `stages` Lambda decodes it. A
// step's error becomes the *asl.Error TaskError names.
func EvaluationHandlers(r EvaluationResources, steps EvaluationStepper) map[string]asl.Handler {
	return map[string]asl.Handler{
		r.StagesFunction: func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
			req, err := evaluationjob.DecodeTask(raw)
			if err == nil {
				var out evaluationjob.Output
				if out, err = steps.Step(ctx, req); err == nil {
					return json.Marshal(out)
				}
			}
			if ctx.Err() != nil {
				return nil, err
			}
			return nil, TaskError(err)
		},
	}
}

package pipeline

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

// ErrorEvaluationFailed is the error a failed evaluation execution ends
// with; its cause starts with the name of the error that failed it.
const ErrorEvaluationFailed = "Orrery.EvaluationFailed"

// State names of the evaluation state machine (Evaluate, Succeeded,
// MarkFailed and Failed as in the training machine).
const (
	StatePlan     = "Plan"
	StateIsHeavy  = "IsHeavy"
	StateRunFolds = "RunFolds"
	StateRunFold  = "RunFold"
	StateReduce   = "Reduce"
)

// EnvEvaluationFold holds a fold job's evaluationjob.FoldTask as JSON: the
// environment variable the RunFold task passes to the Batch container
// (named in shared/config, where the trainer reads it).
const EnvEvaluationFold = config.EnvEvaluationFold

// EvaluationResources are what the evaluation state machine refers to.
type EvaluationResources struct {
	// StagesFunction runs the evaluation's steps: invoked with
	// {"evaluation": evaluationjob.Request}.
	StagesFunction string
	// FoldJobQueue and FoldJobDefinition run each fold job of a heavy
	// evaluation (a fold, or a range of bootstrap replicates) as an AWS
	// Batch job (the trainer's CPU image in fold mode), given its
	// evaluationjob.FoldTask in EnvEvaluationFold.
	FoldJobQueue, FoldJobDefinition string
	// TimeoutSeconds bounds each task on the stages function: Plan,
	// Evaluate and Reduce (default 900, the longest a Lambda function
	// runs).
	TimeoutSeconds int
	// FoldTimeoutSeconds bounds one fold job, queue time and every attempt
	// together (default 6 hours). RunFold has no HeartbeatSeconds, as the
	// training machine's Train: see batch.go.
	FoldTimeoutSeconds int
	// FoldParallel caps the fold jobs that run at once (default 10).
	FoldParallel int
}

// EvaluationPlaceholders returns resources whose values are CDK
// DefinitionSubstitutions keys: the training machine's for the stages
// function (${StagesFunctionArn}), and ${EvalJobQueueArn} and
// ${EvalJobDefinitionArn} for the CPU queue and job definition of the
// fold jobs.
func EvaluationPlaceholders() EvaluationResources {
	return EvaluationResources{StagesFunction: Placeholders().StagesFunction,
		FoldJobQueue: "${EvalJobQueueArn}", FoldJobDefinition: "${EvalJobDefinitionArn}"}
}

// LocalEvaluationResources names the resources on the embedded runtime,
// where EvaluationHandlers binds them. The stages-function tasks run
// in-process there, without Lambda's 15 minutes: each may take up to 6
// hours (a large cross-validation on the light path).
func LocalEvaluationResources() EvaluationResources {
	return EvaluationResources{StagesFunction: LocalResources().StagesFunction, TimeoutSeconds: 6 * 3600,
		FoldJobQueue:      "arn:aws:batch:local:000000000000:job-queue/orrery-cpu",
		FoldJobDefinition: "arn:aws:batch:local:000000000000:job-definition/orrery-evaluate-cpu"}
}

func evaluationStep(r EvaluationResources, step, comment string, result asl.Path, next string) asl.State {
	return asl.State{
		Type: asl.TypeTask, Resource: r.StagesFunction, Comment: comment,
		Parameters:     map[string]any{"evaluation": map[string]any{"step": step, "job_id.$": "$.job_id"}},
		ResultPath:     result,
		TimeoutSeconds: r.TimeoutSeconds, Retry: lambdaRetry(), Catch: catchAll(), Next: next,
	}
}

// Evaluation builds the `evaluation` state machine (MarkFailed and Failed
// named as in the training machine):
//
//	Plan (stages function) -> IsHeavy?
//	  light: Evaluate (stages function) -> Succeeded
//	  heavy: RunFolds (Map over $.plan.tasks, at most FoldParallel at once,
//	         each a RunFold Batch job, .sync) -> Reduce (stages function) -> Succeeded
//
// Plan applies the evaluation service's Offload rule (evaluationjob.Offload:
// a cross-validation of many model fits, or of many rows × fits, is heavy,
// and so is a bootstrap of many resamples × rows, the evaluation's or the
// paired one of its compare_to comparison) and answers
// {"heavy": true, "tasks": [evaluationjob.FoldTask, ...]} for a heavy job:
// one task per cross-validation fold and, for each heavy bootstrap, one
// per range of its replicates. The light path is the one evaluate step of
// before, which runs the whole evaluation in the stages function; on the
// heavy path each task runs in its own Batch job on the CPU queue (the
// trainer's fold mode writes a fold's scores and out-of-fold probabilities,
// or a range's bootstrap replicates, to the artifact store) and Reduce runs
// the evaluation with the folds and replicates combined instead of
// computed, so the stages function never trains a fold nor resamples a
// heavy bootstrap (nor a heavy comparison's) and Lambda's 15 minutes bound neither. Both paths give
// the same figures.
//
// The tasks on the stages function retry the Lambda service's transient
// errors with backoff and full jitter, the Batch task the Batch service's,
// and the job's own retry strategy (Spot reclaim, image pull, the
// trainer's retryable exit) is BatchJobRetryStrategy; any failure is
// caught -> MarkFailed (the stages function marks the job FAILED with the
// error, by a conditional write, and removes the fold outcomes) -> Failed.
// The job's Config holds the evaluation request, so the execution input is
// only {"job_id": "..."}; the output is the Evaluate or Reduce step's
// evaluationjob.Output.
func Evaluation(r EvaluationResources) (asl.Definition, error) {
	if r.TimeoutSeconds == 0 {
		r.TimeoutSeconds = 900
	}
	if r.FoldTimeoutSeconds == 0 {
		r.FoldTimeoutSeconds = 6 * 3600
	}
	if r.FoldParallel == 0 {
		r.FoldParallel = 10
	}
	for _, c := range []struct{ field, v string }{
		{"StagesFunction", r.StagesFunction}, {"FoldJobQueue", r.FoldJobQueue}, {"FoldJobDefinition", r.FoldJobDefinition},
	} {
		if err := checkResource(c.field, c.v, true); err != nil {
			return asl.Definition{}, err
		}
	}
	if r.TimeoutSeconds < 0 || r.FoldTimeoutSeconds < 0 || r.FoldParallel < 0 {
		return asl.Definition{}, fmt.Errorf("%w: TimeoutSeconds %d, FoldTimeoutSeconds %d and FoldParallel %d must be positive",
			ErrResources, r.TimeoutSeconds, r.FoldTimeoutSeconds, r.FoldParallel)
	}
	fold := asl.State{
		Type: asl.TypeTask, Resource: BatchSubmitJobSync,
		Comment: "train and score one fold, or compute a range of bootstrap replicates, on AWS Batch (CPU); " +
			"the trainer writes the outcome to the artifact store",
		Parameters: map[string]any{
			"JobName.$":     "States.Format('orrery-eval-{}-{}', $.job_id, $.name)",
			"JobQueue":      r.FoldJobQueue,
			"JobDefinition": r.FoldJobDefinition,
			"ContainerOverrides": map[string]any{
				"Environment": []any{
					map[string]any{"Name": EnvEvaluationFold, "Value.$": "States.JsonToString($)"},
					map[string]any{"Name": EnvTaskToken, "Value.$": "$$.Task.Token"},
				},
			},
			"RetryStrategy": batchJobRetryStrategy(),
		},
		ResultSelector: batchResultSelector(),
		TimeoutSeconds: r.FoldTimeoutSeconds,
		Retry:          batchServiceRetry(),
		End:            true,
	}
	states := map[string]asl.State{
		StatePlan: evaluationStep(r, evaluationjob.StepPlan,
			"light or heavy: a heavy job's cross-validation folds run as Batch jobs", asl.P("$.plan"), StateIsHeavy),
		StateIsHeavy: {
			Type: asl.TypeChoice,
			Choices: asl.ChoiceList{{
				And:  []asl.ChoiceRule{asl.Compare("$.plan.heavy", "IsPresent", true), asl.Compare("$.plan.heavy", "BooleanEquals", true)},
				Next: StateRunFolds,
			}},
			Default: StateEvaluate,
		},
		StateEvaluate: {
			Type: asl.TypeTask, Resource: r.StagesFunction,
			Comment:        "evaluate the model (and compare) as the job's Config asks; the result goes into the job record",
			Parameters:     map[string]any{"evaluation": map[string]any{"job_id.$": "$.job_id"}},
			ResultPath:     asl.P("$.result"),
			TimeoutSeconds: r.TimeoutSeconds, Retry: lambdaRetry(), Catch: catchAll(), Next: StateSucceeded,
		},
		StateRunFolds: {
			Type:    asl.TypeMap,
			Comment: "one Batch job per cross-validation fold and per range of bootstrap replicates, at most FoldParallel at once",
			// Each item is an evaluationjob.FoldTask, job id included.
			ItemsPath:      "$.plan.tasks",
			MaxConcurrency: r.FoldParallel,
			ItemProcessor: &asl.Machine{
				ProcessorConfig: &asl.ProcessorConfig{Mode: "INLINE"},
				StartAt:         StateRunFold,
				States:          map[string]asl.State{StateRunFold: fold},
			},
			ResultPath: asl.NullPath, Catch: catchAll(), Next: StateReduce,
		},
		StateReduce: evaluationStep(r, evaluationjob.StepReduce,
			"evaluate with the folds' outcomes combined (and compare); the result goes into the job record", asl.P("$.result"), StateSucceeded),
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
		Comment: "Orrery evaluation: plan -> light (evaluate on the stages function) or heavy (folds as AWS Batch jobs -> reduce); " +
			"any failure -> MarkFailed",
		StartAt: StatePlan, States: states, TimeoutSeconds: 2*r.TimeoutSeconds + r.FoldTimeoutSeconds + 3600,
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

// EvaluationStepper runs the evaluation machine's steps and fold jobs
// (*evaluationjob.Service satisfies it).
type EvaluationStepper interface {
	Step(ctx context.Context, req evaluationjob.Request) (evaluationjob.Output, error)
	RunFold(ctx context.Context, t evaluationjob.FoldTask) (evaluationjob.FoldOutput, error)
}

// EvaluationHandlers binds the evaluation machine's Task resources for the
// local executor: the stages function to steps.Step, given the task's
// {"evaluation": ...} event decoded as the `stages` Lambda decodes it, and
// the RunFold Batch task to steps.RunFold run in-process, given the
// FoldTask the job's environment carries, as the trainer's fold mode reads
// it on AWS. A step's error becomes the *asl.Error TaskError names.
func EvaluationHandlers(r EvaluationResources, steps EvaluationStepper) map[string]asl.Handler {
	named := func(ctx context.Context, err error) error {
		if ctx.Err() != nil {
			return err
		}
		return TaskError(err)
	}
	return map[string]asl.Handler{
		r.StagesFunction: func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
			req, err := evaluationjob.DecodeTask(raw)
			if err == nil {
				var out evaluationjob.Output
				if out, err = steps.Step(ctx, req); err == nil {
					return json.Marshal(out)
				}
			}
			return nil, named(ctx, err)
		},
		BatchSubmitJobSync: func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
			var t evaluationjob.FoldTask
			job, err := decodeBatchEnv(raw, EnvEvaluationFold, &t)
			if err != nil {
				return nil, err
			}
			stop := beatWhile(ctx)
			out, err := steps.RunFold(ctx, t)
			stop()
			if err != nil {
				return nil, named(ctx, err)
			}
			task := fmt.Sprintf("fold %d", out.Fold)
			if out.Name != "" {
				task = out.Name
			}
			return job.succeeded(fmt.Sprintf("%s of evaluation job %s ran in-process in %.1f s", task, out.JobID, out.Seconds))
		},
	}
}

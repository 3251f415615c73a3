package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

// EnvTrialInput holds a trial job's optimization.TrialInput as JSON: the
// environment variable the RunTrial task passes to the Batch container
// (named in shared/config, where the trainer reads it).
const EnvTrialInput = config.EnvTrial

// State names of the optimization state machine (Start, MarkFailed, Alert
// and Failed as in the training machine).
const (
	StateSuggest   = "Suggest"
	StateRunTrials = "RunTrials"
	StateRunTrial  = "RunTrial"
	StateTell      = "Tell"
	StateContinue  = "Continue"
	StatePause     = "Pause"
	StateFinalize  = "Finalize"
	// StateWasCancelled follows MarkFailed: a failure coded
	// Orrery.Cancelled (a step found the study cancelled) ends at
	// StateCancelled, anything else goes on to Alert and Failed.
	StateWasCancelled = "WasCancelled"
	StateCancelled    = "Cancelled"
)

// ErrorOptimizationFailed is the error a failed optimization execution ends
// with; its cause starts with the name of the error that failed it.
const ErrorOptimizationFailed = "Orrery.OptimizationFailed"

// OptimizationResources are what the optimization state machine refers to.
type OptimizationResources struct {
	// StepsFunction runs suggest, tell, finalize and mark_failed: invoked
	// with an optimization.StepRequest.
	StepsFunction string
	// JobQueue and JobDefinition run each trial as an AWS Batch job (the
	// trainer's image), given its optimization.TrialInput in EnvTrialInput.
	JobQueue, JobDefinition string
	// AlertTopic, when set, is an SNS topic told about every failed study.
	AlertTopic string
	// TrialTimeoutSeconds bounds one trial, queue time and every attempt of
	// its Batch job together (default 6 hours); StudyTimeoutSeconds the
	// whole execution (default 8 days: 7, the longest timeout_seconds a
	// request may ask for, plus a day). RunTrial has no HeartbeatSeconds,
	// as the training machine's Train: see batch.go.
	TrialTimeoutSeconds int
	StudyTimeoutSeconds int
}

// OptimizationPlaceholders returns resources whose values are the CDK
// DefinitionSubstitutions keys the training machine uses: the steps run in
// the stages function (${StagesFunctionArn}) and the trials on the train
// job queue and definition, so the optimization machine needs no resource of
// its own.
func OptimizationPlaceholders() OptimizationResources {
	p := Placeholders()
	return OptimizationResources{StepsFunction: p.StagesFunction, JobQueue: p.JobQueue, JobDefinition: p.JobDefinition, AlertTopic: p.AlertTopic}
}

// LocalOptimizationResources names the resources on the embedded runtime,
// where OptimizationHandlers binds them.
func LocalOptimizationResources() OptimizationResources {
	l := LocalResources()
	return OptimizationResources{StepsFunction: l.StagesFunction, JobQueue: l.JobQueue, JobDefinition: l.JobDefinition}
}

func stepTask(r OptimizationResources, step string, params map[string]any, result asl.Path, next string) asl.State {
	p := map[string]any{"step": step, "study_id.$": "$.study_id"}
	for k, v := range params {
		p[k] = v
	}
	return asl.State{
		Type: asl.TypeTask, Resource: r.StepsFunction, Comment: "optimization step " + step + " (optimization.StepRequest in)",
		Parameters: p, ResultPath: result, TimeoutSeconds: 900, Retry: lambdaRetry(), Catch: catchAll(), Next: next,
	}
}

// Optimization builds the `optimization` state machine:
//
//	Start -> Suggest -> RunTrials (Map over the round's trials,
//	MaxConcurrencyPath $.max_parallel, each a RunTrial Batch job, .sync) ->
//	Tell -> Continue? (Choice: back to Suggest, through a Wait when other
//	workers hold every unfinished trial | Finalize) -> Succeeded
//
// and any failure is caught -> MarkFailed -> (Alert) -> Failed, as in the
// training machine. Trials run as AWS Batch jobs rather than Lambda tasks:
// a trial trains a network for minutes to hours (Lambda stops at 15
// minutes), wants the trainer's image and its Spot retry, and a re-run
// trial resumes from its checkpoint and intermediate values. All state is
// in the study and trial stores, so each task is a fresh process.
//
// The execution input is {"study_id": "...", "max_parallel": 2}.
func Optimization(r OptimizationResources) (asl.Definition, error) {
	if r.TrialTimeoutSeconds == 0 {
		r.TrialTimeoutSeconds = 6 * 3600
	}
	if r.StudyTimeoutSeconds == 0 {
		r.StudyTimeoutSeconds = 8 * 24 * 3600
	}
	for _, c := range []struct {
		field, v string
		required bool
	}{
		{"StepsFunction", r.StepsFunction, true}, {"JobQueue", r.JobQueue, true}, {"JobDefinition", r.JobDefinition, true},
		{"AlertTopic", r.AlertTopic, false},
	} {
		if err := checkResource(c.field, c.v, c.required); err != nil {
			return asl.Definition{}, err
		}
	}
	if r.TrialTimeoutSeconds < 0 || r.StudyTimeoutSeconds <= r.TrialTimeoutSeconds {
		return asl.Definition{}, fmt.Errorf("%w: TrialTimeoutSeconds %d must be positive and below StudyTimeoutSeconds %d",
			ErrResources, r.TrialTimeoutSeconds, r.StudyTimeoutSeconds)
	}
	trial := asl.State{
		Type: asl.TypeTask, Resource: BatchSubmitJobSync,
		Comment: "train and score one trial on AWS Batch; it claims the trial in the trial store and writes its end there",
		Parameters: map[string]any{
			"JobName.$":     "States.Format('orrery-trial-{}-{}', $.study_id, $.number)",
			"JobQueue":      r.JobQueue,
			"JobDefinition": r.JobDefinition,
			"ContainerOverrides": map[string]any{
				"Environment": []any{
					map[string]any{"Name": EnvTrialInput, "Value.$": "States.JsonToString($)"},
					map[string]any{"Name": EnvTaskToken, "Value.$": "$$.Task.Token"},
				},
			},
			// As Train: the trial resumes from its checkpoint with its
			// intermediate values.
			"RetryStrategy": batchJobRetryStrategy(),
		},
		ResultSelector: batchResultSelector(),
		TimeoutSeconds: r.TrialTimeoutSeconds,
		Retry:          batchServiceRetry(),
		End:            true,
	}
	states := map[string]asl.State{
		StateStart: {
			Type: asl.TypePass, Comment: "keep only what the loop needs",
			Parameters: map[string]any{"study_id.$": "$.study_id", "max_parallel.$": "$.max_parallel"},
			Next:       StateSuggest,
		},
		StateSuggest: stepTask(r, optimization.StepSuggest, nil, asl.P("$.round"), StateRunTrials),
		StateRunTrials: {
			Type: asl.TypeMap, Comment: "run the round's trials, at most max_parallel at once",
			ItemsPath:          "$.round.trials",
			ItemSelector:       map[string]any{"study_id.$": "$.study_id", "number.$": "$$.Map.Item.Value"},
			MaxConcurrencyPath: "$.max_parallel",
			ItemProcessor: &asl.Machine{
				ProcessorConfig: &asl.ProcessorConfig{Mode: "INLINE"},
				StartAt:         StateRunTrial,
				States:          map[string]asl.State{StateRunTrial: trial},
			},
			ResultPath: asl.NullPath, Catch: catchAll(), Next: StateTell,
		},
		StateTell: stepTask(r, optimization.StepTell, map[string]any{"exhausted.$": "$.round.exhausted"}, asl.P("$.tell"), StateContinue),
		StateContinue: {
			Type: asl.TypeChoice,
			Choices: asl.ChoiceList{
				{And: []asl.ChoiceRule{asl.Compare("$.tell.continue", "BooleanEquals", true), asl.Compare("$.round.wait_seconds", "NumericGreaterThan", 0)},
					Next: StatePause},
				{Variable: "$.tell.continue", Op: "BooleanEquals", Value: true, Next: StateSuggest},
			},
			Default: StateFinalize,
		},
		StatePause: {
			Type: asl.TypeWait, Comment: "other workers hold the unfinished trials: wait before planning again",
			SecondsPath: "$.round.wait_seconds", Next: StateSuggest,
		},
		StateFinalize:  stepTask(r, optimization.StepFinalize, map[string]any{"stop_reason.$": "$.tell.stop_reason"}, asl.P("$.result"), StateSucceeded),
		StateSucceeded: {Type: asl.TypeSucceed, OutputPath: asl.P("$.result")},
		StateMarkFailed: {
			Type: asl.TypeTask, Resource: r.StepsFunction, Comment: "record the failure in the study",
			Parameters: map[string]any{"step": optimization.StepMarkFailed, "study_id.$": "$.study_id", "error.$": "$.error"},
			ResultPath: asl.NullPath, TimeoutSeconds: 300, Retry: lambdaRetry(),
		},
		StateFailed: {
			Type: asl.TypeFail, Error: ErrorOptimizationFailed, CausePath: "States.Format('{}: {}', $.error.Error, $.error.Cause)",
		},
	}
	afterMarkFailed(states, r.AlertTopic, "Orrery optimization study failed",
		"States.Format('Study {} failed: {}', $.study_id, States.JsonToString($.error))")
	// A study cancelled while its execution ran (CancelStudy, then the
	// stop) can fail a step before the stop arrives; it is recorded like
	// any failure (MarkFailed leaves a CANCELLED study as it is) but is
	// not an incident, so it skips the alert.
	mf := states[StateMarkFailed]
	cancelled := asl.Compare("$.error.Error", "StringEquals", fault.Cancelled.Name())
	cancelled.Next = StateCancelled
	states[StateWasCancelled] = asl.State{
		Type: asl.TypeChoice, Comment: "a step found the study cancelled: end without an alert",
		Choices: asl.ChoiceList{cancelled}, Default: mf.Next,
	}
	states[StateCancelled] = asl.State{Type: asl.TypeFail, Error: fault.Cancelled.Name(), CausePath: "$.error.Cause"}
	mf.Next = StateWasCancelled
	states[StateMarkFailed] = mf
	def := asl.Definition{
		Comment: "Orrery optimization: loop { suggest -> trials (Map of AWS Batch jobs) -> tell -> continue? } -> finalize; " +
			"any failure -> MarkFailed",
		StartAt: StateStart, States: states, TimeoutSeconds: r.StudyTimeoutSeconds,
	}
	if err := def.Validate(); err != nil {
		return asl.Definition{}, err
	}
	return def, nil
}

// OptimizationInput is the execution input of the optimization state
// machine.
type OptimizationInput struct {
	StudyID     string `json:"study_id"`
	MaxParallel int    `json:"max_parallel"`
}

// JSON encodes the input.
func (in OptimizationInput) JSON() json.RawMessage {
	b, _ := json.Marshal(in)
	return b
}

// OptimizationHandlers binds the optimization machine's Task resources for
// the local executor: the steps function to steps.Step, and the Batch
// submitJob.sync task to steps.Trial run in-process. A step's error becomes
// the *asl.Error TaskError names (the Catch sends it to MarkFailed).
func OptimizationHandlers(r OptimizationResources, steps optimization.StepRunner) map[string]asl.Handler {
	named := func(ctx context.Context, err error) error {
		if ctx.Err() != nil {
			return err
		}
		return TaskError(err)
	}
	return map[string]asl.Handler{
		r.StepsFunction: asl.HandlerFunc(func(ctx context.Context, req optimization.StepRequest) (any, error) {
			out, err := steps.Step(ctx, req)
			if err != nil {
				return nil, named(ctx, err)
			}
			return out, nil
		}),
		BatchSubmitJobSync: func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
			var in optimization.TrialInput
			job, err := decodeBatchEnv(raw, EnvTrialInput, &in)
			if err != nil {
				return nil, err
			}
			// In-process the trial lives as long as this process: tell the
			// executor so while it runs (as the trainer heartbeats on AWS;
			// a task given HeartbeatSeconds holds locally as there).
			stop := beatWhile(ctx)
			out, err := steps.Trial(ctx, in)
			stop()
			if err != nil {
				return nil, named(ctx, err)
			}
			return job.succeeded(fmt.Sprintf("trial %d of study %s ended %s in-process", out.Number, out.StudyID, out.State))
		},
	}
}

// localTrialBeat is how often an in-process trial tells the local executor
// it is alive.
const localTrialBeat = 10 * time.Second

// beatWhile calls Heartbeat(ctx) now and every localTrialBeat until the
// returned stop is called.
func beatWhile(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	asl.Heartbeat(ctx)
	go func() {
		defer close(done)
		t := time.NewTicker(localTrialBeat)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				asl.Heartbeat(ctx)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

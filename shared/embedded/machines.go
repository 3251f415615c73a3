package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/orrery-ml/orrery/shared/deploymentjob"
	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/mlflowmirror"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
	"github.com/orrery-ml/orrery/shared/pipeline/localexec"
	"github.com/orrery-ml/orrery/shared/procid"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// ExecutionOptions tune Runtime.Executions; the zero value is ready to use.
type ExecutionOptions struct {
	// Parallel bounds the training executions that run at once (0: half
	// the CPUs, at least one); evaluations run one at a time, since each
	// already uses every core for its bootstrap and cross-validation.
	Parallel int
	// Log receives a record per execution that ends or resumes (nil: none).
	Log *slog.Logger
	// Trials receives a "tune" progress event as each trial of a study
	// ends (nil: none).
	Trials tracking.Recorder
	// Traffic is what the deployments' alarms read (nil: the runtime's own
	// serving traffic, what its endpoints answered).
	Traffic deploymentjob.Traffic
	// Sleep replaces the executor's clock for Wait states and retry
	// back-offs (tests drive the deployments' bakes with it).
	Sleep func(ctx context.Context, d time.Duration) error
	// EvaluationOffload decides which evaluations take the evaluation
	// machine's heavy path, their folds run as RunFold tasks (in-process
	// here, Batch jobs on AWS); its zero value is the rule the stages
	// Lambda applies (evaluationjob.Offload).
	EvaluationOffload evaluationjob.Offload
}

// Executions returns the local executions of the runtime's state machines
// — training, evaluation, optimization and deployment, the same
// definitions Step Functions runs on AWS — journaled in the runtime's
// database, with their tasks bound to the runtime's pipeline stages,
// evaluation steps, optimization steps and deployment steps (trials and the
// Train task run in-process; the deployment's service integrations move
// the EndpointStore's routes). Every command and `orrery serve` start their
// flows through it; Resume on it continues what a process on the same home
// left running.
func (r *Runtime) Executions(o ExecutionOptions) (*localexec.Executions, error) {
	if o.Parallel <= 0 {
		o.Parallel = max(1, runtime.NumCPU()/2)
	}
	r.startMirror()
	training, err := r.trainingBinding(o.Parallel)
	if err != nil {
		return nil, err
	}
	evaluation, err := r.evaluationBinding(o.EvaluationOffload)
	if err != nil {
		return nil, err
	}
	study, err := r.optimizationBinding(o.Trials)
	if err != nil {
		return nil, err
	}
	deploy, err := r.deploymentBinding(o)
	if err != nil {
		return nil, err
	}
	return localexec.New(r.DB, map[pipeline.Machine]localexec.Binding{
		pipeline.MachineTraining:     training,
		pipeline.MachineEvaluation:   evaluation,
		pipeline.MachineOptimization: study,
		pipeline.MachineDeployment:   deploy,
	}, localexec.Options{Log: o.Log, Sleep: o.Sleep})
}

// deploymentBinding runs the deployment machine's steps with the runtime's
// deployment service and its service integrations on the EndpointStore;
// an execution that ends without its Catch returns its traffic.
func (r *Runtime) deploymentBinding(o ExecutionOptions) (localexec.Binding, error) {
	res := pipeline.LocalDeploymentResources()
	def, err := pipeline.Deployment(res)
	if err != nil {
		return localexec.Binding{}, fmt.Errorf("embedded: %w", err)
	}
	svc := r.DeploymentService(nil, o.Traffic, o.Log)
	cloud := deploymentjob.LocalCloud{Service: svc}
	return localexec.Binding{
		Definition: def,
		Resources:  pipeline.DeploymentHandlers(res, svc, cloud.Services()),
		Stopped: func(ctx context.Context, id string, _ json.RawMessage, _ []asl.Event, err error) {
			cloud.Stopped(ctx, id, err)
		},
		Resumed: func(ctx context.Context, id string, _ json.RawMessage, history []asl.Event) {
			_, _ = r.DB.UpdateDeployment(ctx, id, store.DeploymentUpdate{AddEvents: []store.DeploymentEvent{{
				Time: time.Now().UTC(), Kind: "resumed",
				Message: "resumed after state " + orDefault(lastExited(history), pipeline.StateStart) + " (the process running it stopped)",
			}}})
		},
	}, nil
}

// trainingBinding runs the training machine's stages with the runtime's
// pipeline; the train stage's progress events are its heartbeats.
func (r *Runtime) trainingBinding(parallel int) (localexec.Binding, error) {
	res := pipeline.LocalResources()
	def, err := pipeline.Training(res)
	if err != nil {
		return localexec.Binding{}, fmt.Errorf("embedded: %w", err)
	}
	p := *r.Pipeline
	p.Recorder = tracking.Multi(r.Pipeline.Recorder, tracking.RecorderFunc(func(ctx context.Context, _ tracking.Event) error {
		asl.Heartbeat(ctx)
		return nil
	}))
	return localexec.Binding{
		Definition: def,
		Resources:  pipeline.TrainingHandlers(res, &p),
		Slots:      parallel,
		Stopped: func(ctx context.Context, jobID string, _ json.RawMessage, history []asl.Event, err error) {
			refs := lastRefs(history)
			refs.JobID = jobID
			_, _ = p.MarkFailed(ctx, refs, stopFailure(err))
		},
		Resumed: func(ctx context.Context, jobID string, _ json.RawMessage, history []asl.Event) {
			// A run that resumes past ValidateData is a new attempt of the
			// job (ValidateData counts the others itself).
			last := lastExited(history)
			if last == "" || last == pipeline.StateStart {
				return
			}
			_, _ = r.DB.UpdateJob(ctx, jobID, store.JobUpdate{AddAttempt: true,
				ResumedFrom: "after " + last + " (the process running it stopped)"})
		},
		Ended: r.mirrorEnded((*mlflowmirror.Mirror).TrainingEnded),
	}, nil
}

// evaluationBinding runs the evaluation machine's steps with the runtime's
// evaluation service, and the heavy path's fold jobs in-process (the local
// form of the trainer's fold mode, the same evaluationjob code).
func (r *Runtime) evaluationBinding(offload evaluationjob.Offload) (localexec.Binding, error) {
	res := pipeline.LocalEvaluationResources()
	def, err := pipeline.Evaluation(res)
	if err != nil {
		return localexec.Binding{}, fmt.Errorf("embedded: %w", err)
	}
	svc := r.EvaluationService()
	svc.Offload = offload
	return localexec.Binding{
		Definition: def,
		Resources:  pipeline.EvaluationHandlers(res, svc),
		Slots:      1,
		Stopped: func(ctx context.Context, jobID string, _ json.RawMessage, _ []asl.Event, err error) {
			_, _ = svc.MarkFailed(ctx, jobID, stopFailure(err))
		},
		Ended: r.mirrorEnded((*mlflowmirror.Mirror).EvaluationEnded),
	}, nil
}

// optimizationBinding runs the optimization machine's steps and trials
// in-process; this process claims trials under its procid, and the trials
// of a process that died are claimed again at once.
func (r *Runtime) optimizationBinding(trials tracking.Recorder) (localexec.Binding, error) {
	res := pipeline.LocalOptimizationResources()
	def, err := pipeline.Optimization(res)
	if err != nil {
		return localexec.Binding{}, fmt.Errorf("embedded: %w", err)
	}
	steps := r.StepRunner()
	steps.Worker, steps.Gone, steps.Recorder = procid.Self().String(), procid.Gone, trials
	stores := r.OptimizationStores()
	return localexec.Binding{
		Definition: def,
		Resources:  pipeline.OptimizationHandlers(res, steps),
		Stopped: func(ctx context.Context, studyID string, _ json.RawMessage, _ []asl.Event, err error) {
			f := stopFailure(err)
			var in optimization.FailureInput
			in.StudyID, in.Error.Error, in.Error.Cause = studyID, f.Error, f.Cause
			_ = optimization.MarkFailed(ctx, stores, in)
		},
		Ended: r.mirrorEnded((*mlflowmirror.Mirror).StudyEnded),
	}, nil
}

// stopFailure is the failure recorded for an execution that ended without
// its Catch: cancelled when it was stopped, else a stage failure.
func stopFailure(err error) fault.Failure {
	if errors.Is(err, localexec.ErrStopped) {
		return fault.Failure{Error: fault.Cancelled.Name(), Cause: strings.TrimPrefix(err.Error(), localexec.ErrStopped.Error()+": ")}
	}
	return fault.FailureOf(err)
}

// lastExited is the top-level state that ended last in history ("" if
// none).
func lastExited(history []asl.Event) string {
	for i := len(history) - 1; i >= 0; i-- {
		if e := history[i]; e.Type == asl.StateExited && !strings.Contains(e.Path, "/") {
			return e.State
		}
	}
	return ""
}

// lastRefs are the training.Refs the last top-level state passed on, so a
// stopped job's half-written model can be found and removed.
func lastRefs(history []asl.Event) training.Refs {
	for i := len(history) - 1; i >= 0; i-- {
		e := history[i]
		if e.Type != asl.StateExited || strings.Contains(e.Path, "/") {
			continue
		}
		var out struct {
			Refs training.Refs `json:"refs"`
		}
		if json.Unmarshal(e.Data, &out) == nil && out.Refs.JobID != "" {
			return out.Refs
		}
	}
	return training.Refs{}
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

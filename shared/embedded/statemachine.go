package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// lastRefs wraps a StageRunner and remembers the latest Refs a stage
// returned, so a cancelled execution can still clean up after itself.
type lastRefs struct {
	next pipeline.StageRunner
	mu   sync.Mutex
	refs training.Refs
}

func (l *lastRefs) RunStage(ctx context.Context, req training.StageRequest) (training.Refs, error) {
	out, err := l.next.RunStage(ctx, req)
	if err == nil {
		l.mu.Lock()
		l.refs = out
		l.mu.Unlock()
	}
	return out, err
}

// RunTrainingStateMachine runs the QUEUED job jobID through the `training`
// state machine — the same definition that ships to Step Functions — with
// the local executor, its Task resources bound to the runtime's pipeline
// stages and the Train task to the in-process trainer (whose progress events
// are its heartbeats). It is the state-machine counterpart of
// TrainingPipeline.Run, with the same contract: on failure the job is
// FAILED with the reason (by the MarkFailed state), on cancellation of ctx
// it is CANCELLED, and the error is returned.
func (r *Runtime) RunTrainingStateMachine(ctx context.Context, jobID string) (*training.Result, error) {
	p := *r.Pipeline
	p.Recorder = tracking.Multi(r.Pipeline.Recorder, tracking.RecorderFunc(func(ctx context.Context, _ tracking.Event) error {
		asl.Heartbeat(ctx)
		return nil
	}))
	res := pipeline.LocalResources()
	def, err := pipeline.Training(res)
	if err != nil {
		return nil, fmt.Errorf("run job %s: %w", jobID, err)
	}
	stages := &lastRefs{next: &p}
	x := asl.Executor{Resources: pipeline.TrainingHandlers(res, stages)}
	out, err := x.Execute(ctx, def, asl.Execution{Name: jobID, StateMachine: "training", Input: pipeline.TrainingInput{JobID: jobID}.JSON()})
	if err != nil {
		if ctx.Err() != nil {
			// The execution stopped between states, before any Catch: mark
			// the job here, as MarkFailed would have.
			stages.mu.Lock()
			refs := stages.refs
			stages.mu.Unlock()
			refs.JobID = jobID
			_, _ = p.MarkFailed(context.WithoutCancel(ctx), refs, fault.Failure{Error: fault.Cancelled.Name(), Cause: err.Error()})
			return nil, fmt.Errorf("run job %s: %w", jobID, ctx.Err())
		}
		var e *asl.Error
		if errors.As(err, &e) {
			return nil, fmt.Errorf("run job %s: %s", jobID, e.Cause)
		}
		return nil, fmt.Errorf("run job %s: %w", jobID, err)
	}
	var refs training.Refs
	if err := json.Unmarshal(out, &refs); err != nil {
		return nil, fmt.Errorf("run job %s: decode the execution's output: %w", jobID, err)
	}
	return p.LoadResult(ctx, refs)
}

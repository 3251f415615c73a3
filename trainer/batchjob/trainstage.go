package batchjob

import (
	"context"
	"fmt"
	"time"

	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// DefaultHeartbeatEvery is how often train-only mode sends a heartbeat: well
// inside the Train task's HeartbeatSeconds (15 minutes by default).
const DefaultHeartbeatEvery = time.Minute

// RunTrainStage is train-only mode, the state machine's Train task: it runs
// only the TrainModel stage of spec.StageRefs' job with the runner's backend
// and returns the stage's Refs. TrainModel also saves those Refs with the
// job (jobs/<job>/refs/train.json in the artifact store), where the Evaluate
// stage reads them: a Batch job's result, as Step Functions passes it on,
// is the job's description, never what the container computed.
//
// Checkpoints go to the artifact store after every epoch, under the
// backend's key, and a later attempt resumes from them. While the stage
// runs, heartbeats go to the Train task when spec has a task token and the
// runner a Heartbeat. The job record is not marked FAILED here on an error:
// the state machine's MarkFailed does that once the task has failed;
// ExitCode(err) still tells Batch whether to retry.
func (r *Runner) RunTrainStage(ctx context.Context, spec Spec) (training.Refs, error) {
	if spec.StageRefs == nil {
		return training.Refs{}, fmt.Errorf("train stage of job %s: %w: %s is not set", spec.JobID, ErrSpec, EnvStageRefs)
	}
	refs := *spec.StageRefs
	if r.NewTrainer == nil {
		return refs, fmt.Errorf("train stage of job %s: %w: %s", refs.JobID, ErrBackendUnavailable, spec.Backend)
	}
	p := &training.TrainingPipeline{Jobs: r.Jobs, Models: r.Models, Artifacts: r.Artifacts, Recorder: r.Recorder,
		Retry: r.Retry, ScratchDir: r.ScratchDir, NewTrainer: r.NewTrainer, Backend: r.Backend}
	if r.ReadData != nil {
		p.ReadTable = r.ReadData
	} else {
		p.ReadTable = readLocal
	}
	if spec.TaskToken != "" && r.Heartbeat != nil {
		stop := r.heartbeats(ctx, refs.JobID, spec.TaskToken)
		defer stop()
	}
	out, err := p.TrainModel(ctx, refs)
	if err != nil {
		return refs, fmt.Errorf("train stage of job %s (attempt %d, %s backend): %w", refs.JobID, spec.Attempt, r.Backend, err)
	}
	return out, nil
}

// heartbeats sends a heartbeat now (before training starts) and then every
// HeartbeatEvery until the returned stop is called. A failed heartbeat is logged to the Recorder and
// does not stop training: Step Functions times the task out on its own, and
// the checkpoint keeps the work for a later run.
func (r *Runner) heartbeats(ctx context.Context, jobID, token string) (stop func()) {
	every := r.HeartbeatEvery
	if every <= 0 {
		every = DefaultHeartbeatEvery
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	beat := func() {
		if err := r.Heartbeat(ctx, token); err != nil && ctx.Err() == nil && r.Recorder != nil {
			_ = r.Recorder.Record(ctx, tracking.Event{JobID: jobID, Kind: tracking.Log, Stage: training.StageTrain,
				Message: "task heartbeat failed: " + err.Error(), Time: time.Now().UTC()})
		}
	}
	beat()
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				beat()
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

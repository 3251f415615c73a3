package batchjob

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/store"
)

// TrialCheckpointDir is where a study's trial checkpoints live in the
// artifact store: checkpoints/studies/<study>/<study>-t<number>.ckpt, the
// layout of the embedded runtime's optimization.CheckpointDir below its
// artifacts directory. Those are the gonum backend's; another backend's
// are in its own folder (TrialCheckpointDirFor).
func TrialCheckpointDir(studyID string) string { return path.Join("checkpoints", "studies", studyID) }

// TrialCheckpointDirFor is the folder of backend's trial checkpoints:
// TrialCheckpointDir for gonum (or ""), TrialCheckpointDir/<backend>
// otherwise (checkpoints/studies/<study>/torch/<study>-t<number>.ckpt), so
// one backend never resumes a trial from the other's state, as Checkpoints
// keeps training jobs' apart.
func TrialCheckpointDirFor(studyID, backend string) string {
	if backend == "" || backend == BackendGonum {
		return TrialCheckpointDir(studyID)
	}
	return path.Join(TrialCheckpointDir(studyID), backend)
}

// DefaultTrialLease is how long trial mode's claim on a trial lasts without
// a report; the optimization package renews it every third of it while the
// trial trains.
const DefaultTrialLease = 10 * time.Minute

// RunTrial is one iteration of the optimization machine's RunTrials Map
// (its RunTrial task): it claims a trial of task.Trial's study (the one
// named, unless another worker took it first; see optimization.RunTrial)
// under task.Worker and trains it with optimization.TrainingObjective on the
// study's data set (read with ReadData, so s3:// paths work) with the
// runner's backend — NewTrainer, as training jobs do (the torch backend on
// ORRERY_DEVICE in the trainer image); a runner without NewTrainer trains
// with the gonum trainer — reporting each epoch's validation values to the
// trial store and asking the study's pruner after each. The output's Attrs
// name the backend ("backend"). Checkpoints go to the artifact store after
// every epoch (TrialCheckpointDirFor), and the trial's intermediate values
// stay in the trial store, so a later attempt resumes where this one
// stopped.
//
// The trial ending COMPLETE, PRUNED or FAILED (its training failed, say on
// diverging) is a nil error: the study records it and goes on. A returned
// error is the run's own: ExitCode tells Batch whether to retry it. When
// interrupted (ctx cancelled, SIGTERM) the trial stays RUNNING and its
// lease is released, so the retried job claims it again at once. While it
// runs, heartbeats go to the RunTrial task as in RunTrainStage.
//
// A runner naming a backend other than gonum without its NewTrainer is
// refused (ErrBackendUnavailable) before any trial is claimed.
func (r *Runner) RunTrial(ctx context.Context, task Task) (optimization.TrialOutput, error) {
	if task.Trial == nil {
		return optimization.TrialOutput{}, fmt.Errorf("run trial: %w: %s is not set", ErrSpec, config.EnvTrial)
	}
	in := *task.Trial
	if in.Worker == "" {
		in.Worker = task.Worker
	}
	if in.LeaseSeconds == 0 {
		in.LeaseSeconds = int(DefaultTrialLease / time.Second)
	}
	if r.Studies == nil || r.Trials == nil || r.Artifacts == nil {
		return optimization.TrialOutput{StudyID: in.StudyID, Number: in.Number},
			fmt.Errorf("run trial %d of study %s: %w: the study, trial and artifact stores are required", in.Number, in.StudyID, ErrSpec)
	}
	if r.NewTrainer == nil && r.Backend != "" && r.Backend != BackendGonum {
		return optimization.TrialOutput{StudyID: in.StudyID, Number: in.Number},
			fmt.Errorf("run trial %d of study %s: %w: %s", in.Number, in.StudyID, ErrBackendUnavailable, r.Backend)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if task.Token != "" && r.Heartbeat != nil {
		stop := r.heartbeats(ctx, cancel, fmt.Sprintf("%s-t%d", in.StudyID, in.Number), task.Token)
		defer stop()
	}
	steps := optimization.StepRunner{
		Stores:    optimization.Stores{Studies: r.Studies, Trials: r.Trials, Artifacts: r.Artifacts},
		Objective: r.trialObjective,
	}
	out, err := steps.Trial(ctx, in)
	if err != nil {
		if out.Claimed && ctx.Err() != nil {
			r.releaseTrial(context.WithoutCancel(ctx), in.StudyID, out.Number, in.Worker)
		}
		if cause := context.Cause(ctx); errors.Is(cause, ErrTaskGone) {
			err = fmt.Errorf("%w (%w)", cause, err)
		}
		return out, fmt.Errorf("run trial %d of study %s (attempt %d): %w", in.Number, in.StudyID, task.Attempt, err)
	}
	return out, nil
}

// trialObjective reads the study's data set and returns the objective that
// trains one network per trial with the runner's backend, checkpointing to
// the artifact store.
func (r *Runner) trialObjective(ctx context.Context, studyID string, spec optimization.StudySpec) (optimization.Objective, error) {
	if spec.Base == nil {
		return nil, fmt.Errorf("objective of study %s: %w: no base_config", studyID, optimization.ErrInvalidStudy)
	}
	read := r.ReadData
	if read == nil {
		read = readLocal
	}
	table, err := read(ctx, spec.Base.DatasetPath)
	if err != nil {
		return nil, fmt.Errorf("objective of study %s: %w", studyID, err)
	}
	data, err := optimization.PrepareTable(table, spec.Base.TargetColumn, spec.Base.PositiveClass, *spec.Base)
	if err != nil {
		return nil, fmt.Errorf("objective of study %s: %w", studyID, err)
	}
	obj := optimization.TrainingObjective{Data: data, Base: *spec.Base, StudyID: studyID, Objectives: spec.Objectives}
	backend := BackendGonum
	if r.NewTrainer != nil {
		if r.Backend != "" {
			backend = r.Backend
		}
		obj.NewTrainer, obj.Backend = r.NewTrainer, backend
	}
	obj.Checkpoints = Checkpoints{Store: r.Artifacts, Backend: backend, Dir: TrialCheckpointDirFor(studyID, backend)}
	return obj, nil
}

// releaseTrial ends this run's lease on an interrupted trial (it stays
// RUNNING with its intermediate values), so the next attempt need not wait
// for the lease to expire. A failure only delays that attempt.
func (r *Runner) releaseTrial(ctx context.Context, studyID string, number int, worker string) {
	_, _ = r.Trials.UpdateTrial(ctx, studyID, number, worker, store.TrialUpdate{LeaseUntil: time.Now().Add(-time.Millisecond)})
}

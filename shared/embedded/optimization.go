package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/optimizationjob"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

// OptimizationStores returns the runtime's stores as the optimization steps
// use them.
func (r *Runtime) OptimizationStores() optimization.Stores {
	return optimization.Stores{Studies: r.DB, Trials: r.DB, Artifacts: r.Artifacts}
}

// StepRunner returns the optimization steps over the runtime's stores; a
// study's data is prepared once per runner and trials checkpoint under the
// artifacts directory, so a re-claimed trial resumes.
func (r *Runtime) StepRunner() optimization.StepRunner {
	var mu sync.Mutex
	prepared := map[string]*optimization.TrainingData{}
	return optimization.StepRunner{
		Stores: r.OptimizationStores(),
		Objective: func(ctx context.Context, id string, spec optimization.StudySpec) (optimization.Objective, error) {
			ckpt := training.DirCheckpointer{Dir: optimization.CheckpointDir(filepath.Join(r.Home, artifactsDir), id)}
			mu.Lock()
			defer mu.Unlock()
			if d, ok := prepared[id]; ok && spec.Base != nil {
				return optimization.TrainingObjective{Data: d, Base: *spec.Base, StudyID: id, Checkpoints: ckpt, Objectives: spec.Objectives}, nil
			}
			obj, err := optimization.TrainingObjectiveFor(ctx, id, spec, ckpt)
			if err != nil {
				return nil, err
			}
			prepared[id] = obj.Data
			return obj, nil
		},
	}
}

// RunOptimizationStateMachine runs the study in.StudyID (already created
// with optimization.CreateStudy) through the `optimization` state machine —
// the definition that ships to Step Functions — with the local executor,
// its steps bound to the runtime's StepRunner and each trial run
// in-process. On failure the study is FAILED (by the MarkFailed state) and
// the error is returned.
func (r *Runtime) RunOptimizationStateMachine(ctx context.Context, in pipeline.OptimizationInput) (optimization.FinalizeOutput, error) {
	res := pipeline.LocalOptimizationResources()
	def, err := pipeline.Optimization(res)
	if err != nil {
		return optimization.FinalizeOutput{}, fmt.Errorf("run study %s: %w", in.StudyID, err)
	}
	in.MaxParallel = max(1, in.MaxParallel)
	x := asl.Executor{Resources: pipeline.OptimizationHandlers(res, r.StepRunner())}
	out, err := x.Execute(ctx, def, asl.Execution{Name: in.StudyID, StateMachine: "optimization", Input: in.JSON()})
	if err != nil {
		if ctx.Err() != nil {
			var f optimization.FailureInput
			f.StudyID, f.Error.Error, f.Error.Cause = in.StudyID, fault.Cancelled.Name(), err.Error()
			_ = optimization.MarkFailed(context.WithoutCancel(ctx), r.OptimizationStores(), f)
			return optimization.FinalizeOutput{}, fmt.Errorf("run study %s: %w", in.StudyID, ctx.Err())
		}
		var e *asl.Error
		if errors.As(err, &e) {
			return optimization.FinalizeOutput{}, fmt.Errorf("run study %s: %s", in.StudyID, e.Cause)
		}
		return optimization.FinalizeOutput{}, fmt.Errorf("run study %s: %w", in.StudyID, err)
	}
	var fin optimization.FinalizeOutput
	if err := json.Unmarshal(out, &fin); err != nil {
		return fin, fmt.Errorf("run study %s: decode the execution's output: %w", in.StudyID, err)
	}
	return fin, nil
}

// Studies runs optimization studies for the HTTP API on the embedded
// runtime (api.Optimizations): each study in a goroutine through the
// optimization state machine.
type Studies struct {
	rt  *Runtime
	log *slog.Logger

	mu      sync.Mutex
	cancels map[string]context.CancelFunc
	closed  bool
	wg      sync.WaitGroup
}

var _ api.Optimizations = (*Studies)(nil)

// NewStudies returns the runtime's study runner (log may be nil).
func (r *Runtime) NewStudies(log *slog.Logger) *Studies {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Studies{rt: r, log: log, cancels: map[string]context.CancelFunc{}}
}

// StartOptimization creates the study (RUNNING, optimizationjob.NewStudy)
// and starts its execution. A request the optimization package refuses is
// an *api.RequestError (400).
func (s *Studies) StartOptimization(ctx context.Context, req api.OptimizationRequest) (api.Accepted, error) {
	now := time.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return api.Accepted{}, fmt.Errorf("start study: %w: %w", ErrClosed, api.ErrUnavailable)
	}
	id, spec, err := optimizationjob.NewStudy(ctx, s.rt.OptimizationStores(), req, now)
	if err != nil {
		return api.Accepted{}, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancels[id] = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.cancels, id)
			s.mu.Unlock()
			cancel()
		}()
		fin, err := s.rt.RunOptimizationStateMachine(runCtx, optimizationjob.ExecutionInput(id, spec))
		if err != nil {
			s.log.Warn("study failed", "study_id", id, "error", err.Error())
			return
		}
		s.log.Info("study succeeded", "study_id", id, "trials", fin.Trials, "stop_reason", fin.StopReason)
	}()
	return optimizationjob.Accepted(id, now), nil
}

// OptimizationResults returns the study's results, rendered as on AWS
// (optimizationjob.Render); store.ErrNotFound if there is no such study.
func (s *Studies) OptimizationResults(ctx context.Context, jobID string) (json.RawMessage, error) {
	return optimizationjob.Render(ctx, s.rt.OptimizationStores(), jobID, s.rt.Artifacts.URI)
}

// Close cancels the running studies (each is marked FAILED as cancelled)
// and waits for them, or for ctx.
func (s *Studies) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for _, c := range s.cancels {
		c()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close studies: %w", ctx.Err())
	}
}

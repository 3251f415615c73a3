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
	"github.com/orrery-ml/orrery/shared/finitejson"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store"
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
	x := pipeline.Executor{Resources: pipeline.OptimizationHandlers(res, r.StepRunner())}
	out, err := x.Execute(ctx, def, pipeline.Execution{Name: in.StudyID, StateMachine: "optimization", Input: in.JSON()})
	if err != nil {
		if ctx.Err() != nil {
			var f optimization.FailureInput
			f.StudyID, f.Error.Error, f.Error.Cause = in.StudyID, training.ErrorNameCancelled, err.Error()
			_ = optimization.MarkFailed(context.WithoutCancel(ctx), r.OptimizationStores(), f)
			return optimization.FinalizeOutput{}, fmt.Errorf("run study %s: %w", in.StudyID, ctx.Err())
		}
		var e *pipeline.Error
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

// SpecFromRequest turns a validated POST /ml/optimization/start body into a
// study spec: each search dimension becomes a typed dimension (a
// hidden_layers choice such as [64, 32] becomes the categorical value
// "64-32"), max_trials and timeout_seconds the budget, max_parallel the
// trials per round.
func SpecFromRequest(req api.OptimizationRequest) (optimization.StudySpec, error) {
	base := req.BaseConfig
	spec := optimization.StudySpec{Seed: uint64(req.Seed), Strategy: req.Strategy, Pruner: req.Pruner, Parallel: req.Budget.MaxParallel,
		Objectives: req.Objectives, Base: &base,
		Budget: optimization.Budget{Trials: req.Budget.MaxTrials, WallTime: time.Duration(req.Budget.TimeoutSeconds) * time.Second}}
	for _, d := range req.Directions {
		spec.Directions = append(spec.Directions, optimization.Direction(d))
	}
	for i, sd := range req.SearchSpace {
		d := optimization.Dimension{Name: sd.Name, Kind: optimization.Kind(sd.Kind), Log: sd.Log}
		if sd.Low != nil && sd.High != nil {
			d.Low, d.High = *sd.Low, *sd.High
		}
		for j, c := range sd.Choices {
			if sd.Name != "hidden_layers" {
				d.Choices = append(d.Choices, c)
				continue
			}
			raw, ok := c.([]any)
			if !ok {
				return spec, fmt.Errorf("%w: search_space[%d].choices[%d]: hidden_layers choices are lists of widths, got %v", optimization.ErrInvalidSpace, i, j, c)
			}
			var layers []int
			for _, u := range raw {
				f, ok := u.(float64)
				if !ok || f < 1 || f != float64(int(f)) {
					return spec, fmt.Errorf("%w: search_space[%d].choices[%d]: %v is not a positive layer width", optimization.ErrInvalidSpace, i, j, u)
				}
				layers = append(layers, int(f))
			}
			d.Choices = append(d.Choices, optimization.LayersChoice(layers))
		}
		spec.Space.Dimensions = append(spec.Space.Dimensions, d)
	}
	return spec, spec.Check()
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

// OptimizationResultsURL is the path of a study's results.
func OptimizationResultsURL(studyID string) string { return "/ml/optimization/" + studyID + "/results" }

// StartOptimization creates the study (RUNNING) and starts its execution.
// A request the optimization package refuses is an *api.RequestError (400).
func (s *Studies) StartOptimization(ctx context.Context, req api.OptimizationRequest) (api.Accepted, error) {
	spec, err := SpecFromRequest(req)
	if err != nil {
		return api.Accepted{}, &api.RequestError{
			Fields: []api.FieldError{{Field: "search_space", Pointer: "/search_space", Detail: err.Error()}}}
	}
	now := time.Now().UTC()
	spec.StartedAt = now
	id := training.NewID("hpo", now)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return api.Accepted{}, fmt.Errorf("start study: %w: %w", ErrClosed, api.ErrUnavailable)
	}
	name := req.Name
	if name == "" {
		name = filepath.Base(req.BaseConfig.DatasetPath)
	}
	if err := optimization.CreateStudy(ctx, s.rt.OptimizationStores(), id, name, spec); err != nil {
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
		fin, err := s.rt.RunOptimizationStateMachine(runCtx, pipeline.OptimizationInput{StudyID: id, MaxParallel: spec.Parallel})
		if err != nil {
			s.log.Warn("study failed", "study_id", id, "error", err.Error())
			return
		}
		s.log.Info("study succeeded", "study_id", id, "trials", fin.Trials, "stop_reason", fin.StopReason)
	}()
	return api.Accepted{JobID: id, Kind: "optimization", Status: store.Running, StatusURL: OptimizationResultsURL(id), CreatedAt: now}, nil
}

// OptimizationResult is the body of GET /ml/optimization/{job_id}/results.
type OptimizationResult struct {
	optimization.StudyResults
	// Links: self, and report (where the HTML report is) once written.
	Links map[string]string `json:"links"`
}

// OptimizationResults returns the study's results; store.ErrNotFound if
// there is no such study.
func (s *Studies) OptimizationResults(ctx context.Context, jobID string) (json.RawMessage, error) {
	res, err := optimization.Results(ctx, s.rt.OptimizationStores(), jobID)
	if err != nil {
		return nil, err
	}
	out := OptimizationResult{StudyResults: res, Links: map[string]string{"self": OptimizationResultsURL(jobID)}}
	if res.ReportKey != "" {
		out.Links["report"] = s.rt.Artifacts.URI(res.ReportKey)
	}
	b, err := finitejson.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("results of study %s: %w", jobID, err)
	}
	return b, nil
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

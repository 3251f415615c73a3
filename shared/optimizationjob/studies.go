package optimizationjob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/finitejson"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store"
)

// SpecFromRequest turns a validated POST /ml/optimization/start body into a
// study spec: each search dimension becomes a typed dimension (a
// hidden_layers choice such as [64, 32] becomes the categorical value
// "64-32"), max_trials and timeout_seconds the budget, max_parallel the
// trials per round. A spec the optimization package refuses is an error
// wrapping optimization.ErrInvalidStudy or ErrInvalidSpace. A request with
// hyperparameter_space gets that space's typed dimensions
// (HyperparameterSpace.Space), as `orrery tune --space` does.
func SpecFromRequest(req api.OptimizationRequest) (optimization.StudySpec, error) {
	base := req.BaseConfig
	spec := optimization.StudySpec{Seed: uint64(req.Seed), Strategy: req.Strategy, Pruner: req.Pruner, Parallel: req.Budget.MaxParallel,
		Objectives: req.Objectives, Base: &base,
		Budget: optimization.Budget{Trials: req.Budget.MaxTrials, WallTime: time.Duration(req.Budget.TimeoutSeconds) * time.Second}}
	for _, d := range req.Directions {
		spec.Directions = append(spec.Directions, optimization.Direction(d))
	}
	if h := req.HyperparameterSpace; h != nil {
		space, err := h.Space()
		if err != nil {
			return spec, fmt.Errorf("hyperparameter_space: %w", err)
		}
		spec.Space = space
		return spec, spec.Check()
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

// ResultsURL is the path of a study's results.
func ResultsURL(studyID string) string { return "/ml/optimization/" + studyID + "/results" }

// NewStudy stores the RUNNING study req asks for, started at now, under a
// new id (training.NewID("hpo", now)), named req.Name or after the data
// file, and returns the id and spec. A request the optimization package
// refuses is an *api.RequestError (400) naming search_space; store errors
// are returned as they are.
func NewStudy(ctx context.Context, st optimization.Stores, req api.OptimizationRequest, now time.Time) (string, optimization.StudySpec, error) {
	spec, err := SpecFromRequest(req)
	if err != nil {
		return "", spec, &api.RequestError{
			Fields: []api.FieldError{{Field: "search_space", Pointer: "/search_space", Detail: err.Error()}}}
	}
	now = now.UTC()
	spec.StartedAt = now
	id := training.NewID("hpo", now)
	name := req.Name
	if name == "" {
		name = path.Base(req.BaseConfig.DatasetPath)
	}
	if err := optimization.CreateStudy(ctx, st, id, name, spec); err != nil {
		return "", spec, err
	}
	return id, spec, nil
}

// ExecutionInput is the optimization state machine's input for a study of
// spec: at most spec.Parallel trials at once (at least one).
func ExecutionInput(id string, spec optimization.StudySpec) pipeline.OptimizationInput {
	return pipeline.OptimizationInput{StudyID: id, MaxParallel: max(1, spec.Parallel)}
}

// Accepted is the 202 answer of a study just started.
func Accepted(id string, now time.Time) api.Accepted {
	return api.Accepted{JobID: id, Kind: "optimization", Status: store.Running, StatusURL: ResultsURL(id), CreatedAt: now.UTC()}
}

// Result is the body of GET /ml/optimization/{job_id}/results.
type Result struct {
	optimization.StudyResults
	// Links: self, and report (where the HTML report is) once written.
	Links map[string]string `json:"links"`
}

// Render returns the study's results as the API answers them (NaN and
// infinities as null); uri turns the report's artifact key into its link
// (store.ArtifactStore.URI). An unknown study is an error wrapping
// store.ErrNotFound.
func Render(ctx context.Context, st optimization.Stores, id string, uri func(key string) string) (json.RawMessage, error) {
	res, err := optimization.Results(ctx, st, id)
	if err != nil {
		return nil, err
	}
	out := Result{StudyResults: res, Links: map[string]string{"self": ResultsURL(id)}}
	if res.ReportKey != "" && uri != nil {
		out.Links["report"] = uri(res.ReportKey)
	}
	b, err := finitejson.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("results of study %s: %w", id, err)
	}
	return b, nil
}

// Executions starts the executions of studies (on AWS, Step Functions
// executions of the `optimization` state machine:
// sfnexec.Executions.StartStudy).
type Executions interface {
	// StartStudy starts the execution named in.StudyID with input in and
	// returns once it is accepted, not when it ends. Starting a study that
	// already has an execution starts nothing and is not an error.
	StartStudy(ctx context.Context, in pipeline.OptimizationInput) error
	// StopStudy asks the study's execution to stop, recording cause;
	// stopping one that has ended or never started is not an error.
	StopStudy(ctx context.Context, studyID, cause string) error
}

// Studies is the api.Optimizations of a runtime whose executions start
// elsewhere: StartOptimization stores the RUNNING study (NewStudy) and
// starts its execution; OptimizationResults renders it from the stores.
// Stores (Studies, Trials; Artifacts for the report link) and Executions
// are required; Now is replaceable for tests.
type Studies struct {
	Stores     optimization.Stores
	Executions Executions
	Now        func() time.Time
}

var _ api.Optimizations = (*Studies)(nil)

// StartOptimization creates the study and starts its execution. If the
// execution cannot be started the study is marked FAILED with the reason
// (Orrery.Unavailable) and api.ErrUnavailable is returned.
func (s *Studies) StartOptimization(ctx context.Context, req api.OptimizationRequest) (api.Accepted, error) {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	id, spec, err := NewStudy(ctx, s.Stores, req, now)
	if err != nil {
		return api.Accepted{}, err
	}
	if err := s.Executions.StartStudy(ctx, ExecutionInput(id, spec)); err != nil {
		err = fmt.Errorf("start study %s: %v: %w", id, err, api.ErrUnavailable)
		f := optimization.FailureInput{StudyID: id, Error: fault.FailureOf(err)}
		_ = optimization.MarkFailed(context.WithoutCancel(ctx), s.Stores, f)
		return api.Accepted{}, err
	}
	return Accepted(id, now), nil
}

// OptimizationResults returns the study's results (Render); an unknown
// study is store.ErrNotFound.
func (s *Studies) OptimizationResults(ctx context.Context, jobID string) (json.RawMessage, error) {
	var uri func(string) string
	if s.Stores.Artifacts != nil {
		uri = s.Stores.Artifacts.URI
	}
	return Render(ctx, s.Stores, jobID, uri)
}

// CancelOptimization marks a running study CANCELLED (optimization.
// CancelStudy) and stops its execution; it answers the study's results. A
// finished study is store.ErrConflict naming its status, an unknown one
// store.ErrNotFound; an execution that cannot be stopped is
// api.ErrUnavailable (the study stays CANCELLED).
func (s *Studies) CancelOptimization(ctx context.Context, jobID, reason string) (json.RawMessage, error) {
	cause := "cancelled by request"
	if reason != "" {
		cause += ": " + reason
	}
	if _, err := optimization.CancelStudy(ctx, s.Stores, jobID, cause); err != nil {
		if errors.Is(err, optimization.ErrStudyFinished) {
			return nil, fmt.Errorf("%v: %w", err, store.ErrConflict)
		}
		return nil, err
	}
	if err := s.Executions.StopStudy(ctx, jobID, cause); err != nil {
		return nil, fmt.Errorf("cancel study %s: stop execution: %v: %w", jobID, err, api.ErrUnavailable)
	}
	return s.OptimizationResults(ctx, jobID)
}

// TrialConfig returns the configuration a trial of the study trained with
// (optimization.TrialConfig; optimization.BestTrialNumber: the best). A
// trial that has not completed is store.ErrConflict.
func (s *Studies) TrialConfig(ctx context.Context, jobID string, trial int) (training.TrainingConfig, error) {
	cfg, _, err := optimization.TrialConfig(ctx, s.Stores, jobID, trial)
	if errors.Is(err, optimization.ErrNoCompleteTrial) {
		return cfg, fmt.Errorf("%v: %w", err, store.ErrConflict)
	}
	return cfg, err
}

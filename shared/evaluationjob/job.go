package evaluationjob

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/modelstore"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
)

// Stages an evaluation job reports in its record.
const (
	StageEvaluate = "evaluate"
	StageCompare  = "compare"
)

// Steps of Request.Step: the evaluation state machine's tasks on the
// stages function. Light evaluations run evaluate; heavy ones (Plan says
// which) run their folds as fold jobs (RunFold) and then reduce.
const (
	StepEvaluate   = "evaluate"
	StepMarkFailed = "mark_failed"
	StepPlan       = "plan"
	StepReduce     = "reduce"
)

// ErrInvalidJob is returned for a step request without a job id or with an
// unknown step, and for a job that is not an evaluation job or whose
// Config cannot be read.
var ErrInvalidJob = fault.New(fault.Invalid, "evaluationjob: invalid job")

// Config is the Config of an evaluation job: the evaluation it runs and the
// models to compare with.
type Config struct {
	evaluation.EvaluateRequest
	CompareTo []string `json:"compare_to,omitempty"`
}

// Result is the Result of a SUCCEEDED evaluation job.
type Result struct {
	// Evaluation is the evaluation.EvaluationResult, as stored.
	Evaluation json.RawMessage `json:"evaluation"`
	// Comparison ranks the model against compare_to, when asked.
	Comparison *evaluation.ComparisonResult `json:"comparison,omitempty"`
}

// Request is what the evaluation state machine's tasks send the stages
// function, under the key "evaluation" (Task): which job, which step
// (evaluate when empty), and for mark_failed the failure its Catch caught.
type Request struct {
	JobID   string         `json:"job_id"`
	Step    string         `json:"step,omitempty"`
	Failure *fault.Failure `json:"error,omitempty"`
}

// Task is the event of an evaluation task: {"evaluation": Request}.
type Task struct {
	Evaluation *Request `json:"evaluation"`
}

// Output is what a step returns through the state machine: small
// references, never the evaluation itself (it is in the job's Result).
type Output struct {
	JobID          string `json:"job_id"`
	Status         string `json:"status"`
	ModelID        string `json:"model_id,omitempty"`
	EvaluationID   string `json:"evaluation_id,omitempty"`
	DerivedModelID string `json:"derived_model_id,omitempty"`
	// Heavy, Folds, Tasks and Reason are the plan step's answer (Plan):
	// whether the job runs fold jobs, the cross-validation folds among them
	// (0 to n-1, one job each), every fold job's task (the folds', then the
	// bootstrap shards', then the comparison shards': the items of the
	// evaluation machine's RunFolds Map) and why.
	Heavy  bool       `json:"heavy,omitempty"`
	Folds  []int      `json:"folds,omitempty"`
	Tasks  []FoldTask `json:"tasks,omitempty"`
	Reason string     `json:"reason,omitempty"`
}

// JobKind is the Kind of evaluation job records (api.JobKindEvaluation).
const JobKind = "evaluation"

// Submit checks cfg against the registry, fills in its defaults (Prepare)
// and stores a QUEUED job of Kind JobKind for it. Errors: those of
// Prepare; nothing is stored then.
func (s *Service) Submit(ctx context.Context, cfg Config) (store.Job, error) {
	cfg, err := s.Prepare(ctx, cfg)
	if err != nil {
		return store.Job{}, err
	}
	body, err := json.Marshal(cfg)
	if err != nil {
		return store.Job{}, fmt.Errorf("evaluate model %s: encode request: %w", cfg.ModelID, err)
	}
	now := time.Now().UTC()
	job := store.Job{ID: training.NewID("evj", now), Kind: JobKind, Status: store.Queued,
		Config: body, ModelID: cfg.ModelID, CreatedAt: now, UpdatedAt: now}
	if err := s.Jobs.CreateJob(ctx, job); err != nil {
		return store.Job{}, fmt.Errorf("evaluate model %s: %w", cfg.ModelID, err)
	}
	return job, nil
}

// Prepare checks the models of cfg and fills in its defaults from the
// model's manifest: dataset_path is the file it was trained on (so the
// model's own test split is scored) and target_column its target. Errors:
// store.ErrNotFound for an unknown model (or compare_to model),
// store.ErrInvalid for a request the evaluation refuses (wrapping
// evaluation.ErrInvalidRequest where it says why; a threshold for a
// multi-class model among them).
func (s *Service) Prepare(ctx context.Context, cfg Config) (Config, error) {
	man, err := s.manifest(ctx, cfg.ModelID)
	if err != nil {
		return Config{}, err
	}
	for _, id := range cfg.CompareTo {
		if id == cfg.ModelID {
			return Config{}, fmt.Errorf("compare_to: %q is the model being evaluated: %w", id, store.ErrInvalid)
		}
		if _, err := s.Models.GetModel(ctx, id); err != nil {
			return Config{}, fmt.Errorf("compare_to: model %s: %w", id, err)
		}
	}
	r := &cfg.EvaluateRequest
	if r.DatasetPath == "" {
		tc, err := trainingConfig(man)
		if err != nil {
			return cfg, fmt.Errorf("evaluate model %s: %w", cfg.ModelID, err)
		}
		r.DatasetPath = tc.DatasetPath
		if r.DatasetPath == "" {
			return cfg, fmt.Errorf("dataset_path: model %s records no training data set; give one: %w", cfg.ModelID, store.ErrInvalid)
		}
	}
	if r.TargetColumn == "" {
		r.TargetColumn = man.Target
	}
	if err := r.Validate(); err != nil {
		return cfg, fmt.Errorf("%w: %w", store.ErrInvalid, err)
	}
	if err := r.CheckThreshold(len(man.Classes)); err != nil {
		return cfg, fmt.Errorf("%w: %w", store.ErrInvalid, err)
	}
	return cfg, nil
}

// manifest reads the manifest of a registered model from the artifact
// store.
func (s *Service) manifest(ctx context.Context, modelID string) (nn.Manifest, error) {
	var man nn.Manifest
	m, err := s.Models.GetModel(ctx, modelID)
	if err != nil {
		return man, fmt.Errorf("model %s: %w", modelID, err)
	}
	rc, err := s.Artifacts.Get(ctx, path.Join(m.ArtifactKey, nn.ManifestFile))
	if errors.Is(err, store.ErrNotFound) {
		return man, fmt.Errorf("model %s is registered but its %s is missing from the artifact store; the model cannot be loaded: %w",
			modelID, nn.ManifestFile, nn.ErrChecksum)
	}
	if err != nil {
		return man, fmt.Errorf("model %s: read manifest: %w", modelID, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return man, fmt.Errorf("model %s: read manifest: %w", modelID, err)
	}
	// A manifest changed since registration (truncated, rewritten) is the
	// model's data changing under its id: fault.DataChanged (409), not a
	// server error.
	if err := modelstore.CheckManifest(m, b); err != nil {
		return man, err
	}
	if err := json.Unmarshal(b, &man); err != nil {
		return man, fmt.Errorf("model %s: its %s does not decode (truncated or damaged since it was registered): %v: %w",
			modelID, nn.ManifestFile, err, nn.ErrChecksum)
	}
	return man, nil
}

// Step runs the step req names: evaluate (the default), plan, reduce or
// mark_failed. It is what the `stages` Lambda and the local executor's task
// handler call.
func (s *Service) Step(ctx context.Context, req Request) (Output, error) {
	switch req.Step {
	case "", StepEvaluate:
		return s.Run(ctx, req.JobID)
	case StepPlan:
		return s.Plan(ctx, req.JobID)
	case StepReduce:
		return s.Reduce(ctx, req.JobID)
	case StepMarkFailed:
		f := fault.Failure{Error: fault.Internal.Name(), Cause: "unknown failure"}
		if req.Failure != nil {
			f = *req.Failure
		}
		return s.MarkFailed(ctx, req.JobID, f)
	}
	return Output{JobID: req.JobID}, fmt.Errorf("%w: unknown step %q (evaluate, plan, reduce, mark_failed)", ErrInvalidJob, req.Step)
}

// Run runs the QUEUED evaluation job jobID to its end: it marks the job
// RUNNING (counting an attempt; a job found RUNNING was interrupted and
// runs again), evaluates with the job's Config, compares with compare_to
// when asked, and records the Result with SUCCEEDED in one conditional
// write. The comparison scores every model, the evaluated one included, at
// its stored decision threshold even when the Config's Threshold is set:
// it ranks the models as registered (a threshold-dependent test at the
// requested operating point for one model and the stored one for the
// others would compare two different choices, not two models); the
// evaluation itself reports the requested operating point. A finished job is store.ErrConflict; a job of another kind, or
// one whose Config cannot be read, ErrInvalidJob. On any other error the
// job is left RUNNING for MarkFailed.
func (s *Service) Run(ctx context.Context, jobID string) (Output, error) {
	return s.run(ctx, jobID, false)
}

// Reduce is the heavy path's last step: Run, with the cross-validation's
// folds combined from the outcomes the job's fold jobs stored (RunFold)
// instead of trained here, and the bootstrap's and the comparison's
// replicates combined from their shards' when Plan offloaded them; the job is RUNNING since Plan, which
// counted the attempt. The stored outcomes are removed once the result is
// recorded. A missing outcome is store.ErrNotFound naming the fold or
// shard.
func (s *Service) Reduce(ctx context.Context, jobID string) (Output, error) {
	out, err := s.run(ctx, jobID, true)
	if err == nil {
		_ = s.Artifacts.DeletePrefix(context.WithoutCancel(ctx), jobPrefix(jobID))
	}
	return out, err
}

func (s *Service) run(ctx context.Context, jobID string, reduce bool) (Output, error) {
	out := Output{JobID: jobID}
	job, err := s.job(ctx, jobID)
	if err != nil {
		return out, err
	}
	var cfg Config
	if err := json.Unmarshal(job.Config, &cfg); err != nil {
		return out, fmt.Errorf("evaluation job %s: %w: decode config: %v", jobID, ErrInvalidJob, err)
	}
	u := store.JobUpdate{Status: store.Running, Stage: StageEvaluate, AddAttempt: true}
	switch {
	case job.Status.Terminal():
		return out, fmt.Errorf("evaluation job %s: %w: it is already %s", jobID, store.ErrConflict, job.Status)
	case reduce && job.Status != store.Running:
		return out, fmt.Errorf("evaluation job %s: %w: %s it is %s, not RUNNING since %s", jobID, store.ErrConflict, StepReduce, job.Status, StepPlan)
	case reduce:
		u = store.JobUpdate{Stage: StageEvaluate}
	case job.Status == store.Running:
		u.Status = ""
	}
	if _, err := s.Jobs.UpdateJob(ctx, jobID, u); err != nil {
		return out, fmt.Errorf("evaluation job %s: %w", jobID, err)
	}
	foldsOf := ""
	if reduce {
		foldsOf = jobID
	}
	res, err := s.evaluate(ctx, cfg.EvaluateRequest, foldsOf)
	if err != nil {
		return out, err
	}
	out.ModelID, out.EvaluationID, out.DerivedModelID = res.ModelID, res.EvaluationID, res.DerivedModelID
	raw, err := json.Marshal(res)
	if err != nil {
		return out, fmt.Errorf("encode evaluation %s: %w", res.EvaluationID, err)
	}
	result := Result{Evaluation: raw}
	if len(cfg.CompareTo) > 0 {
		if _, err := s.Jobs.UpdateJob(ctx, jobID, store.JobUpdate{Stage: StageCompare}); err != nil {
			return out, fmt.Errorf("evaluation job %s: %w", jobID, err)
		}
		req := compareRequest(cfg)
		cmp, err := s.compare(ctx, req, foldsOf)
		if err != nil {
			return out, fmt.Errorf("compare %s: %w", strings.Join(req.ModelIDs, ", "), err)
		}
		result.Comparison = cmp
	}
	b, err := json.Marshal(result)
	if err != nil {
		return out, fmt.Errorf("encode evaluation job %s result: %w", jobID, err)
	}
	if _, err := s.Jobs.UpdateJob(ctx, jobID, store.JobUpdate{Status: store.Succeeded, Result: b}); err != nil {
		return out, fmt.Errorf("evaluation job %s: %w", jobID, err)
	}
	out.Status = string(store.Succeeded)
	return out, nil
}

// compareRequest is the comparison of job configuration cfg: its model,
// then compare_to, on its data, with its bootstrap's resamples and seed.
// The evaluate or reduce step and every comparison shard (RunFold) use
// it, so they compare the same way.
func compareRequest(cfg Config) evaluation.CompareRequest {
	return evaluation.CompareRequest{ModelIDs: append([]string{cfg.ModelID}, cfg.CompareTo...), DatasetPath: cfg.DatasetPath,
		TargetColumn: cfg.TargetColumn, PositiveClass: cfg.PositiveClass, BootstrapResamples: cfg.BootstrapResamples, Seed: cfg.Seed}
}

// MarkFailed records a failed evaluation job: FAILED (CANCELLED when the
// failure's code is fault.Cancelled) with the failure's message, by a conditional
// write. A job that has already finished is left as it is and nil
// returned, so a duplicated or late failure never moves it.
func (s *Service) MarkFailed(ctx context.Context, jobID string, f fault.Failure) (Output, error) {
	out := Output{JobID: jobID}
	job, err := s.job(ctx, jobID)
	if err != nil {
		return out, err
	}
	out.Status = string(job.Status)
	if job.Status.Terminal() {
		return out, nil
	}
	msg := s.failureMessage(ctx, jobID, f)
	// A heavy job's fold outcomes (and its fold jobs' failures, now in msg)
	// are of no use once it has failed.
	_ = s.Artifacts.DeletePrefix(context.WithoutCancel(ctx), jobPrefix(jobID))
	status := store.Failed
	if f.Code() == fault.Cancelled {
		status = store.Cancelled
	}
	updated, err := s.Jobs.UpdateJob(ctx, jobID, store.JobUpdate{Status: status, Error: msg})
	if errors.Is(err, store.ErrConflict) {
		if current, gerr := s.Jobs.GetJob(ctx, jobID); gerr == nil {
			out.Status = string(current.Status)
		}
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("%s evaluation job %s: %w", StepMarkFailed, jobID, err)
	}
	out.Status = string(updated.Status)
	return out, nil
}

// job returns the evaluation job jobID; ErrInvalidJob for an empty id or
// a job of another kind.
func (s *Service) job(ctx context.Context, jobID string) (store.Job, error) {
	if jobID == "" {
		return store.Job{}, fmt.Errorf("%w: job_id is required", ErrInvalidJob)
	}
	job, err := s.Jobs.GetJob(ctx, jobID)
	if err != nil {
		return job, fmt.Errorf("evaluation job %s: %w", jobID, err)
	}
	if job.Kind != JobKind {
		return job, fmt.Errorf("%w: job %s is a %s job, not an evaluation", ErrInvalidJob, jobID, job.Kind)
	}
	return job, nil
}

// DecodeTask decodes an evaluation task's event strictly: unknown fields,
// trailing data, a missing "evaluation" object or job id are ErrInvalidJob.
func DecodeTask(raw []byte) (Request, error) {
	var t Task
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return Request{}, fmt.Errorf("%w: decode evaluation task: %v", ErrInvalidJob, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Request{}, fmt.Errorf("%w: decode evaluation task: trailing data after the JSON object", ErrInvalidJob)
	}
	if t.Evaluation == nil {
		return Request{}, fmt.Errorf("%w: the task has no \"evaluation\" object", ErrInvalidJob)
	}
	if t.Evaluation.JobID == "" {
		return Request{}, fmt.Errorf("%w: evaluation.job_id is required", ErrInvalidJob)
	}
	return *t.Evaluation, nil
}

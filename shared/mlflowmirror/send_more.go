package mlflowmirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/tracking/mlflow"
)

// trialRecord is what the mirror reads of a trial's stored Intermediate.
type trialRecord struct {
	Steps []struct {
		Step   int       `json:"step"`
		Values []float64 `json:"values"`
	} `json:"steps"`
}

// trialStatus maps a trial's state to MLflow's run status; the orrery.trial_state
// tag keeps which it was (a pruned trial is KILLED, as Optuna's MLflow
// callback does).
func trialStatus(s store.TrialState) string {
	switch s {
	case store.TrialComplete:
		return "FINISHED"
	case store.TrialPruned:
		return "KILLED"
	case store.TrialFailed:
		return "FAILED"
	}
	return "RUNNING"
}

// sendStudy mirrors a study: its parent run (the study's configuration as
// params, its report and analysis as artifacts) and one nested run per
// trial with its params, intermediate values by step and objective values.
func (m *Mirror) sendStudy(ctx context.Context, e store.TrackingEntry) error {
	var p subjectPayload
	if err := decodePayload(e, &p); err != nil {
		return err
	}
	if m.src.Studies == nil || m.src.Trials == nil {
		return fmt.Errorf("%w: no study store to read study %s from", errUnknownKind, p.ID)
	}
	st, err := m.src.Studies.GetStudy(ctx, p.ID)
	if err != nil {
		return err
	}
	if !st.Status.Terminal() {
		return fmt.Errorf("%w: study %s is %s", ErrNotReady, st.ID, st.Status)
	}
	exp, err := m.experiment(ctx)
	if err != nil {
		return err
	}
	name := st.Name
	if name == "" {
		name = st.ID
	}
	parent, err := m.ensureRun(ctx, runSpec{key: "study/" + st.ID, name: name, startMS: st.CreatedAt.UnixMilli(),
		tags: []mlflow.KV{{Key: "orrery.kind", Value: "study"}, {Key: "orrery.study_id", Value: st.ID}}, params: flattenParams(st.Config)})
	if err != nil {
		return err
	}
	var cfg struct {
		Objectives []string `json:"objectives"`
	}
	_ = json.Unmarshal(st.Config, &cfg)
	objective := func(i int) string {
		if i < len(cfg.Objectives) && cfg.Objectives[i] != "" {
			return cfg.Objectives[i]
		}
		if i == 0 {
			return "objective"
		}
		return fmt.Sprintf("objective_%d", i)
	}
	trials, err := m.src.Trials.ListTrials(ctx, st.ID)
	if err != nil {
		return err
	}
	counts := map[store.TrialState]int{}
	for _, t := range trials {
		counts[t.State]++
		child, err := m.ensureRun(ctx, runSpec{key: fmt.Sprintf("study/%s/trial/%d", st.ID, t.Number), name: fmt.Sprintf("trial-%d", t.Number),
			parent: parent, startMS: t.CreatedAt.UnixMilli(),
			tags:   []mlflow.KV{{Key: "orrery.kind", Value: "trial"}, {Key: "orrery.trial_number", Value: itoa(t.Number)}},
			params: flattenParams(t.Params)})
		if err != nil {
			return err
		}
		// Deterministic timestamps (the trial's creation plus the step, in
		// milliseconds), so a replay recognises every point.
		base := t.CreatedAt.UnixMilli()
		var points []mlflow.Metric
		var rec trialRecord
		if len(t.Intermediate) > 0 && json.Unmarshal(t.Intermediate, &rec) == nil {
			for _, s := range rec.Steps {
				for i, v := range s.Values {
					points = append(points, mlflow.Metric{Key: "intermediate_" + objective(i), Value: v, Timestamp: base + int64(s.Step), Step: int64(s.Step)})
				}
			}
		}
		var values []float64
		if t.State == store.TrialComplete && len(t.Values) > 0 && json.Unmarshal(t.Values, &values) == nil {
			for i, v := range values {
				points = append(points, mlflow.Metric{Key: objective(i), Value: v, Timestamp: t.UpdatedAt.UnixMilli()})
			}
		}
		tags := []mlflow.KV{{Key: "orrery.trial_state", Value: string(t.State)}}
		if t.Error != "" {
			tags = append(tags, mlflow.KV{Key: "orrery.error", Value: truncateTag(t.Error)})
		}
		if err := m.logMetrics(ctx, child, points, tags, true); err != nil {
			return err
		}
		if t.State.Finished() {
			if err := m.client.UpdateRun(ctx, child, trialStatus(t.State), t.UpdatedAt.UnixMilli()); err != nil {
				return err
			}
		}
	}
	ts := st.UpdatedAt.UnixMilli()
	summary := []mlflow.Metric{
		{Key: "trials", Value: float64(len(trials)), Timestamp: ts},
		{Key: "trials_complete", Value: float64(counts[store.TrialComplete]), Timestamp: ts},
		{Key: "trials_pruned", Value: float64(counts[store.TrialPruned]), Timestamp: ts},
		{Key: "trials_failed", Value: float64(counts[store.TrialFailed]), Timestamp: ts},
	}
	if err := m.logMetrics(ctx, parent, summary, []mlflow.KV{{Key: "orrery.status", Value: string(st.Status)}}, true); err != nil {
		return err
	}
	if err := m.client.UploadArtifact(ctx, exp, parent, "study/config.json", st.Config); err != nil {
		return err
	}
	if m.src.StudyAnalysis != nil {
		a, err := m.src.StudyAnalysis(ctx, st.ID)
		if err != nil {
			return fmt.Errorf("analysis of study %s: %w", st.ID, err)
		}
		if err := m.client.UploadArtifact(ctx, exp, parent, "study/analysis.json", a); err != nil {
			return err
		}
	}
	if err := m.uploadPrefix(ctx, exp, parent, "studies/"+st.ID+"/", "study", nil); err != nil {
		return err
	}
	return m.client.UpdateRun(ctx, parent, runStatus(st.Status), ts)
}

// evaluationResult is what the mirror reads of an evaluation job's Result.
type evaluationResult struct {
	Evaluation struct {
		EvaluationID        string                     `json:"evaluation_id"`
		ModelID             string                     `json:"model_id"`
		DataHash            string                     `json:"data_hash"`
		Split               string                     `json:"split"`
		Metrics             map[string]json.RawMessage `json:"metrics"`
		ConfidenceIntervals map[string]struct {
			Estimate, Lower, Upper, Confidence float64
		} `json:"confidence_intervals"`
		CrossValidation *struct {
			Folds []struct {
				Metrics map[string]json.RawMessage `json:"metrics"`
			} `json:"folds"`
			Summary map[string]struct {
				Mean float64 `json:"mean"`
				Std  float64 `json:"std"`
			} `json:"summary"`
		} `json:"cross_validation"`
	} `json:"evaluation"`
}

// sendEvaluation mirrors an evaluation job as a run: its metrics, each
// confidence interval as <metric>_ci_low/_ci_high, the cross-validation
// folds as steps of cv_<metric>, its report files, tagged with the model
// version it measured (and the version tagged with the run).
func (m *Mirror) sendEvaluation(ctx context.Context, e store.TrackingEntry, dedupe bool) error {
	var p subjectPayload
	if err := decodePayload(e, &p); err != nil {
		return err
	}
	job, err := m.src.Jobs.GetJob(ctx, p.ID)
	if err != nil {
		return err
	}
	if !job.Status.Terminal() {
		return fmt.Errorf("%w: evaluation job %s is %s", ErrNotReady, job.ID, job.Status)
	}
	var res evaluationResult
	if len(job.Result) > 0 {
		if err := json.Unmarshal(job.Result, &res); err != nil {
			return fmt.Errorf("%w: evaluation job %s result: %v", errUnknownKind, job.ID, err)
		}
	}
	ev := res.Evaluation
	modelID := ev.ModelID
	if modelID == "" {
		modelID = job.ModelID
	}
	tags := []mlflow.KV{{Key: "orrery.kind", Value: "evaluation"}, {Key: "orrery.job_id", Value: job.ID}}
	if modelID != "" {
		tags = append(tags, mlflow.KV{Key: "orrery.model_id", Value: modelID})
	}
	version, verr := m.modelVersionRef(ctx, modelID)
	if verr == nil {
		tags = append(tags, mlflow.KV{Key: "mlflow.registered_model", Value: version.Name}, mlflow.KV{Key: "mlflow.registered_model_version", Value: version.Version})
	}
	run, err := m.ensureRun(ctx, runSpec{key: "evaluation/" + job.ID, name: "evaluate-" + modelID, startMS: job.CreatedAt.UnixMilli(),
		tags: tags, params: flattenParams(job.Config)})
	if err != nil {
		return err
	}
	exp, err := m.experiment(ctx)
	if err != nil {
		return err
	}
	ts := job.UpdatedAt.UnixMilli()
	points := numericMetrics("", ev.Metrics, ts)
	for k, ci := range ev.ConfidenceIntervals {
		points = append(points, mlflow.Metric{Key: k + "_ci_low", Value: ci.Lower, Timestamp: ts},
			mlflow.Metric{Key: k + "_ci_high", Value: ci.Upper, Timestamp: ts})
	}
	if cv := ev.CrossValidation; cv != nil {
		for i, f := range cv.Folds {
			for _, pt := range numericMetrics("cv_", f.Metrics, ts) {
				pt.Step = int64(i)
				points = append(points, pt)
			}
		}
		for k, s := range cv.Summary {
			points = append(points, mlflow.Metric{Key: "cv_" + k + "_mean", Value: s.Mean, Timestamp: ts},
				mlflow.Metric{Key: "cv_" + k + "_std", Value: s.Std, Timestamp: ts})
		}
	}
	stTags := []mlflow.KV{{Key: "orrery.status", Value: string(job.Status)}}
	if ev.DataHash != "" {
		stTags = append(stTags, mlflow.KV{Key: "dataset.sha256", Value: ev.DataHash})
	}
	if err := m.logMetrics(ctx, run, points, stTags, dedupe); err != nil {
		return err
	}
	if ev.EvaluationID != "" {
		if err := m.uploadPrefix(ctx, exp, run, "evaluations/"+modelID+"/"+ev.EvaluationID+"/", "evaluation", nil); err != nil {
			return err
		}
	}
	if verr == nil {
		if err := m.client.SetModelVersionTag(ctx, version.Name, version.Version, "orrery.evaluation."+job.ID, run); err != nil {
			return err
		}
	}
	return m.client.UpdateRun(ctx, run, runStatus(job.Status), ts)
}

// registryAlias is the MLflow alias of an Orrery alias: the alias itself
// in the default environment, <alias>-<environment> in the others (MLflow
// aliases are per registered model, Orrery's per model name and
// environment).
func registryAlias(environment, alias string) string {
	if environment == "" || environment == store.DefaultEnvironment {
		return alias
	}
	return alias + "-" + strings.ToLower(environment)
}

func (m *Mirror) sendAlias(ctx context.Context, e store.TrackingEntry) error {
	var p aliasPayload
	if err := decodePayload(e, &p); err != nil {
		return err
	}
	alias := registryAlias(p.Environment, p.Alias)
	if p.ModelID == "" && e.Kind == kindAliasRemoved {
		return m.client.DeleteAlias(ctx, p.Name, alias)
	}
	v, err := m.modelVersionRef(ctx, p.ModelID)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: model %s has no MLflow model version yet", ErrNotReady, p.ModelID)
	}
	if err != nil {
		return err
	}
	if e.Kind == kindAlias {
		return m.client.SetAlias(ctx, v.Name, alias, v.Version)
	}
	cur, err := m.client.AliasVersion(ctx, v.Name, alias)
	if err != nil || cur != v.Version {
		return err // it names another version (moved since): leave it
	}
	return m.client.DeleteAlias(ctx, v.Name, alias)
}

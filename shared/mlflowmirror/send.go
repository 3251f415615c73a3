package mlflowmirror

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"

	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/tracking/mlflow"
)

// experiment returns the experiment's id, creating it once.
func (m *Mirror) experiment(ctx context.Context) (string, error) {
	m.mu.Lock()
	id := m.expID
	m.mu.Unlock()
	if id != "" {
		return id, nil
	}
	id, err := m.outbox.TrackingRef(ctx, experimentRef(m.opt.Experiment))
	if err == nil {
		m.mu.Lock()
		m.expID = id
		m.mu.Unlock()
		return id, nil
	}
	id, err = m.client.ExperimentID(ctx, m.opt.Experiment)
	if err != nil {
		return "", err
	}
	if err := m.outbox.PutTrackingRef(ctx, experimentRef(m.opt.Experiment), id); err != nil {
		return "", err
	}
	m.mu.Lock()
	m.expID = id
	m.mu.Unlock()
	return id, nil
}

// runSpec is a run to find or create.
type runSpec struct {
	key, name, parent string
	startMS           int64
	tags              []mlflow.KV
	params            []mlflow.KV
}

// ensureRun returns the run of spec.key: the one the refs name, else the
// one tagged orrery.key = key (an attempt created it but died before it
// stored the id), else a new one with spec's tags and params.
func (m *Mirror) ensureRun(ctx context.Context, spec runSpec) (string, error) {
	if id, err := m.outbox.TrackingRef(ctx, runRef(spec.key)); err == nil {
		return id, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	exp, err := m.experiment(ctx)
	if err != nil {
		return "", err
	}
	runs, err := m.client.SearchRunsByTag(ctx, exp, tagKey, spec.key)
	if err != nil {
		return "", err
	}
	var id string
	if len(runs) > 0 {
		id = runs[0].RunID
	} else {
		tags := append([]mlflow.KV{{Key: tagKey, Value: spec.key}}, spec.tags...)
		if id, err = m.client.CreateRun(ctx, exp, spec.name, spec.parent, spec.startMS, tags); err != nil {
			return "", err
		}
	}
	// Params logged again with the same values are accepted by MLflow, so
	// a run found by its tag gets them too (its creator may have died
	// before logging them).
	if err := m.client.LogBatch(ctx, id, nil, spec.params, nil); err != nil {
		return "", err
	}
	if err := m.outbox.PutTrackingRef(ctx, runRef(spec.key), id); err != nil {
		return "", err
	}
	return id, nil
}

// tagKey tags every run with the Orrery record it mirrors.
const tagKey = "orrery.key"

// logMetrics logs points, leaving out (dedupe) those whose (key, step,
// timestamp) the run's history already has. The histories read are kept
// for the rest of the drain pass (m.seen), so a replay of many epochs reads
// each metric's history once.
func (m *Mirror) logMetrics(ctx context.Context, runID string, points []mlflow.Metric, tags []mlflow.KV, dedupe bool) error {
	if dedupe && len(points) > 0 {
		kept := points[:0:0]
		for _, p := range points {
			seen, err := m.history(ctx, runID, p.Key)
			if err != nil {
				return err
			}
			if !seen[pointAt{p.Step, p.Timestamp}] {
				kept = append(kept, p)
			}
		}
		points = kept
	}
	if len(points) == 0 && len(tags) == 0 {
		return nil
	}
	if err := m.client.LogBatch(ctx, runID, points, nil, tags); err != nil {
		return err
	}
	for _, p := range points {
		if s := m.seen[runID+"\x00"+p.Key]; s != nil {
			s[pointAt{p.Step, p.Timestamp}] = true
		}
	}
	return nil
}

// pointAt identifies a metric point within one key's history.
type pointAt struct{ step, ts int64 }

// history returns the (step, timestamp) pairs of the run's key the server
// has, read once per drain pass.
func (m *Mirror) history(ctx context.Context, runID, key string) (map[pointAt]bool, error) {
	k := runID + "\x00" + key
	if s, ok := m.seen[k]; ok {
		return s, nil
	}
	hist, err := m.client.MetricHistory(ctx, runID, key)
	if err != nil {
		return nil, err
	}
	s := make(map[pointAt]bool, len(hist))
	for _, h := range hist {
		s[pointAt{h.Step, h.Timestamp}] = true
	}
	if m.seen == nil {
		m.seen = map[string]map[pointAt]bool{}
	}
	m.seen[k] = s
	return s, nil
}

func decodePayload(e store.TrackingEntry, v any) error {
	if err := json.Unmarshal(e.Payload, v); err != nil {
		return fmt.Errorf("%w: entry %d: %v", errUnknownKind, e.Seq, err)
	}
	return nil
}

// jobConfig is what the mirror reads of a job's configuration.
type jobConfig struct {
	Name        string `json:"name"`
	DatasetPath string `json:"dataset_path"`
	ModelType   string `json:"model_type"`
	ModelID     string `json:"model_id"`
}

// trainingRun returns the run of a training job.
func (m *Mirror) trainingRun(ctx context.Context, job store.Job) (string, error) {
	var cfg jobConfig
	_ = json.Unmarshal(job.Config, &cfg)
	tags := []mlflow.KV{{Key: "orrery.kind", Value: "training"}, {Key: "orrery.job_id", Value: job.ID}}
	if cfg.Name != "" {
		tags = append(tags, mlflow.KV{Key: "orrery.model_name", Value: cfg.Name})
	}
	if rev := m.gitCommit(); rev != "" {
		tags = append(tags, mlflow.KV{Key: "mlflow.source.git.commit", Value: rev})
	}
	return m.ensureRun(ctx, runSpec{key: "training/" + job.ID, name: job.ID, startMS: job.CreatedAt.UnixMilli(),
		tags: tags, params: flattenParams(job.Config)})
}

func (m *Mirror) sendEpoch(ctx context.Context, e store.TrackingEntry, dedupe bool) error {
	var p epochPayload
	if err := decodePayload(e, &p); err != nil {
		return err
	}
	job, err := m.src.Jobs.GetJob(ctx, p.JobID)
	if err != nil {
		return err
	}
	run, err := m.trainingRun(ctx, job)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(p.Metrics))
	for k := range p.Metrics {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	points := make([]mlflow.Metric, 0, len(keys))
	for _, k := range keys {
		points = append(points, mlflow.Metric{Key: k, Value: p.Metrics[k], Timestamp: p.TimeMS, Step: int64(p.Step)})
	}
	return m.logMetrics(ctx, run, points, nil, dedupe)
}

// trainingResult is what the mirror reads of a training job's Result.
type trainingResult struct {
	ModelID  string                     `json:"model_id"`
	Metrics  map[string]json.RawMessage `json:"metrics"`
	Training struct {
		EpochsRun  int    `json:"epochs_run"`
		BestEpoch  int    `json:"best_epoch"`
		StopReason string `json:"stop_reason"`
		Backend    string `json:"backend"`
		Device     string `json:"device"`
	} `json:"training"`
	Threshold float64 `json:"decision_threshold"`
}

// runStatus maps a job status to MLflow's.
func runStatus(s store.Status) string {
	switch s {
	case store.Succeeded:
		return "FINISHED"
	case store.Cancelled:
		return "KILLED"
	}
	return "FAILED"
}

func (m *Mirror) sendTrainingEnd(ctx context.Context, e store.TrackingEntry, dedupe bool) error {
	var p subjectPayload
	if err := decodePayload(e, &p); err != nil {
		return err
	}
	job, err := m.src.Jobs.GetJob(ctx, p.ID)
	if err != nil {
		return err
	}
	if !job.Status.Terminal() {
		return fmt.Errorf("%w: training job %s is %s", ErrNotReady, job.ID, job.Status)
	}
	run, err := m.trainingRun(ctx, job)
	if err != nil {
		return err
	}
	exp, err := m.experiment(ctx)
	if err != nil {
		return err
	}
	ts := job.UpdatedAt.UnixMilli()
	tags := []mlflow.KV{{Key: "orrery.status", Value: string(job.Status)}}
	if job.Error != "" {
		tags = append(tags, mlflow.KV{Key: "orrery.error", Value: truncateTag(job.Error)})
	}
	var points []mlflow.Metric
	var res trainingResult
	if job.Status == store.Succeeded && len(job.Result) > 0 {
		if err := json.Unmarshal(job.Result, &res); err != nil {
			return fmt.Errorf("%w: training job %s result: %v", errUnknownKind, job.ID, err)
		}
		points = append(points, numericMetrics("", res.Metrics, ts)...)
		points = append(points, mlflow.Metric{Key: "epochs_run", Value: float64(res.Training.EpochsRun), Timestamp: ts},
			mlflow.Metric{Key: "best_epoch", Value: float64(res.Training.BestEpoch), Timestamp: ts},
			mlflow.Metric{Key: "decision_threshold", Value: res.Threshold, Timestamp: ts})
		backend := res.Training.Backend
		if backend == "" {
			backend = "gonum"
		}
		device := res.Training.Device
		if device == "" && backend == "gonum" {
			device = "cpu"
		}
		tags = append(tags, mlflow.KV{Key: "backend", Value: backend}, mlflow.KV{Key: "stop_reason", Value: res.Training.StopReason})
		if device != "" {
			tags = append(tags, mlflow.KV{Key: "device", Value: device})
		}
	}
	var model *store.Model
	if res.ModelID != "" {
		mod, err := m.src.Models.GetModel(ctx, res.ModelID)
		if err != nil {
			return err
		}
		model = &mod
		tags = append(tags, mlflow.KV{Key: "dataset.sha256", Value: mod.DataHash}, mlflow.KV{Key: "orrery.model_id", Value: mod.ID})
	}
	if err := m.logMetrics(ctx, run, points, tags, dedupe); err != nil {
		return err
	}
	// Reports: the confusion matrix and classification report as JSON of
	// their own, and every file the job wrote but its checkpoints.
	for _, name := range []string{"confusion_matrix", "classification_report"} {
		if raw, ok := res.Metrics[name]; ok {
			if err := m.client.UploadArtifact(ctx, exp, run, "metrics/"+name+".json", raw); err != nil {
				return err
			}
		}
	}
	if err := m.uploadPrefix(ctx, exp, run, "jobs/"+job.ID+"/", "orrery", skipCheckpoints); err != nil {
		return err
	}
	if m.opt.TrainingFiles != nil {
		files, err := m.opt.TrainingFiles(ctx, job.ID)
		if err != nil {
			return fmt.Errorf("report files of training job %s: %w", job.ID, err)
		}
		if err := m.uploadFiles(ctx, exp, run, "reports", files); err != nil {
			return err
		}
	}
	if model != nil {
		if err := m.logModel(ctx, exp, run, *model); err != nil {
			return err
		}
	}
	return m.client.UpdateRun(ctx, run, runStatus(job.Status), ts)
}

// skipCheckpoints leaves checkpoints (large, internal) and stage refs out.
func skipCheckpoints(rel string) bool {
	return strings.Contains(rel, "checkpoint") || strings.HasPrefix(rel, "refs/")
}

// uploadPrefix uploads every object under prefix to dir/<rest> of the
// run's artifacts, but those skip names.
func (m *Mirror) uploadPrefix(ctx context.Context, exp, run, prefix, dir string, skip func(rel string) bool) error {
	keys, err := m.src.Artifacts.List(ctx, prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		rel := strings.TrimPrefix(k, prefix)
		if skip != nil && skip(rel) {
			continue
		}
		b, err := m.read(ctx, k)
		if err != nil {
			return err
		}
		if err := m.client.UploadArtifact(ctx, exp, run, path.Join(dir, rel), b); err != nil {
			return err
		}
	}
	return nil
}

func (m *Mirror) read(ctx context.Context, key string) ([]byte, error) {
	rc, err := m.src.Artifacts.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return b, nil
}

// logModel uploads the model's files as the run's "model" artifacts and
// registers them as a version of the model's name (once: a version of
// this run found in the registry is reused).
func (m *Mirror) logModel(ctx context.Context, exp, run string, model store.Model) error {
	prefix := strings.TrimSuffix(model.ArtifactKey, "/") + "/"
	keys, err := m.src.Artifacts.List(ctx, prefix)
	if err != nil {
		return err
	}
	files := make(map[string][]byte, len(keys))
	for _, k := range keys {
		if files[strings.TrimPrefix(k, prefix)], err = m.read(ctx, k); err != nil {
			return err
		}
	}
	logged := files
	if m.opt.Model != nil {
		if err := m.uploadFiles(ctx, exp, run, "orrery_model", files); err != nil {
			return err
		}
		if logged, err = m.opt.Model(ctx, model, run, files); err != nil {
			return fmt.Errorf("model files of %s: %w", model.ID, err)
		}
	}
	if err := m.uploadFiles(ctx, exp, run, "model", logged); err != nil {
		return err
	}
	if _, err := m.modelVersionRef(ctx, model.ID); err == nil {
		return nil
	}
	versions, err := m.client.ModelVersions(ctx, model.Name)
	if err != nil {
		return err
	}
	version := ""
	for _, v := range versions {
		if v.RunID == run {
			version = v.Version
		}
	}
	if version == "" {
		if version, err = m.client.CreateModelVersion(ctx, model.Name, "runs:/"+run+"/model", run); err != nil {
			return err
		}
	}
	if err := m.client.SetModelVersionTag(ctx, model.Name, version, "orrery.model_id", model.ID); err != nil {
		return err
	}
	b, _ := json.Marshal(versionRef{Name: model.Name, Version: version})
	return m.outbox.PutTrackingRef(ctx, modelVersionRef(model.ID), string(b))
}

// uploadFiles uploads files under dir of the run's artifacts, by name.
func (m *Mirror) uploadFiles(ctx context.Context, exp, run, dir string, files map[string][]byte) error {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := m.client.UploadArtifact(ctx, exp, run, path.Join(dir, n), files[n]); err != nil {
			return err
		}
	}
	return nil
}

// numericMetrics returns the numbers of a metrics object (and of its
// custom_metrics) as points named prefix+key at step 0.
func numericMetrics(prefix string, metrics map[string]json.RawMessage, ts int64) []mlflow.Metric {
	var out []mlflow.Metric
	keys := make([]string, 0, len(metrics))
	for k := range metrics {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var v float64
		if err := json.Unmarshal(metrics[k], &v); err == nil {
			out = append(out, mlflow.Metric{Key: prefix + k, Value: v, Timestamp: ts})
			continue
		}
		if k == "custom_metrics" {
			var custom map[string]json.RawMessage
			if json.Unmarshal(metrics[k], &custom) == nil {
				out = append(out, numericMetrics(prefix, custom, ts)...)
			}
		}
	}
	return out
}

// flattenParams turns a JSON object into params: nested objects as dotted
// keys, arrays and other values as their JSON text (strings unquoted). A
// value longer than MLflow's limit is left out (the whole configuration is
// an artifact of the run).
func flattenParams(raw json.RawMessage) []mlflow.KV {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return nil
	}
	var out []mlflow.KV
	var walk func(prefix string, o map[string]json.RawMessage)
	walk = func(prefix string, o map[string]json.RawMessage) {
		for k, v := range o {
			var sub map[string]json.RawMessage
			if json.Unmarshal(v, &sub) == nil && sub != nil {
				walk(prefix+k+".", sub)
				continue
			}
			var compact bytes.Buffer
			s := string(v)
			if json.Compact(&compact, v) == nil {
				s = compact.String()
			}
			var str string
			if json.Unmarshal(v, &str) == nil {
				s = str
			}
			if s == "null" || len(s) > mlflow.MaxParamLength {
				continue
			}
			out = append(out, mlflow.KV{Key: prefix + k, Value: s})
		}
	}
	walk("", obj)
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// truncateTag keeps a tag value within MLflow's 8000-character limit (the
// full text stays in Orrery's job record).
func truncateTag(s string) string {
	if len(s) > 5000 {
		return s[:5000] + "…"
	}
	return s
}

// gitCommit is the commit a training run is tagged with: Options.GitCommit,
// else the binary's VCS revision ("" unknown).
func (m *Mirror) gitCommit() string {
	if m.opt.GitCommit != "" {
		return m.opt.GitCommit
	}
	return vcsRevision()
}

// vcsRevision is the git commit the binary was built from ("" unknown).
func vcsRevision() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			return s.Value
		}
	}
	return ""
}

func itoa(i int) string { return strconv.Itoa(i) }

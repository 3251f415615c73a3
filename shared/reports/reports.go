package reports

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/deploymentjob"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/training"
	trainingreport "github.com/orrery-ml/orrery/shared/ml/training/report"
	"github.com/orrery-ml/orrery/shared/store"
)

// ErrBadKey means an artifact key that is not a clean relative path.
var ErrBadKey = fault.New(fault.Invalid, "reports: the artifact key must be a clean relative path (no '..', no leading '/')")

// ErrUnknownID means no job, study or deployment has the id.
var ErrUnknownID = fault.New(fault.NotFound, "reports: no job, study, evaluation or deployment has this id")

// DeploymentStatuses reads a deployment's status (deploymentjob.Service).
type DeploymentStatuses interface {
	// Status returns the deployment's status; store.ErrNotFound if there
	// is no such deployment.
	Status(ctx context.Context, id string) (deploymentjob.Status, error)
}

// Service serves the reports over the stores. Jobs and Artifacts are
// required; without Studies (zero) or Deployments (nil) those kinds are
// not found.
type Service struct {
	Jobs        store.JobStore
	Artifacts   store.ArtifactStore
	Studies     optimization.Stores
	Deployments DeploymentStatuses
}

var _ api.Reports = (*Service)(nil)

// reportFile is the name of a report in its folder.
const reportFile = "report.html"

// Report returns the HTML page of the resource of the kind with the id.
func (s *Service) Report(ctx context.Context, kind, id string) ([]byte, error) {
	switch kind {
	case api.ReportTraining:
		job, err := s.job(ctx, id, training.JobKindTraining)
		if err != nil {
			return nil, err
		}
		return s.trainingPage(ctx, job)
	case api.ReportEvaluation:
		dir, err := s.evaluationFolder(ctx, id)
		if err != nil {
			return nil, err
		}
		return s.read(ctx, path.Join(dir, reportFile), "evaluation "+id)
	case api.ReportOptimization:
		key, err := s.studyReport(ctx, id)
		if err != nil {
			return nil, err
		}
		return s.read(ctx, key, "study "+id)
	case api.ReportDeployment:
		if s.Deployments == nil {
			return nil, fmt.Errorf("deployment %s does not exist: %w", id, store.ErrNotFound)
		}
		st, err := s.Deployments.Status(ctx, id)
		if err != nil {
			return nil, err
		}
		return DeploymentPage(st)
	}
	return nil, fmt.Errorf("report of %s: unknown kind %q: %w", id, kind, store.ErrInvalid)
}

// Kind says what the id is: api.ReportTraining or ReportEvaluation for a
// job, ReportEvaluation for an evaluation's own id, ReportOptimization for
// a study, ReportDeployment for a deployment; ErrUnknownID if none.
func (s *Service) Kind(ctx context.Context, id string) (string, error) {
	job, err := s.Jobs.GetJob(ctx, id)
	switch {
	case err == nil && job.Kind == training.JobKindTraining:
		return api.ReportTraining, nil
	case err == nil && job.Kind == api.JobKindEvaluation:
		return api.ReportEvaluation, nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return "", fmt.Errorf("find %s: %w", id, err)
	}
	if s.Studies.Studies != nil {
		_, err := s.Studies.Studies.GetStudy(ctx, id)
		if err == nil {
			return api.ReportOptimization, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return "", fmt.Errorf("find %s: %w", id, err)
		}
	}
	if _, ok, err := s.evaluationByID(ctx, id); err != nil {
		return "", fmt.Errorf("find %s: %w", id, err)
	} else if ok {
		return api.ReportEvaluation, nil
	}
	if s.Deployments != nil {
		_, err := s.Deployments.Status(ctx, id)
		if err == nil {
			return api.ReportDeployment, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return "", fmt.Errorf("find %s: %w", id, err)
		}
	}
	return "", fmt.Errorf("find %s: %w", id, ErrUnknownID)
}

// Write makes sure the report of id is in the artifact store and returns
// its key: the stored report of a study or evaluation, a training job's or
// deployment's page rendered now and written under jobs/<id>/report.html
// or deployments/<id>/report.html.
func (s *Service) Write(ctx context.Context, id string) (string, error) {
	kind, err := s.Kind(ctx, id)
	if err != nil {
		return "", err
	}
	switch kind {
	case api.ReportOptimization:
		return s.studyReport(ctx, id)
	case api.ReportEvaluation:
		dir, err := s.evaluationFolder(ctx, id)
		if err != nil {
			return "", err
		}
		key := path.Join(dir, reportFile)
		if _, err := s.read(ctx, key, "evaluation "+id); err != nil {
			return "", err
		}
		return key, nil
	}
	page, err := s.Report(ctx, kind, id)
	if err != nil {
		return "", err
	}
	key := "deployments/" + id + "/" + reportFile
	if kind == api.ReportTraining {
		key = "jobs/" + id + "/" + reportFile
	}
	if err := s.Artifacts.Put(ctx, key, bytes.NewReader(page)); err != nil {
		return "", fmt.Errorf("write the report of %s: %w", id, err)
	}
	return key, nil
}

// Artifact returns the file under key in the folder of job, study or
// evaluation job id.
func (s *Service) Artifact(ctx context.Context, id, key string) (api.Document, error) {
	if key == "" || path.Clean(key) != key || strings.HasPrefix(key, "/") || key == ".." || strings.HasPrefix(key, "../") || strings.Contains(key, "\\") {
		return api.Document{}, fmt.Errorf("artifact %q of %s: %w", key, id, ErrBadKey)
	}
	dir, err := s.folder(ctx, id)
	if err != nil {
		return api.Document{}, err
	}
	b, err := s.read(ctx, path.Join(dir, key), id)
	if err != nil {
		return api.Document{}, err
	}
	return api.Document{ContentType: MediaType(key), Body: b}, nil
}

// folder is where the resource id keeps its artifacts.
func (s *Service) folder(ctx context.Context, id string) (string, error) {
	kind, err := s.Kind(ctx, id)
	if err != nil {
		return "", err
	}
	switch kind {
	case api.ReportTraining:
		return "jobs/" + id, nil
	case api.ReportOptimization:
		return "studies/" + id, nil
	case api.ReportEvaluation:
		return s.evaluationFolder(ctx, id)
	}
	return "", fmt.Errorf("deployment %s stores no artifacts: %w", id, store.ErrNotFound)
}

// MediaType is the media type of an artifact, by its extension.
func MediaType(key string) string {
	switch path.Ext(key) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".png":
		return "image/png"
	case ".svg":
		return "image/svg+xml"
	case ".json":
		return "application/json"
	case ".csv":
		return "text/csv; charset=utf-8"
	case ".txt", "":
		if path.Base(key) == "SHA256SUMS" || path.Ext(key) == ".txt" {
			return "text/plain; charset=utf-8"
		}
	}
	return "application/octet-stream"
}

// job returns the job id of the kind, or store.ErrNotFound naming it.
func (s *Service) job(ctx context.Context, id, kind string) (store.Job, error) {
	job, err := s.Jobs.GetJob(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && job.Kind != kind {
		return store.Job{}, fmt.Errorf("%s job %s does not exist: %w", kind, id, store.ErrNotFound)
	}
	if err != nil {
		return store.Job{}, fmt.Errorf("get %s job %s: %w", kind, id, err)
	}
	return job, nil
}

// evaluationFolder is the folder of the evaluation of evaluation job id,
// or of the evaluation id itself (`orrery evaluate` runs no job).
func (s *Service) evaluationFolder(ctx context.Context, id string) (string, error) {
	job, err := s.job(ctx, id, api.JobKindEvaluation)
	if err == nil {
		return evaluationDir(job)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	dir, ok, lerr := s.evaluationByID(ctx, id)
	if lerr != nil {
		return "", lerr
	}
	if !ok {
		return "", fmt.Errorf("evaluation %s does not exist: %w", id, store.ErrNotFound)
	}
	return dir, nil
}

// evaluationByID finds the folder evaluations/<model_id>/<id> of an
// evaluation by its id.
func (s *Service) evaluationByID(ctx context.Context, id string) (string, bool, error) {
	keys, err := s.Artifacts.List(ctx, "evaluations/")
	if err != nil {
		return "", false, fmt.Errorf("list evaluations: %w", err)
	}
	for _, k := range keys {
		if dir, file := path.Split(k); file == reportFile && path.Base(dir) == id {
			return path.Clean(dir), true, nil
		}
	}
	return "", false, nil
}

// evaluationDir is the folder of a finished evaluation job's evaluation.
func evaluationDir(job store.Job) (string, error) {
	var res struct {
		Evaluation struct {
			ModelID      string `json:"model_id"`
			EvaluationID string `json:"evaluation_id"`
		} `json:"evaluation"`
	}
	if len(job.Result) > 0 {
		if err := json.Unmarshal(job.Result, &res); err != nil {
			return "", fmt.Errorf("evaluation job %s: decode its result: %w", job.ID, err)
		}
	}
	e := res.Evaluation
	if job.Status != store.Succeeded || e.ModelID == "" || e.EvaluationID == "" {
		return "", fmt.Errorf("evaluation job %s has no report (status %s): %w", job.ID, job.Status, store.ErrNotFound)
	}
	return path.Join("evaluations", e.ModelID, e.EvaluationID), nil
}

// studyReport is the key of a finished study's report.
func (s *Service) studyReport(ctx context.Context, id string) (string, error) {
	if s.Studies.Studies == nil || s.Studies.Trials == nil {
		return "", fmt.Errorf("study %s does not exist: %w", id, store.ErrNotFound)
	}
	res, err := optimization.Results(ctx, s.Studies, id)
	if err != nil {
		return "", err
	}
	if res.ReportKey == "" {
		return "", fmt.Errorf("study %s has no report yet (status %s): %w", id, res.Status, store.ErrNotFound)
	}
	return res.ReportKey, nil
}

// read returns the object under key; what names the resource in errors.
func (s *Service) read(ctx context.Context, key, what string) ([]byte, error) {
	rc, err := s.Artifacts.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", what, key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", what, key, err)
	}
	return b, nil
}

// readJSON decodes the object under key into v; false if it is absent.
func (s *Service) readJSON(ctx context.Context, key string, v any) (bool, error) {
	b, err := s.read(ctx, key, key)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("decode %s: %w", key, err)
	}
	return true, nil
}

// trainingPage renders a training job's page from its record and what it
// has stored under jobs/<id>/.
func (s *Service) trainingPage(ctx context.Context, job store.Job) ([]byte, error) {
	in, err := s.trainingInput(ctx, job)
	if err != nil {
		return nil, err
	}
	return trainingreport.Render(in)
}

// TrainingFiles returns a training job's report page ("report.html") and
// each of its plots as a PNG ("plots/<name>.png": loss, validation,
// confusion_matrix, those the job has data for): what the MLflow mirror
// logs as the run's reports. store.ErrNotFound if there is no such
// training job.
func (s *Service) TrainingFiles(ctx context.Context, jobID string) (map[string][]byte, error) {
	job, err := s.job(ctx, jobID, training.JobKindTraining)
	if err != nil {
		return nil, err
	}
	in, err := s.trainingInput(ctx, job)
	if err != nil {
		return nil, err
	}
	page, err := trainingreport.Render(in)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{reportFile: page}
	figs, err := trainingreport.Figures(in)
	if err != nil {
		return nil, fmt.Errorf("plots of training job %s: %w", jobID, err)
	}
	for _, f := range figs {
		b, err := f.Figure.Encode("png")
		if err != nil {
			return nil, fmt.Errorf("plots of training job %s: %s.png: %w", jobID, f.Name, err)
		}
		files["plots/"+f.Name+".png"] = b
	}
	return files, nil
}

// trainingInput is what a training job's page shows, read from its folder.
func (s *Service) trainingInput(ctx context.Context, job store.Job) (trainingreport.Input, error) {
	in := trainingreport.Input{JobID: job.ID, Status: string(job.Status), Stage: job.Stage, Error: job.Error,
		ModelID: job.ModelID, ResumedFrom: job.ResumedFrom, CreatedAt: job.CreatedAt, UpdatedAt: job.UpdatedAt, Config: job.Config}
	dir := "jobs/" + job.ID + "/"
	var sum training.TrainingSummary
	ok, err := s.readJSON(ctx, dir+"training.json", &sum)
	if err != nil {
		return in, fmt.Errorf("training report of job %s: %w", job.ID, err)
	}
	if !ok {
		// A job still training has its history but no summary yet.
		ok, err = s.readJSON(ctx, dir+"history.json", &sum.History)
		if err != nil {
			return in, fmt.Errorf("training report of job %s: %w", job.ID, err)
		}
	}
	if ok {
		in.Summary = &sum
	}
	var m evaluation.EvaluationMetrics
	if ok, err := s.readJSON(ctx, dir+"metrics.json", &m); err != nil {
		return in, fmt.Errorf("training report of job %s: %w", job.ID, err)
	} else if ok {
		in.Metrics = &m
	}
	keys, err := s.Artifacts.List(ctx, dir)
	if err != nil {
		return in, fmt.Errorf("training report of job %s: list artifacts: %w", job.ID, err)
	}
	for _, k := range keys {
		if name := strings.TrimPrefix(k, dir); name != reportFile {
			in.Artifacts = append(in.Artifacts, name)
		}
	}
	return in, nil
}

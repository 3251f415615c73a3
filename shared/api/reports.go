package api

import (
	"context"
	"net/http"
	"sync"
)

// Report kinds: the resources that have an HTML page.
const (
	ReportTraining     = "training"
	ReportOptimization = "optimization"
	ReportEvaluation   = "evaluation"
	ReportDeployment   = "deployment"
)

// Document is an answer that is not JSON: an HTML report or a stored
// artifact, served with its media type.
type Document struct {
	ContentType string
	Body        []byte
}

// Reports serves each resource's HTML report and a job's stored artifacts.
// While the service has none, their routes answer 501.
type Reports interface {
	// Report returns the HTML page of the resource of the kind (ReportTraining,
	// ...) with the id; store.ErrNotFound if there is no such resource, or
	// it has no report yet (a study or evaluation that has not finished).
	Report(ctx context.Context, kind, id string) ([]byte, error)
	// Artifact returns the file stored under key in the folder of the job,
	// study or evaluation job id, with its media type; store.ErrNotFound if
	// either does not exist, an invalid-input error for a key that is not a
	// clean relative path.
	Artifact(ctx context.Context, id, key string) (Document, error)
}

// ReportURL is the path of the HTML report of a resource of the kind.
func ReportURL(kind, id string) string {
	switch kind {
	case ReportTraining:
		return "/ml/training/" + id + "/report"
	case ReportOptimization:
		return "/ml/optimization/" + id + "/report"
	case ReportEvaluation:
		return "/ml/evaluation/" + id + "/report"
	}
	return "/ml/deployment/" + id + "/report"
}

// ArtifactURL is the path of the artifact key of job id.
func ArtifactURL(id, key string) string { return "/ml/jobs/" + id + "/artifacts/" + key }

// Report returns the resource's HTML page, or answers ErrNotImplemented.
func (s *Service) Report(ctx context.Context, kind, param, id string) (Document, error) {
	if err := checkID(param, id); err != nil {
		return Document{}, err
	}
	if s.Reports == nil {
		return Document{}, notPlugged("the "+kind+" report", "the runtime has no report service")
	}
	page, err := s.Reports.Report(ctx, kind, id)
	if err != nil {
		return Document{}, err
	}
	return Document{ContentType: "text/html; charset=utf-8", Body: page}, nil
}

// Artifact returns a stored artifact of a job, or answers
// ErrNotImplemented.
func (s *Service) Artifact(ctx context.Context, id, key string) (Document, error) {
	if err := checkID("job_id", id); err != nil {
		return Document{}, err
	}
	if s.Reports == nil {
		return Document{}, notPlugged("artifacts", "the runtime has no report service")
	}
	return s.Reports.Artifact(ctx, id, key)
}

// reportRoute is GET .../{param}/report of a kind.
func reportRoute(kind, tag, param, operationID, summary, description string) route {
	path := ReportURL(kind, "{"+param+"}")
	return route{
		method: http.MethodGet, path: path, operationID: operationID, tag: tag,
		summary: summary, description: description + " Answers 501 where the runtime has no report service.",
		success: http.StatusOK, produces: "text/html", response: typeOf[string](),
		problems: []int{http.StatusNotFound, http.StatusNotImplemented},
		handle: func(ctx context.Context, s *Service, r *http.Request, _ []byte) (any, error) {
			return s.Report(ctx, kind, param, r.PathValue(param))
		},
	}
}

// reportRoutes serve the HTML reports and the artifacts.
var reportRoutes = sync.OnceValue(func() []route {
	return []route{
		reportRoute(ReportTraining, "training", "job_id", "getTrainingReport", "HTML report of a training job",
			"One self-contained page: the job's state, the test split's metrics, the learning curves and the confusion matrix (inlined PNGs), its configuration; drawn from what the job has stored so far."),
		reportRoute(ReportOptimization, "optimization", "job_id", "getOptimizationReport", "HTML report of an optimization study",
			"The study's report as written when it finished: best trial, importance, the history, intermediate-value, parallel-coordinate, slice, contour and importance plots, and why any is left out. 404 while the study runs."),
		reportRoute(ReportEvaluation, "evaluation", "job_id", "getEvaluationReport", "HTML report of an evaluation job",
			"The evaluation's report: metrics with confidence intervals, thresholds, calibration, cross-validation, and the ROC, precision-recall, confusion-matrix, calibration, threshold, score and fold plots. 404 until the job has succeeded."),
		reportRoute(ReportDeployment, "deployment", "deployment_id", "getDeploymentReport", "HTML report of a deployment",
			"The deployment's page: its state, traffic over time (an inlined PNG), the gates with their figures, the alarms and the timeline."),
		{
			method: http.MethodGet, path: "/ml/jobs/{job_id}/artifacts/{key...}", operationID: "getJobArtifact", tag: "artifacts",
			summary:     "A stored artifact of a job, study or evaluation job",
			description: "The file stored under key in the resource's folder (a training job's history.json, metrics.json, validation_report.json; a study's report.html and plots; an evaluation's report.html, evaluation.json and plots), with its media type. A key that is not a clean relative path is 400. Answers 501 where the runtime has no report service.",
			success:     http.StatusOK, produces: "*/*", response: typeOf[string](),
			problems: []int{http.StatusNotFound, http.StatusNotImplemented},
			handle: func(ctx context.Context, s *Service, r *http.Request, _ []byte) (any, error) {
				return s.Artifact(ctx, r.PathValue("job_id"), r.PathValue("key"))
			},
		},
	}
})

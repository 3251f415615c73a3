package api

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"sync"

	"github.com/orrery-ml/orrery/shared/ml/training"
)

// route is one operation of the API: how ServeMux matches it, how OpenAPI
// documents it, and the function that serves it. The route table is the one
// place both come from.
type route struct {
	method, path string
	operationID  string
	summary      string
	description  string
	tag          string
	// request is the body type (nil: the operation takes no body);
	// requestOptional marks a body that may be left out.
	request         reflect.Type
	requestOptional bool
	example         any
	// success is the status of a successful answer and response its type.
	success  int
	response reflect.Type
	// produces is the media type of a success that is not JSON (a
	// Document); empty: application/json.
	produces string
	// problems lists the error statuses the operation documents besides
	// those every operation may answer (400, 500).
	problems []int
	// query lists the query parameters the operation reads; headers the
	// response headers of its success (name -> description).
	query   []queryParam
	headers map[string]string
	// handle serves the operation: body is the request body (POST), already
	// limited in size and of an accepted media type.
	handle func(ctx context.Context, s *Service, r *http.Request, body []byte) (any, error)
}

// queryParam is a query parameter of an operation, for the document.
type queryParam struct {
	name, description string
	schema            Schema
	// required: the server refuses the request without it (400).
	required bool
}

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// trainingExample is the request example of POST /ml/training/start.
var trainingExample = sync.OnceValue(func() map[string]any {
	return map[string]any{
		"dataset_path": "htru2.csv", "target_column": "class", "positive_class": "1",
		"model_type": "mlp", "hidden_layers": []int{64, 32}, "epochs": 20, "learning_rate": 0.003,
		"early_stopping": map[string]any{"enabled": true, "metric": "val_auc_pr", "patience": 5},
	}
})

// routes is the API, in the order the OpenAPI document lists it; the model
// endpoints' operations (endpointRoutes) come last.
var routes = sync.OnceValue(func() []route {
	return append([]route{
		{
			method: http.MethodPost, path: "/ml/training/start", operationID: "startTraining", tag: "training",
			summary:     "Start a training job",
			description: "Stores a QUEUED training job for the TrainingConfig in the body and starts its execution: validate the data, preprocess, train, evaluate, register. Answers 202 with the job id and its status URL.",
			request:     typeOf[training.TrainingConfig](), example: trainingExample(),
			success: http.StatusAccepted, response: typeOf[Accepted](),
			problems: []int{http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
			handle: func(ctx context.Context, s *Service, _ *http.Request, body []byte) (any, error) {
				cfg, err := DecodeTrainingRequest(body)
				if err != nil {
					return nil, err
				}
				return s.StartTraining(ctx, cfg)
			},
		},
		{
			method: http.MethodGet, path: "/ml/training/{job_id}/status", operationID: "getTrainingStatus", tag: "training",
			summary:     "Status of a training job",
			description: "State (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED), stage, epoch, loss and validation metrics so far, ETA, the result once it succeeded, and links to the model and artifacts.",
			success:     http.StatusOK, response: typeOf[JobStatus](),
			problems: []int{http.StatusNotFound},
			handle: func(ctx context.Context, s *Service, r *http.Request, _ []byte) (any, error) {
				return s.trainingStatusJSON(ctx, r.PathValue("job_id"))
			},
		},
		{
			method: http.MethodPost, path: "/ml/training/{job_id}/cancel", operationID: "cancelTraining", tag: "training",
			summary:     "Cancel a training job",
			description: "Marks a QUEUED or RUNNING job CANCELLED by a conditional write and stops its execution; a job that has finished answers 409.",
			request:     typeOf[CancelRequest](), requestOptional: true, example: map[string]any{"reason": "wrong target column"},
			success: http.StatusOK, response: typeOf[JobStatus](),
			problems: []int{http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
			handle: func(ctx context.Context, s *Service, r *http.Request, body []byte) (any, error) {
				req, err := DecodeCancelRequest(body)
				if err != nil {
					return nil, err
				}
				return s.CancelTraining(ctx, r.PathValue("job_id"), req)
			},
		},
		{
			method: http.MethodPost, path: "/ml/optimization/start", operationID: "startOptimization", tag: "optimization",
			summary:     "Start a hyperparameter optimization study",
			description: "Validates the request strictly, stores the study and starts it through the `optimization` state machine; the answer's status_url is the study's results. Answers 501 where the optimization service is not part of the build.",
			request:     typeOf[OptimizationRequest](),
			example: map[string]any{
				"base_config": map[string]any{"dataset_path": "htru2.csv", "target_column": "class", "positive_class": "1", "epochs": 20},
				"search_space": []map[string]any{
					{"name": "learning_rate", "kind": "float", "low": 1e-4, "high": 1e-1, "log": true},
					{"name": "hidden_layers", "kind": "categorical", "choices": []any{[]int{32}, []int{64, 32}}},
				},
				"strategy": "bayesian", "budget": map[string]any{"max_trials": 30, "max_parallel": 2}, "pruner": "asha",
			},
			success: http.StatusAccepted, response: typeOf[Accepted](),
			problems: []int{http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity, http.StatusNotImplemented},
			handle: func(ctx context.Context, s *Service, _ *http.Request, body []byte) (any, error) {
				req, err := DecodeOptimizationRequest(body)
				if err != nil {
					return nil, err
				}
				return s.StartOptimization(ctx, req)
			},
		},
		{
			method: http.MethodGet, path: "/ml/optimization/{job_id}/results", operationID: "getOptimizationResults", tag: "optimization",
			summary:     "Results of an optimization study",
			description: "The study's status, spec, trials (params, state, values, intermediate values), best trial (or Pareto front), analysis (parameter importance, best so far) and a link to the HTML report once the study has finished. Answers 501 where the optimization service is not part of the build.",
			success:     http.StatusOK, response: typeOf[json.RawMessage](),
			problems: []int{http.StatusNotFound, http.StatusNotImplemented},
			handle: func(ctx context.Context, s *Service, r *http.Request, _ []byte) (any, error) {
				return s.OptimizationResults(ctx, r.PathValue("job_id"))
			},
		},
		{
			method: http.MethodPost, path: "/ml/optimization/{job_id}/cancel", operationID: "cancelOptimization", tag: "optimization",
			summary:     "Cancel an optimization study",
			description: "Marks a RUNNING study CANCELLED by a conditional write (its finished trials stay) and stops its execution; answers the study's results. A study that has finished answers 409. Answers 501 where the optimization service is not part of the build.",
			request:     typeOf[CancelRequest](), requestOptional: true, example: map[string]any{"reason": "search space too narrow"},
			success: http.StatusOK, response: typeOf[json.RawMessage](),
			problems: []int{http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity, http.StatusServiceUnavailable, http.StatusNotImplemented},
			handle: func(ctx context.Context, s *Service, r *http.Request, body []byte) (any, error) {
				req, err := DecodeCancelRequest(body)
				if err != nil {
					return nil, err
				}
				return s.CancelOptimization(ctx, r.PathValue("job_id"), req)
			},
		},
		{
			method: http.MethodPost, path: "/ml/optimization/{job_id}/train-best", operationID: "trainBestTrial", tag: "optimization",
			summary:     "Train a model with a study's best trial",
			description: "Starts a training job whose TrainingConfig is the study's base configuration with the best trial's parameters (or those of `trial`), through the `training` state machine like any training; answers 202 with the job and its status URL. A study without a complete trial, or a trial that has not completed, answers 409. Answers 501 where the optimization service is not part of the build.",
			request:     typeOf[TrainBestRequest](), requestOptional: true, example: map[string]any{"trial": 3, "name": "pulsar-tuned"},
			success: http.StatusAccepted, response: typeOf[Accepted](),
			problems: []int{http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity, http.StatusServiceUnavailable, http.StatusNotImplemented},
			handle: func(ctx context.Context, s *Service, r *http.Request, body []byte) (any, error) {
				req, err := DecodeTrainBestRequest(body)
				if err != nil {
					return nil, err
				}
				return s.TrainBest(ctx, r.PathValue("job_id"), req)
			},
		},
		{
			method: http.MethodPost, path: "/ml/evaluation/evaluate", operationID: "evaluateModel", tag: "evaluation",
			summary:     "Evaluate a registered model",
			description: "Stores a QUEUED evaluation job and runs it in the background: metrics with bootstrap confidence intervals, threshold and calibration analysis, optional cross-validation of the model's training configuration, the report, and with compare_to a ranking of the models with paired significance tests. Answers 202 with the job id and its status URL (GET /ml/evaluation/{job_id}/status); GET /ml/evaluation/{model_id}/metrics then serves the result. A numeric decision_threshold evaluates a binary model at that operating point (the model itself is unchanged). Answers 501 where the build has no evaluation service.",
			request:     typeOf[EvaluationRequest](),
			example: map[string]any{"model_id": "mdl-20260301120000-1a2b3c4d", "cross_validation": map[string]any{"folds": 5},
				"bootstrap": map[string]any{"iterations": 1000, "confidence": 0.95}},
			success: http.StatusAccepted, response: typeOf[Accepted](),
			problems: []int{http.StatusNotFound, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity, http.StatusNotImplemented},
			handle: func(ctx context.Context, s *Service, _ *http.Request, body []byte) (any, error) {
				req, err := DecodeEvaluationRequest(body)
				if err != nil {
					return nil, err
				}
				return s.Evaluate(ctx, req)
			},
		},
		{
			method: http.MethodGet, path: "/ml/evaluation/{model_id}/metrics", operationID: "getModelMetrics", tag: "evaluation",
			summary:     "Metrics of a registered model",
			description: "The metrics of the model's latest evaluation (source evaluation, the whole evaluation under evaluation); before any, the test-split metrics measured when it was trained (source registry).",
			success:     http.StatusOK, response: typeOf[ModelMetrics](),
			problems: []int{http.StatusNotFound},
			handle: func(ctx context.Context, s *Service, r *http.Request, _ []byte) (any, error) {
				return s.EvaluationMetrics(ctx, r.PathValue("model_id"))
			},
		},
		{
			method: http.MethodGet, path: "/ml/evaluation/{job_id}/status", operationID: "getEvaluationStatus", tag: "evaluation",
			summary:     "Status of an evaluation job",
			description: "State (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED), stage, and once it succeeded the result: the evaluation and, with compare_to, the comparison.",
			success:     http.StatusOK, response: typeOf[JobStatus](),
			problems: []int{http.StatusNotFound},
			handle: func(ctx context.Context, s *Service, r *http.Request, _ []byte) (any, error) {
				return s.EvaluationStatus(ctx, r.PathValue("job_id"))
			},
		},
		{
			method: http.MethodPost, path: "/ml/deployment/deploy", operationID: "deployModel", tag: "deployment",
			summary:     "Deploy a registered model to an endpoint",
			description: "Stores a PENDING deployment and starts the `deployment` state machine: the model validator's gates (artifact integrity, feature schema, metric floors, the champion comparison with the live model by DeLong and McNemar on the same frozen rows, smoke predictions, a p99 latency budget), a predict version bound to the model, the endpoint's traffic shifted all at once, as a canary or linearly while alarms are watched (error rate, p99 latency, schema violations, predicted positive rate, score PSI against the live version), then promotion, or a rollback. The first deployment of an endpoint goes all at once. Answers 202 with the deployment id and its status URL; 404 for an unknown model; 409 while another deployment holds the endpoint, naming it.",
			request:     typeOf[DeploymentRequest](),
			example: map[string]any{"model_id": "mdl-20260301120000-1a2b3c4d", "endpoint": "pulsars", "environment": "dev",
				"strategy": "canary", "canary_percent": 10, "bake_seconds": 300, "alarms": map[string]any{"score_psi": 0.2, "error_rate": 0.01},
				"gates": map[string]any{"compare_to_live": true, "alpha": 0.05}},
			success: http.StatusAccepted, response: typeOf[DeploymentAccepted](),
			problems: []int{http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType,
				http.StatusUnprocessableEntity, http.StatusNotImplemented, http.StatusServiceUnavailable},
			handle: func(ctx context.Context, s *Service, _ *http.Request, body []byte) (any, error) {
				req, err := DecodeDeploymentRequest(body)
				if err != nil {
					return nil, err
				}
				return s.Deploy(ctx, req)
			},
		},
		{
			method: http.MethodGet, path: "/ml/deployment/{deployment_id}/status", operationID: "getDeploymentStatus", tag: "deployment",
			summary:     "Status of a deployment",
			description: "status (PENDING, IN_PROGRESS, SUCCEEDED, FAILED, ROLLING_BACK, ROLLED_BACK), stage, traffic ({model_id: percent}), the plan and the bake's countdown, gates (each with its figures), alarms (each with its value and threshold), events (the timeline, alerts included) and the reason a deployment failed or rolled back.",
			success:     http.StatusOK, response: typeOf[json.RawMessage](),
			problems: []int{http.StatusNotFound, http.StatusNotImplemented},
			handle: func(ctx context.Context, s *Service, r *http.Request, _ []byte) (any, error) {
				return s.DeploymentStatus(ctx, r.PathValue("deployment_id"))
			},
		},
		{
			method: http.MethodPost, path: "/ml/deployment/{deployment_id}/rollback", operationID: "rollbackDeployment", tag: "deployment",
			summary:     "Roll a deployment back",
			description: "A PENDING or IN_PROGRESS deployment returns all traffic to the previous version at its next alarm check (kind running); the endpoint's promoted deployment is undone by a new deployment of its previous model, all at once (kind redeploy, with its id). A deployment that failed, rolled back or was superseded answers 409 saying why.",
			request:     typeOf[RollbackRequest](), requestOptional: true, example: map[string]any{"reason": "complaints from the survey team"},
			success: http.StatusAccepted, response: typeOf[DeploymentRollback](),
			problems: []int{http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType,
				http.StatusUnprocessableEntity, http.StatusNotImplemented, http.StatusServiceUnavailable},
			handle: func(ctx context.Context, s *Service, r *http.Request, body []byte) (any, error) {
				req, err := DecodeRollbackRequest(body)
				if err != nil {
					return nil, err
				}
				return s.RollbackDeployment(ctx, r.PathValue("deployment_id"), req)
			},
		},
		{
			method: http.MethodGet, path: "/ml/models", operationID: "listModels", tag: "models",
			summary: "Registered models, newest first",
			success: http.StatusOK, response: typeOf[ModelList](),
			handle: func(ctx context.Context, s *Service, _ *http.Request, _ []byte) (any, error) {
				return s.ListModels(ctx)
			},
		},
		{
			method: http.MethodGet, path: "/ml/models/{model_id}", operationID: "getModel", tag: "models",
			summary: "A registered model",
			success: http.StatusOK, response: typeOf[ModelInfo](),
			problems: []int{http.StatusNotFound},
			handle: func(ctx context.Context, s *Service, r *http.Request, _ []byte) (any, error) {
				return s.GetModel(ctx, r.PathValue("model_id"))
			},
		},
	}, append(append(reportRoutes(), retrainingRoutes()...), endpointRoutes()...)...)
})

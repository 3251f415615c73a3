package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/orrery-ml/orrery/functions/internal/lambdamain"
	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/awsclient/envconfig"
	"github.com/orrery-ml/orrery/shared/awsclient/lambdarest"
	"github.com/orrery-ml/orrery/shared/awsclient/sfnrest"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/deploymentjob"
	"github.com/orrery-ml/orrery/shared/deploymentjob/deploymentapi"
	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/evaluationjob/evaluationapi"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/mlflowmirror"
	"github.com/orrery-ml/orrery/shared/optimizationjob"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/sfnexec"
	"github.com/orrery-ml/orrery/shared/reports"
	"github.com/orrery-ml/orrery/shared/serving"
	"github.com/orrery-ml/orrery/shared/serving/lambdaalias"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
	"github.com/orrery-ml/orrery/shared/store/s3store"
	"github.com/orrery-ml/orrery/shared/tracking/mlflow"
)

// Config is the function's configuration, read from the environment
// variables named in shared/config.
type Config struct {
	JobsTable        string
	ModelsTable      string
	IdempotencyTable string
	ArtifactsBucket  string
	// DataRoots are the s3://bucket/prefix roots a dataset_path may point
	// into (default: the whole datasets bucket).
	DataRoots       []string
	StateMachineARN string
	// EvaluationStateMachineARN, when set, serves POST
	// /ml/evaluation/evaluate through the evaluation state machine (unset:
	// 501).
	EvaluationStateMachineARN string
	// OptimizationStateMachineARN, when set, serves POST
	// /ml/optimization/start and GET /ml/optimization/{job_id}/results
	// through the optimization state machine, with the studies in
	// StudiesTable (required with it); unset: 501.
	OptimizationStateMachineARN string
	StudiesTable                string
	// DeploymentStateMachineARN, when set, serves the deployment routes
	// through the deployment state machine, with the deployments in
	// DeploymentsTable and the environment's predict function
	// (PredictFunction, required with it); unset: 501.
	DeploymentStateMachineARN string
	DeploymentsTable          string
	PredictFunction           string
	Environment               string
	AlarmPrefix               string
	MaxBodyBytes              int64
	IdempotencyRetention      time.Duration
	// TrackingTable and TrackingURI, when both set (the MLflow mirror on),
	// add the mirroring state to job statuses and the MLflow links to
	// model records; Experiment is the mirror's experiment.
	TrackingTable string
	TrackingURI   string
	Experiment    string
	LogLevel      slog.Level
}

// FromEnv reads Config through getenv, naming every variable that is
// missing or malformed.
func FromEnv(getenv func(string) string) (Config, error) {
	r := config.Reader{Getenv: getenv}
	c := Config{
		JobsTable:                   r.Required(config.EnvJobsTable),
		ModelsTable:                 r.Required(config.EnvModelsTable),
		IdempotencyTable:            r.Required(config.EnvIdempotencyTable),
		ArtifactsBucket:             r.Required(config.EnvArtifactsBucket),
		StateMachineARN:             r.Required(config.EnvTrainingStateMachineARN),
		EvaluationStateMachineARN:   r.String(config.EnvEvaluationStateMachineARN, ""),
		OptimizationStateMachineARN: r.String(config.EnvOptimizationStateMachineARN, ""),
		StudiesTable:                r.String(config.EnvStudiesTable, ""),
		DeploymentStateMachineARN:   r.String(config.EnvDeploymentStateMachineARN, ""),
		DeploymentsTable:            r.String(config.EnvDeploymentsTable, ""),
		PredictFunction:             r.String(config.EnvPredictFunction, ""),
		Environment:                 r.String(config.EnvEnvironment, serving.Environments[0]),
		AlarmPrefix:                 r.String(config.EnvAlarmPrefix, ""),
		MaxBodyBytes:                r.Int(config.EnvMaxBodyBytes, api.DefaultMaxBodyBytes, 1024, 6<<20),
		IdempotencyRetention:        r.Duration(config.EnvIdempotencyRetention, api.DefaultIdempotencyRetention),
		TrackingTable:               r.String(config.EnvTrackingTable, ""),
		TrackingURI:                 r.String(config.EnvMLflowTrackingURI, ""),
		Experiment:                  r.String(config.EnvMLflowExperiment, ""),
		LogLevel:                    r.LogLevel(config.EnvLogLevel),
	}
	if (c.TrackingTable == "") != (c.TrackingURI == "") {
		r.Fail(fmt.Errorf("%s and %s: both or neither: %w", config.EnvTrackingTable, config.EnvMLflowTrackingURI, config.ErrMissing))
	}
	datasets := r.String(config.EnvDatasetsBucket, "")
	var def []string
	if datasets != "" {
		def = []string{"s3://" + datasets + "/"}
	}
	c.DataRoots = r.List(config.EnvDataRoots, def)
	if len(c.DataRoots) == 0 {
		r.Fail(fmt.Errorf("%s or %s: one is required, so that dataset_path can point somewhere: %w",
			config.EnvDataRoots, config.EnvDatasetsBucket, config.ErrMissing))
	}
	if _, err := api.NewDataRoots(c.DataRoots...); err != nil {
		r.Fail(fmt.Errorf("%s: %w: %w", config.EnvDataRoots, err, config.ErrMalformed))
	}
	if err := serving.CheckEnvironment(c.Environment); err != nil {
		r.Fail(fmt.Errorf("%s: %v: %w", config.EnvEnvironment, err, config.ErrMalformed))
	}
	if c.OptimizationStateMachineARN != "" && c.StudiesTable == "" {
		r.Fail(fmt.Errorf("%s: required with %s: %w", config.EnvStudiesTable, config.EnvOptimizationStateMachineARN, config.ErrMissing))
	}
	if c.DeploymentStateMachineARN != "" {
		for _, v := range []struct{ name, value string }{{config.EnvDeploymentsTable, c.DeploymentsTable}, {config.EnvPredictFunction, c.PredictFunction}} {
			if v.value == "" {
				r.Fail(fmt.Errorf("%s: required with %s: %w", v.name, config.EnvDeploymentStateMachineARN, config.ErrMissing))
			}
		}
	}
	if c.AlarmPrefix == "" {
		c.AlarmPrefix = "orrery-" + c.Environment
	}
	return c, r.Err()
}

// newHandler builds the API over DynamoDB, S3 and Step Functions.
func newHandler(ctx context.Context, c Config, log *slog.Logger) (http.Handler, error) {
	cfg, err := envconfig.Load(os.Getenv)
	if err != nil {
		return nil, err
	}
	db, err := dynamostore.New(dynamodb.NewFromConfig(cfg),
		dynamostore.Tables{Jobs: c.JobsTable, Models: c.ModelsTable, Idempotency: c.IdempotencyTable, Studies: c.StudiesTable,
			Deployments: c.DeploymentsTable, Tracking: c.TrackingTable})
	if err != nil {
		return nil, err
	}
	artifacts, err := s3store.New(s3.NewFromConfig(cfg, envconfig.S3Options(cfg, os.Getenv)), c.ArtifactsBucket, "")
	if err != nil {
		return nil, err
	}
	exec, err := sfnexec.New(sfnrest.New(cfg, os.Getenv), map[pipeline.Machine]string{
		pipeline.MachineTraining:     c.StateMachineARN,
		pipeline.MachineEvaluation:   c.EvaluationStateMachineARN,
		pipeline.MachineOptimization: c.OptimizationStateMachineARN,
		pipeline.MachineDeployment:   c.DeploymentStateMachineARN,
	})
	if err != nil {
		return nil, err
	}
	flows := pipeline.Flows{Executions: exec}
	roots, err := api.NewDataRoots(c.DataRoots...)
	if err != nil {
		return nil, err
	}
	svc := &api.Service{Jobs: db, Models: db, Executions: flows, DataRoots: roots, Artifacts: artifacts, Retraining: db}
	rep := &reports.Service{Jobs: db, Artifacts: artifacts}
	svc.Reports = rep
	if c.TrackingURI != "" {
		// The mirror only reads its outbox here (the tracking function
		// sends); the server's address makes the links.
		client, err := mlflow.NewFromEnv(c.TrackingURI)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", config.EnvMLflowTrackingURI, err)
		}
		svc.Tracking = apiTracking{m: mlflowmirror.New(client, db, mlflowmirror.Sources{Jobs: db, Models: db, Artifacts: artifacts},
			mlflowmirror.Options{Experiment: c.Experiment, Log: log})}
	}
	if exec.Runs(pipeline.MachineEvaluation) {
		svc.Evaluations = &evaluationapi.Evaluations{
			Service:    &evaluationjob.Service{Jobs: db, Models: db, Artifacts: artifacts},
			Executions: flows,
		}
	}
	if exec.Runs(pipeline.MachineOptimization) {
		svc.Optimizations = &optimizationjob.Studies{
			Stores:     optimization.Stores{Studies: db, Trials: db, Artifacts: artifacts},
			Executions: flows,
		}
		rep.Studies = optimization.Stores{Studies: db, Trials: db, Artifacts: artifacts}
	}
	if c.PredictFunction != "" {
		if svc.Endpoints, err = lambdaalias.NewEndpoints(lambdarest.New(cfg, os.Getenv), c.PredictFunction, c.Environment); err != nil {
			return nil, err
		}
	}
	if exec.Runs(pipeline.MachineDeployment) {
		deployments := &deploymentjob.Service{
			Records: db, Endpoints: db, Models: db, Artifacts: artifacts, Aliases: db, Starter: flows, Log: log,
			Target: &deploymentjob.Target{
				Environments: []string{c.Environment},
				FunctionName: func(string) string { return c.PredictFunction },
				AlarmPrefix:  func(string) string { return c.AlarmPrefix },
			},
		}
		svc.Deployments = &deploymentapi.Deployments{Service: deployments}
		rep.Deployments = deployments
	}
	return api.NewHandler(svc, api.Options{Idempotency: db, MaxBodyBytes: c.MaxBodyBytes,
		IdempotencyRetention: c.IdempotencyRetention, Logger: log})
}

func main() {
	c, log := lambdamain.Configure(FromEnv, func(c Config) slog.Level { return c.LogLevel })
	// The clients and the router are built on the first request, out of the
	// INIT phase (lazyHandler); a configuration error still fails INIT.
	h := &lazyHandler{log: log, build: func(ctx context.Context) (http.Handler, error) { return newHandler(ctx, c, log) }}
	lambda.StartWithOptions(httpadapter.NewV2(h).ProxyWithContext, lambda.WithEnableSIGTERM())
}

package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/orrery-ml/orrery/functions/internal/lambdamain"
	"github.com/orrery-ml/orrery/shared/awsclient"
	"github.com/orrery-ml/orrery/shared/awsclient/cloudwatchclient"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/deploymentjob"
	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/ml/deployment"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/mlflowmirror"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
	"github.com/orrery-ml/orrery/shared/store/s3store"
	"github.com/orrery-ml/orrery/shared/store/s3store/s3table"
	"github.com/orrery-ml/orrery/shared/tracking"

	// The Parquet and FITS readers of dataset.Read and its writers.
	_ "github.com/orrery-ml/orrery/shared/dataset/parquetfits"
)

// Config is the function's configuration, read from the environment
// variables named in shared/config.
type Config struct {
	JobsTable       string
	ModelsTable     string
	StudiesTable    string
	ArtifactsBucket string
	// DeploymentsTable, PredictFunction, Environment and AlarmPrefix serve
	// the deployment machine's steps; without a predict function those
	// steps fail, saying so.
	DeploymentsTable string
	PredictFunction  string
	Environment      string
	AlarmPrefix      string
	// TrackingTable, when set, turns the MLflow mirror on: the deployment
	// steps' registry alias moves are queued in its outbox for the
	// tracking function.
	TrackingTable string
	LogLevel      slog.Level
}

// FromEnv reads Config through getenv, naming every variable that is
// missing or malformed.
func FromEnv(getenv func(string) string) (Config, error) {
	r := config.Reader{Getenv: getenv}
	c := Config{
		JobsTable:        r.Required(config.EnvJobsTable),
		ModelsTable:      r.Required(config.EnvModelsTable),
		StudiesTable:     r.Required(config.EnvStudiesTable),
		ArtifactsBucket:  r.Required(config.EnvArtifactsBucket),
		DeploymentsTable: r.String(config.EnvDeploymentsTable, ""),
		PredictFunction:  r.String(config.EnvPredictFunction, ""),
		Environment:      r.String(config.EnvEnvironment, store.DefaultEnvironment),
		AlarmPrefix:      r.String(config.EnvAlarmPrefix, ""),
		TrackingTable:    r.String(config.EnvTrackingTable, ""),
		LogLevel:         r.LogLevel(config.EnvLogLevel),
	}
	if c.AlarmPrefix == "" {
		c.AlarmPrefix = "orrery-" + c.Environment
	}
	if c.PredictFunction != "" && c.DeploymentsTable == "" {
		r.Fail(fmt.Errorf("%s: required with %s: %w", config.EnvDeploymentsTable, config.EnvPredictFunction, config.ErrMissing))
	}
	return c, r.Err()
}

// newHandler builds the handler over DynamoDB and S3: the training
// pipeline (data sets read from S3 by their s3://bucket/key paths), the
// optimization steps (studies and trials in the studies table, reports in
// the artifacts bucket) and the evaluation job's steps (models and
// reports in the artifacts bucket, data sets read from S3). The
// optimization steps never read a data set: the StepRunner
// has no Objective, which only trials (the trainer's container) use. With a
// predict function configured it also runs the deployment machine's steps
// over the deployments table, S3 and CloudWatch (the traffic the predict
// function's EMF metrics report).
func newHandler(ctx context.Context, c Config, log *slog.Logger) (*handler, error) {
	cfg, err := awsclient.Load(ctx, awsclient.Options{})
	if err != nil {
		return nil, err
	}
	db, err := dynamostore.New(dynamodb.NewFromConfig(cfg),
		dynamostore.Tables{Jobs: c.JobsTable, Models: c.ModelsTable, Studies: c.StudiesTable, Deployments: c.DeploymentsTable,
			Tracking: c.TrackingTable})
	if err != nil {
		return nil, err
	}
	client := s3.NewFromConfig(cfg, awsclient.S3Options(cfg))
	artifacts, err := s3store.New(client, c.ArtifactsBucket, "")
	if err != nil {
		return nil, err
	}
	p := &training.TrainingPipeline{Jobs: db, Models: db, Artifacts: artifacts,
		Recorder: tracking.Discard, ReadTable: s3table.TableReader(client)}
	p.Retry.OnRetry = func(op string, attempt int, err error) {
		log.Warn("retrying", "operation", op, "attempt", attempt, "error", err.Error())
	}
	steps := optimization.StepRunner{Stores: optimization.Stores{Studies: db, Trials: db, Artifacts: artifacts}}
	evals := &evaluationjob.Service{Jobs: db, Models: db, Artifacts: artifacts, ReadTable: s3table.TableReader(client)}
	h := &handler{stages: p, steps: steps, evaluations: evals, log: log}
	var aliases store.ModelAliases = db
	if c.TrackingTable != "" {
		aliases = mlflowmirror.Aliases{ModelAliases: db, Queue: mlflowmirror.NewQueue(db, log)}
	}
	if c.PredictFunction != "" {
		metrics := cloudWatchTraffic{client: cloudwatchclient.New(cfg)}
		h.deployments = &deploymentjob.Service{Records: db, Endpoints: db, Models: db, Artifacts: artifacts, Aliases: aliases,
			ReadTable: deployment.TableReader(s3table.TableReader(client)), Samples: deploymentjob.PredictSamples(),
			Traffic: metrics, Metrics: metrics, Log: log, Target: &deploymentjob.Target{
				Environments: []string{c.Environment},
				FunctionName: func(string) string { return c.PredictFunction },
				AlarmPrefix:  func(string) string { return c.AlarmPrefix },
			}}
	}
	return h, nil
}

func main() {
	lambdamain.Start(FromEnv, func(c Config) slog.Level { return c.LogLevel }, newHandler,
		func(h *handler) any { return h.Handle })
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/orrery-ml/orrery/functions/internal/lambdamain"
	"github.com/orrery-ml/orrery/shared/awsclient"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/ml/modelexport"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/mlflowmirror"
	"github.com/orrery-ml/orrery/shared/reports"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
	"github.com/orrery-ml/orrery/shared/store/s3store"
	"github.com/orrery-ml/orrery/shared/tracking/mlflow"
	"github.com/orrery-ml/orrery/shared/tracking/mlflow/mlflowaws"
)

// Config is the function's configuration, read from the environment
// variables named in shared/config.
type Config struct {
	TrackingTable   string
	JobsTable       string
	ModelsTable     string
	StudiesTable    string
	ArtifactsBucket string
	// TrackingURI is the MLflow server's URL or a SageMaker managed
	// server's ARN; Experiment the experiment ("" : the mirror's default).
	TrackingURI string
	Experiment  string
	// TokenSecret names the Secrets Manager secret holding the bearer
	// token; without it MLFLOW_TRACKING_TOKEN (or basic auth) is used.
	TokenSecret string
	// GitCommit is the deployed commit, tagged on training runs.
	GitCommit string
	LogLevel  slog.Level
}

// FromEnv reads Config through getenv, naming every variable that is
// missing or malformed.
func FromEnv(getenv func(string) string) (Config, error) {
	r := config.Reader{Getenv: getenv}
	c := Config{
		TrackingTable:   r.Required(config.EnvTrackingTable),
		JobsTable:       r.Required(config.EnvJobsTable),
		ModelsTable:     r.Required(config.EnvModelsTable),
		StudiesTable:    r.Required(config.EnvStudiesTable),
		ArtifactsBucket: r.Required(config.EnvArtifactsBucket),
		TrackingURI:     r.Required(config.EnvMLflowTrackingURI),
		Experiment:      r.String(config.EnvMLflowExperiment, ""),
		TokenSecret:     r.String(config.EnvMLflowTokenSecret, ""),
		GitCommit:       r.String(config.EnvGitCommit, ""),
		LogLevel:        r.LogLevel(config.EnvLogLevel),
	}
	return c, r.Err()
}

// newHandler builds the mirror over DynamoDB (outbox, jobs, models,
// studies and trials) and S3 (the files it logs), with the model logged in
// MLflow's format (modelexport.MLflowModel) and each training run's report
// page and plots (reports.Service).
func newHandler(ctx context.Context, c Config, log *slog.Logger) (*handler, error) {
	cfg, err := awsclient.Load(ctx, awsclient.Options{})
	if err != nil {
		return nil, err
	}
	if c.TokenSecret != "" {
		out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(c.TokenSecret)})
		if err != nil {
			return nil, fmt.Errorf("read the MLflow token from secret %s: %w", c.TokenSecret, err)
		}
		// The client reads the token where MLflow's own clients do.
		if err := os.Setenv(config.EnvMLflowToken, aws.ToString(out.SecretString)); err != nil {
			return nil, err
		}
	}
	client, err := mlflowaws.NewFromEnv(c.TrackingURI)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", config.EnvMLflowTrackingURI, err)
	}
	db, err := dynamostore.New(dynamodb.NewFromConfig(cfg), dynamostore.Tables{Jobs: c.JobsTable, Models: c.ModelsTable,
		Studies: c.StudiesTable, Tracking: c.TrackingTable})
	if err != nil {
		return nil, err
	}
	artifacts, err := s3store.New(s3.NewFromConfig(cfg, awsclient.S3Options(cfg)), c.ArtifactsBucket, "")
	if err != nil {
		return nil, err
	}
	return wire(client, db, artifacts, mlflowmirror.Options{Experiment: c.Experiment, GitCommit: c.GitCommit, Log: log}), nil
}

// wire builds the handler over the stores (main and the tests share it).
func wire(client *mlflow.Client, db *dynamostore.Store, artifacts store.ArtifactStore, opt mlflowmirror.Options) *handler {
	studies := optimization.Stores{Studies: db, Trials: db, Artifacts: artifacts}
	rep := &reports.Service{Jobs: db, Artifacts: artifacts}
	opt.Model, opt.TrainingFiles = mlflowModel, rep.TrainingFiles
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	m := mlflowmirror.New(client, db, mlflowmirror.Sources{
		Jobs: db, Models: db, Artifacts: artifacts, Studies: db, Trials: db,
		StudyAnalysis: func(ctx context.Context, id string) ([]byte, error) {
			_, _, s, err := optimization.LoadSpec(ctx, studies, id)
			if err != nil {
				return nil, err
			}
			return json.MarshalIndent(optimization.Analyze(s), "", "  ")
		},
	}, opt)
	return &handler{mirror: m, outbox: db, log: opt.Log}
}

// mlflowModel is the MLflow model directory (onnx and python_function
// flavours) of a registered model whose Orrery files are files.
func mlflowModel(_ context.Context, m store.Model, runID string, files map[string][]byte) (map[string][]byte, error) {
	dir, err := os.MkdirTemp("", "orrery-model-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, err
		}
	}
	model, err := nn.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", m.ID, err)
	}
	return modelexport.MLflowModel(model, modelexport.MLflowOptions{RunID: runID, ArtifactPath: "model"})
}

func main() {
	lambdamain.Start(FromEnv, func(c Config) slog.Level { return c.LogLevel }, newHandler,
		func(h *handler) any { return h.Handle })
}

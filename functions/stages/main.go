package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/orrery-ml/orrery/shared/awsclient"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
	"github.com/orrery-ml/orrery/shared/store/s3store"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// Config is the function's configuration, read from the environment
// variables named in shared/config.
type Config struct {
	JobsTable       string
	ModelsTable     string
	ArtifactsBucket string
	LogLevel        slog.Level
}

// FromEnv reads Config through getenv, naming every variable that is
// missing or malformed.
func FromEnv(getenv func(string) string) (Config, error) {
	r := config.Reader{Getenv: getenv}
	c := Config{
		JobsTable:       r.Required(config.EnvJobsTable),
		ModelsTable:     r.Required(config.EnvModelsTable),
		ArtifactsBucket: r.Required(config.EnvArtifactsBucket),
		LogLevel:        r.LogLevel(config.EnvLogLevel),
	}
	return c, r.Err()
}

// newPipeline builds the training pipeline over DynamoDB and S3; data sets
// are read from S3 by their s3://bucket/key paths.
func newPipeline(ctx context.Context, c Config, log *slog.Logger) (*training.TrainingPipeline, error) {
	cfg, err := awsclient.Load(ctx, awsclient.Options{})
	if err != nil {
		return nil, err
	}
	db, err := dynamostore.New(dynamodb.NewFromConfig(cfg, awsclient.DynamoDBOptions(cfg)),
		dynamostore.Tables{Jobs: c.JobsTable, Models: c.ModelsTable})
	if err != nil {
		return nil, err
	}
	client := s3.NewFromConfig(cfg, awsclient.S3Options(cfg))
	artifacts, err := s3store.New(client, c.ArtifactsBucket, "")
	if err != nil {
		return nil, err
	}
	p := &training.TrainingPipeline{Jobs: db, Models: db, Artifacts: artifacts,
		Recorder: tracking.Discard, ReadTable: s3store.TableReader(client)}
	p.Retry.OnRetry = func(op string, attempt int, err error) {
		log.Warn("retrying", "operation", op, "attempt", attempt, "error", err.Error())
	}
	return p, nil
}

func main() {
	c, err := FromEnv(os.Getenv)
	if err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: c.LogLevel}))
	p, err := newPipeline(context.Background(), c, log)
	if err != nil {
		log.Error("start", "error", fmt.Sprint(err))
		os.Exit(1)
	}
	h := &handler{stages: p, log: log}
	lambda.StartWithOptions(h.Handle, lambda.WithEnableSIGTERM())
}

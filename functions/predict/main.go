package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/orrery-ml/orrery/shared/awsclient"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/ml/modelstore"
	"github.com/orrery-ml/orrery/shared/serving"
	"github.com/orrery-ml/orrery/shared/serving/emf"
	"github.com/orrery-ml/orrery/shared/store/s3store"
)

// Config is the function's configuration, read from the environment
// variables named in shared/config.
type Config struct {
	ArtifactsBucket string
	// ModelID is the model this version serves; empty in the version the
	// serving stack creates, which answers that nothing is deployed.
	ModelID string
	// Environment is the environment the stack serves (default dev).
	Environment     string
	FunctionVersion string
	MaxBodyBytes    int64
	LogLevel        slog.Level
}

// FromEnv reads Config through getenv, naming every variable that is
// missing or malformed.
func FromEnv(getenv func(string) string) (Config, error) {
	r := config.Reader{Getenv: getenv}
	c := Config{
		ArtifactsBucket: r.Required(config.EnvArtifactsBucket),
		ModelID:         r.String(config.EnvModelID, ""),
		Environment:     r.String(config.EnvEnvironment, serving.Environments[0]),
		FunctionVersion: r.String(config.EnvFunctionVersion, ""),
		MaxBodyBytes:    r.Int(config.EnvMaxBodyBytes, serving.DefaultMaxBodyBytes, 1024, 6<<20),
		LogLevel:        r.LogLevel(config.EnvLogLevel),
	}
	if err := serving.CheckEnvironment(c.Environment); err != nil {
		r.Fail(fmt.Errorf("%s: %v: %w", config.EnvEnvironment, err, config.ErrMalformed))
	}
	return c, r.Err()
}

// modelsOver returns the model cache over the artifacts bucket, its S3
// client made on first use (a version with no model makes none).
func modelsOver(c Config) func() (*serving.Models, error) {
	return sync.OnceValues(func() (*serving.Models, error) {
		cfg, err := awsclient.Load(context.Background(), awsclient.Options{})
		if err != nil {
			return nil, err
		}
		artifacts, err := s3store.New(s3.NewFromConfig(cfg, awsclient.S3Options(cfg)), c.ArtifactsBucket, "")
		if err != nil {
			return nil, err
		}
		return &serving.Models{Store: modelstore.Store{Artifacts: artifacts}, MaxModels: 1,
			Limits: serving.Limits{MaxBodyBytes: c.MaxBodyBytes}}, nil
	})
}

func main() {
	c, err := FromEnv(os.Getenv)
	if err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: c.LogLevel}))
	h := &handler{cfg: c, models: modelsOver(c), metrics: &emf.Writer{W: os.Stdout}, log: log}
	h.warm() // cold start: the model loads while the runtime starts
	lambda.StartWithOptions(h.Handle, lambda.WithEnableSIGTERM())
}

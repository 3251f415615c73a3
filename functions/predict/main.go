package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/orrery-ml/orrery/functions/internal/lambdamain"
	"github.com/orrery-ml/orrery/shared/awsclient/envconfig"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/ml/modelstore"
	"github.com/orrery-ml/orrery/shared/serving"
	"github.com/orrery-ml/orrery/shared/serving/emf"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/s3store"
)

// Config is the function's configuration, read from the environment
// variables named in shared/config.
type Config struct {
	ArtifactsBucket string
	// ModelID is the model this version serves; empty in the version the
	// serving stack creates, which answers that nothing is deployed.
	ModelID string
	// ManifestSHA256 is the digest the registry kept of ModelID's manifest,
	// fixed beside it by the deployment flow; the model is refused when its
	// manifest no longer has it. Empty: no such check (a model registered
	// before digests were kept).
	ManifestSHA256 string
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
		ManifestSHA256:  r.String(config.EnvModelManifestSHA256, ""),
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

// record is the registry record of the model this version serves, as the
// deployment flow fixed it in the environment: its directory (models/<id>)
// and its manifest's digest.
func (c Config) record(_ context.Context, modelID string) (store.Model, error) {
	m := store.Model{ID: modelID, ArtifactKey: serving.ModelKey(modelID)}
	if modelID == c.ModelID {
		m.ManifestSHA256 = c.ManifestSHA256
	}
	return m, nil
}

// modelsOver returns the model cache over the artifacts bucket, its S3
// client made on first use (a version with no model makes none).
func modelsOver(c Config) func() (*serving.Models, error) {
	return sync.OnceValues(func() (*serving.Models, error) {
		cfg, err := envconfig.Load(os.Getenv)
		if err != nil {
			return nil, err
		}
		artifacts, err := s3store.New(s3.NewFromConfig(cfg, envconfig.S3Options(cfg, os.Getenv)), c.ArtifactsBucket, "")
		if err != nil {
			return nil, err
		}
		return &serving.Models{Store: modelstore.Store{Artifacts: artifacts}, MaxModels: 1, Record: c.record,
			Limits: serving.Limits{MaxBodyBytes: c.MaxBodyBytes}}, nil
	})
}

func main() {
	c, log := lambdamain.Configure(FromEnv, func(c Config) slog.Level { return c.LogLevel })
	h := &handler{cfg: c, models: modelsOver(c), metrics: &emf.Writer{W: os.Stdout}, log: log}
	h.warm() // cold start: the model loads while the runtime starts
	lambda.StartWithOptions(h.Handle, lambda.WithEnableSIGTERM())
}

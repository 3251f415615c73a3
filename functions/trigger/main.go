package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/orrery-ml/orrery/functions/internal/lambdamain"
	"github.com/orrery-ml/orrery/shared/awsclient"
	"github.com/orrery-ml/orrery/shared/awsclient/sfnrest"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/sfnexec"
	"github.com/orrery-ml/orrery/shared/retraining"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
)

// Config is the function's configuration.
type Config struct {
	JobsTable       string
	ModelsTable     string
	StateMachineARN string
	LogLevel        slog.Level
}

// FromEnv reads Config from the environment, naming every variable that is
// missing or malformed.
func FromEnv(getenv func(string) string) (Config, error) {
	r := config.Reader{Getenv: getenv}
	c := Config{
		JobsTable:       r.Required(config.EnvJobsTable),
		ModelsTable:     r.Required(config.EnvModelsTable),
		StateMachineARN: r.Required(config.EnvTrainingStateMachineARN),
		LogLevel:        r.LogLevel(config.EnvLogLevel),
	}
	return c, r.Err()
}

// newHandler wires the DynamoDB store and Step Functions executions into the
// retraining service.
func newHandler(ctx context.Context, c Config, log *slog.Logger) (*handler, error) {
	cfg, err := awsclient.Load(ctx, awsclient.Options{})
	if err != nil {
		return nil, err
	}
	db, err := dynamostore.New(dynamodb.NewFromConfig(cfg), dynamostore.Tables{Jobs: c.JobsTable, Models: c.ModelsTable})
	if err != nil {
		return nil, err
	}
	ex, err := sfnexec.New(sfnrest.New(cfg, os.Getenv), map[pipeline.Machine]string{pipeline.MachineTraining: c.StateMachineARN})
	if err != nil {
		return nil, err
	}
	return &handler{objects: &retraining.Service{Jobs: db, Policies: db, Executions: pipeline.Flows{Executions: ex}}, log: log}, nil
}

func main() {
	lambdamain.Start(FromEnv, func(c Config) slog.Level { return c.LogLevel }, newHandler,
		func(h *handler) any { return h.Handle })
}

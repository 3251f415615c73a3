package main

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/orrery-ml/orrery/functions/internal/lambdamain"
	"github.com/orrery-ml/orrery/shared/awsclient"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/jobevents"
	"github.com/orrery-ml/orrery/shared/mlflowmirror"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
)

// Config is the function's configuration.
type Config struct {
	JobsTable string
	// TrackingTable, when set, turns the MLflow mirror on: every ended
	// execution is queued in its outbox for the tracking function.
	TrackingTable string
	LogLevel      slog.Level
}

// FromEnv reads Config from the environment, naming every variable that is
// missing or malformed.
func FromEnv(getenv func(string) string) (Config, error) {
	r := config.Reader{Getenv: getenv}
	c := Config{JobsTable: r.Required(config.EnvJobsTable), TrackingTable: r.String(config.EnvTrackingTable, ""),
		LogLevel: r.LogLevel(config.EnvLogLevel)}
	return c, r.Err()
}

// newHandler wires the DynamoDB job store into the event service, and the
// MLflow mirror's queue when tracking is on.
func newHandler(ctx context.Context, c Config, log *slog.Logger) (*handler, error) {
	cfg, err := awsclient.Load(ctx, awsclient.Options{})
	if err != nil {
		return nil, err
	}
	db, err := dynamostore.New(dynamodb.NewFromConfig(cfg), dynamostore.Tables{Jobs: c.JobsTable, Tracking: c.TrackingTable})
	if err != nil {
		return nil, err
	}
	svc := &jobevents.Service{Jobs: db}
	if c.TrackingTable != "" {
		svc.Ended = mlflowmirror.NewQueue(db, log).ExecutionEnded
	}
	return &handler{changes: svc, log: log}, nil
}

func main() {
	lambdamain.Start(FromEnv, func(c Config) slog.Level { return c.LogLevel }, newHandler,
		func(h *handler) any { return h.Handle })
}

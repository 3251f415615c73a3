package lambdamain

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

// Configure reads a function's Config with fromEnv from the process
// environment and returns it with the JSON logger on stderr at the level
// level reads from it. A configuration error (every variable that is
// missing or malformed) is logged at the default level as "configuration"
// and ends the process with status 1.
func Configure[C any](fromEnv func(getenv func(string) string) (C, error), level func(C) slog.Level) (C, *slog.Logger) {
	c, err := fromEnv(os.Getenv)
	if err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	return c, slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level(c)}))
}

// Start configures the function as Configure does, builds its handler with
// build (in the INIT phase, with a background context) and starts the Lambda
// runtime with the function handle returns for it (any handler function
// lambda.Start accepts), SIGTERM handling on. A build error is logged as
// "start" and ends the process with status 1. Start does not return.
func Start[C, H any](fromEnv func(getenv func(string) string) (C, error), level func(C) slog.Level,
	build func(ctx context.Context, c C, log *slog.Logger) (H, error), handle func(H) any) {
	c, log := Configure(fromEnv, level)
	h, err := build(context.Background(), c, log)
	if err != nil {
		log.Error("start", "error", fmt.Sprint(err))
		os.Exit(1)
	}
	lambda.StartWithOptions(handle(h), lambda.WithEnableSIGTERM())
}

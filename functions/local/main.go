package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	// The Parquet and FITS readers of dataset.Read and its writers.
	_ "github.com/orrery-ml/orrery/shared/dataset/parquetfits"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runCLI(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/mlflowmirror"
)

const trackingUsage = `  orrery tracking sync [JOB_ID|STUDY_ID|MODEL_ID] [--json] [--home DIR]
                 send MLflow what it missed (the server was down or slow): every queued call, or one
                 job's, study's or model's; idempotent (no run or metric point twice). Needs MLFLOW_TRACKING_URI
                 or tracking_uri in the home's config.json
`

// errTrackingOff is returned by `orrery tracking` without a tracking server.
var errTrackingOff = fault.New(fault.Invalid, "tracking is off: set MLFLOW_TRACKING_URI (or tracking_uri in the home's config.json) to the MLflow tracking server")

func init() {
	commands["tracking"] = func(ctx context.Context, args []string, stdout, _ io.Writer) error {
		return cmdTracking(ctx, args, stdout)
	}
}

// syncResult is what `orrery tracking sync --json` prints.
type syncResult struct {
	Subject  string              `json:"subject,omitempty"`
	Sent     int                 `json:"sent"`
	Tracking *mlflowmirror.State `json:"tracking,omitempty"`
}

func cmdTracking(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "sync" {
		return usagef("tracking: want 'orrery tracking sync [JOB_ID]'")
	}
	fs := flag.NewFlagSet("tracking sync", flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	home := fs.String("home", "", "state directory")
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("tracking sync: want at most one JOB_ID")
	}
	rt, err := openRuntime(ctx, *home, nil)
	if err != nil {
		return err
	}
	defer rt.Close()
	if rt.Mirror == nil {
		return errTrackingOff
	}
	res := syncResult{}
	if len(pos) == 1 {
		res.Subject = pos[0]
	}
	res.Sent, err = rt.Mirror.Sync(ctx, res.Subject)
	if res.Subject != "" {
		if st, serr := rt.Mirror.Status(ctx, res.Subject); serr == nil {
			res.Tracking = &st
		}
	}
	if err != nil {
		return fmt.Errorf("tracking sync: %d sent before: %w", res.Sent, err)
	}
	if *jsonOut {
		return writeJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "sent %d queued MLflow calls to %s (experiment %s)\n", res.Sent, rt.Mirror.URI(), rt.Mirror.Experiment())
	if res.Tracking != nil {
		fmt.Fprintf(stdout, "%s: tracking %s", res.Subject, res.Tracking.State)
		if res.Tracking.RunURL != "" {
			fmt.Fprintf(stdout, ", run %s", res.Tracking.RunURL)
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

package progressbar_test

import (
	"context"
	"os"
	"time"

	"github.com/orrery-ml/orrery/shared/tracking"
	"github.com/orrery-ml/orrery/shared/tracking/progressbar"
)

// Off a terminal (here a pipe or file on os.Stdout) every progress event
// prints the bar once as a plain line.
func ExampleNew() {
	ctx := context.Background()
	start := time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)
	bars := progressbar.New(os.Stdout, progressbar.Options{})
	events := []tracking.Event{
		{Kind: tracking.StageStarted, Stage: "validate", Time: start},
		{Kind: tracking.StageFinished, Stage: "validate", Time: start.Add(200 * time.Millisecond)},
		{Kind: tracking.StageStarted, Stage: "train", Total: 3, Unit: "epoch", Time: start},
		{Kind: tracking.Progress, Stage: "train", Step: 1, Total: 3, Metrics: map[string]float64{"loss": 0.31, "val_auc_pr": 0.88}},
		{Kind: tracking.Progress, Stage: "train", Step: 2, Total: 3, Metrics: map[string]float64{"loss": 0.123, "val_auc_pr": 0.912}},
		{Kind: tracking.Log, Stage: "train", Message: "early stopping: val_auc_pr has not improved"},
		{Kind: tracking.StageFinished, Stage: "train", Time: start.Add(4 * time.Second)},
	}
	for _, e := range events {
		_ = bars.Record(ctx, e)
	}
	_ = bars.Close()
	// Output:
	// ✓ validate (0.2s)
	// train epoch 1/3  [======>---------------] 33 % ETA 0s  loss 0.31 val_auc_pr 0.88
	// train epoch 2/3  [==============>-------] 67 % ETA 0s  loss 0.123 val_auc_pr 0.912
	// train: early stopping: val_auc_pr has not improved
	// train epoch 2/3  [======================]  done in 4.0s  loss 0.123 val_auc_pr 0.912
}

func ExampleJSONLines() {
	rec := progressbar.JSONLines(os.Stdout)
	_ = rec.Record(context.Background(), tracking.Event{
		JobID: "job-1", Kind: tracking.Progress, Stage: "train", Step: 12, Total: 60, Unit: "epoch",
		Metrics: map[string]float64{"loss": 0.123}, Time: time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC),
	})
	// Output:
	// {"job_id":"job-1","kind":"progress","stage":"train","step":12,"total":60,"unit":"epoch","time":"2026-03-01T12:00:00Z","metrics":{"loss":0.123}}
}

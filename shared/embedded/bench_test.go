package embedded

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/orrery-ml/orrery/events"
	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/training"
)

// BenchmarkCrossValidateHTRU2 runs five-fold stratified cross-validation of
// the default MLP on the bundled HTRU2 data, with one worker and with one
// per core (at most five); `make bench-cv` prints the ratio of the two.
func BenchmarkCrossValidateHTRU2(b *testing.B) {
	path, err := events.WriteSample(filepath.Join(b.TempDir(), "samples"))
	if err != nil {
		b.Fatal(err)
	}
	table, err := dataset.Read(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	data, err := table.Select(dataset.SelectOptions{Target: events.SampleTarget, Positive: events.SamplePositive})
	if err != nil {
		b.Fatal(err)
	}
	for _, workers := range []int{1, min(runtime.GOMAXPROCS(0), 5)} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			cv := evaluation.CrossValidator{Splitter: evaluation.StratifiedKFold{K: 5, Seed: 42},
				Fitter: ConfigFitter{Config: training.Defaults()}, Workers: workers}
			for b.Loop() {
				cpu0, wall0 := cpuSeconds(), time.Now()
				res, err := cv.Validate(context.Background(), data, nil)
				if err != nil {
					b.Fatal(err)
				}
				// CPU seconds per wall second: how many cores the run kept
				// busy, whatever else the machine was doing.
				b.ReportMetric((cpuSeconds()-cpu0)/time.Since(wall0).Seconds(), "cores_busy")
				b.ReportMetric(res.Summary["auc_roc"].Mean, "auc_roc")
			}
		})
	}
}

// cpuSeconds returns the user and system CPU time of this process.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

package batchjob

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
)

// TestExitCodeByFaultCode: the exit status follows the error's fault code;
// a wrong start is ExitUsage whatever else it wraps.
func TestExitCodeByFaultCode(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, ExitOK},
		{"invalid config", fmt.Errorf("run job j: %w: epochs", training.ErrInvalidConfig), ExitApplication},
		{"invalid data set", fmt.Errorf("read x.csv: %w", dataset.ErrBadHeader), ExitApplication},
		{"invalid network spec", fmt.Errorf("build: %w", nn.ErrInvalidSpec), ExitApplication},
		{"unknown job", fmt.Errorf("run job j: %w", store.ErrNotFound), ExitApplication},
		{"unknown study", fmt.Errorf("trial 3 of hpo-1: %w", store.ErrNotFound), ExitApplication},
		{"conflict", fmt.Errorf("claim trial 3: %w", store.ErrConflict), ExitApplication},
		{"the task is gone", fmt.Errorf("train stage of job j: %w (%w)", ErrTaskGone, context.Canceled), ExitApplication},
		{"diverged", fmt.Errorf("train: %w", training.ErrDiverged), ExitApplication},
		{"data changed", fmt.Errorf("train: %w", training.ErrDataChanged), ExitApplication},
		{"a backend this build lacks", fmt.Errorf("run job j: %w: torch", ErrBackendUnavailable), ExitApplication},
		{"a missing local file", fmt.Errorf("read data.csv: %w", fs.ErrNotExist), ExitApplication},
		{"cancelled (SIGTERM, Spot reclaim)", fmt.Errorf("train: %w", context.Canceled), ExitRetryable},
		{"deadline", fmt.Errorf("put checkpoint: %w", context.DeadlineExceeded), ExitRetryable},
		{"unavailable", fmt.Errorf("cuda: %w", fault.New(fault.Unavailable, "test: no device")), ExitRetryable},
		{"unclassified (the network, a store)", errors.New("connection reset by peer"), ExitRetryable},
		{"a wrong start", fmt.Errorf("%w: %s is not set", ErrSpec, config.EnvStageRefs), ExitUsage},
		{"a wrong start wrapping another code", fmt.Errorf("%w: %w", ErrSpec, store.ErrNotFound), ExitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, ExitCode(tc.err))
			assert.Equal(t, tc.want == ExitRetryable, Retryable(tc.err))
		})
	}
}

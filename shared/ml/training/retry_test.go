package training_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
)

func TestPermanentByFaultCode(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"invalid", fmt.Errorf("read: %w", dataset.ErrRaggedRow), true},
		{"not found", fmt.Errorf("get job j: %w", store.ErrNotFound), true},
		{"conflict", fmt.Errorf("update job j: %w", store.ErrConflict), true},
		{"data changed", fmt.Errorf("train: %w", training.ErrDataChanged), true},
		{"cancelled", fmt.Errorf("put: %w", context.Canceled), true},
		{"a deadline leaves no time to retry", fmt.Errorf("put: %w", context.DeadlineExceeded), true},
		{"unavailable", fmt.Errorf("put: %w", fault.New(fault.Unavailable, "test: throttled")), false},
		{"unclassified", errors.New("connection reset by peer"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, training.Permanent(tc.err))
		})
	}
}

func TestRetryPolicyStopsOnPermanentErrors(t *testing.T) {
	calls := 0
	err := training.RetryPolicy{Attempts: 4}.Do(t.Context(), "get job j", func() error {
		calls++
		return fmt.Errorf("get job j: %w", store.ErrNotFound)
	})
	require.ErrorIs(t, err, store.ErrNotFound)
	assert.Equal(t, 1, calls, "a missing record is not retried")

	calls = 0
	err = training.RetryPolicy{Attempts: 3, Base: 1, Max: 1}.Do(t.Context(), "put artifact", func() error {
		calls++
		if calls < 3 {
			return errors.New("connection reset by peer")
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 3, calls, "an unclassified failure is retried")
}

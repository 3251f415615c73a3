package training

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/orrery-ml/orrery/shared/fault"
)

// RetryPolicy retries transient failures with exponential backoff and full
// jitter (the AWS Architecture Blog's "Exponential Backoff And Jitter"):
// attempt n waits a random duration in [0, min(Max, Base·2^n)).
type RetryPolicy struct {
	// Attempts is the total number of tries (default 4).
	Attempts int
	// Base is the first backoff ceiling (default 100ms); Max caps it
	// (default 5s).
	Base, Max time.Duration
	// OnRetry, when set, is told about each failure that will be retried.
	OnRetry func(op string, attempt int, err error)
}

// Permanent reports errors that retrying cannot fix: those whose fault code
// is neither Unavailable nor Internal (bad input, a conflict, a missing
// record, changed data, diverged training, cancellation), and a passed
// deadline, which leaves no time to retry in.
func Permanent(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	switch fault.CodeOf(err) {
	case fault.Unavailable, fault.Internal:
		return false
	}
	return true
}

// Do runs fn until it succeeds, fails permanently, or runs out of attempts.
// The last error is returned wrapped with op.
func (r RetryPolicy) Do(ctx context.Context, op string, fn func() error) error {
	attempts, base, max := r.Attempts, r.Base, r.Max
	if attempts <= 0 {
		attempts = 4
	}
	if base <= 0 {
		base = 100 * time.Millisecond
	}
	if max <= 0 {
		max = 5 * time.Second
	}
	var err error
	for n := range attempts {
		if err = fn(); err == nil {
			return nil
		}
		if Permanent(err) || n == attempts-1 {
			break
		}
		if r.OnRetry != nil {
			r.OnRetry(op, n+1, err)
		}
		ceil := min(max, base<<n)
		t := time.NewTimer(rand.N(ceil) + time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w (after: %v)", op, ctx.Err(), err)
		case <-t.C:
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

func (p *TrainingPipeline) retry(ctx context.Context, op string, fn func() error) error {
	return p.Retry.Do(ctx, op, fn)
}

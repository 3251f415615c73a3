package asl

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// withRetry runs work, applying the state's Retriers: the first Retrier
// whose ErrorEquals matches decides; it retries while its own count is
// below MaxAttempts, waiting IntervalSeconds·BackoffRate^count capped at
// MaxDelaySeconds, drawn uniformly from [0, that] under JitterStrategy FULL
// ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015).
func (r *run) withRetry(ctx context.Context, path string, st State, work func(context.Context, int) (any, error)) (any, error) {
	counts := make([]int, len(st.Retry))
	total := 0
	for {
		out, err := work(ctx, total)
		if err == nil {
			return out, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		e := AsError(err)
		retry := -1
		for i, rt := range st.Retry {
			if matches(rt.ErrorEquals, e.Name, st.Type == TypeTask) {
				retry = i
				break
			}
		}
		if retry < 0 {
			return nil, e
		}
		rt := st.Retry[retry]
		maxAttempts := 3
		if rt.MaxAttempts != nil {
			maxAttempts = *rt.MaxAttempts
		}
		if counts[retry] >= maxAttempts {
			return nil, e
		}
		if err := r.record(ctx, Event{Type: TaskRetried, Path: path, Error: e.Name, Cause: e.Cause, Retry: total + 1}); err != nil {
			return nil, err
		}
		if err := r.x.sleep(ctx, backoff(rt, counts[retry])); err != nil {
			return nil, err
		}
		counts[retry]++
		total++
	}
}

// backoff is the wait before retry number n+1 of a Retrier.
func backoff(rt Retrier, n int) time.Duration {
	interval := float64(rt.IntervalSeconds)
	if interval == 0 {
		interval = 1
	}
	rate := rt.BackoffRate
	if rate == 0 {
		rate = 2
	}
	secs := interval * math.Pow(rate, float64(n))
	if rt.MaxDelaySeconds > 0 {
		secs = math.Min(secs, float64(rt.MaxDelaySeconds))
	}
	secs = math.Min(secs, 365*24*3600)
	d := time.Duration(secs * float64(time.Second))
	if rt.JitterStrategy == "FULL" && d > 0 {
		d = time.Duration(rand.Int64N(int64(d) + 1))
	}
	return d
}

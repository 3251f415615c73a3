package asl

import (
	"context"
	"math"
	"sync"
)

// A Map state in DISTRIBUTED mode runs as a Map Run does on AWS
// ("Distributed Map failure threshold" in the Step Functions guide): an
// item that fails does not stop the others; the Map fails with
// States.ExceedToleratedFailureThreshold as soon as the failed items exceed
// ToleratedFailureCount, or their share of all items exceeds
// ToleratedFailurePercentage (either, when both are given; the *Path forms
// are read from the effective input), and the items still running are
// stopped. Without either, no failure is tolerated: the first failed item
// fails the Map with States.ExceedToleratedFailureThreshold, not with the
// item's error as an INLINE Map does. A Map Run that stays within its
// threshold succeeds; its result has null in the place of each failed item
// (a failed child execution has no output).

// failureThreshold bounds the failed items of a Map Run; nil fields are
// absent.
type failureThreshold struct {
	count   *int
	percent *float64
}

// exceeded reports whether failed failures among total items pass the
// threshold.
func (t failureThreshold) exceeded(failed, total int) bool {
	if t.count == nil && t.percent == nil {
		return failed > 0
	}
	if t.count != nil && failed > *t.count {
		return true
	}
	return t.percent != nil && float64(failed)*100 > *t.percent*float64(total)
}

// tolerance returns the failure threshold of a Map state, reading the *Path
// forms from its effective input, and whether the Map runs as a Map Run (it
// is in DISTRIBUTED mode).
func tolerance(name string, st State, input any, cobj *env) (failureThreshold, bool, error) {
	t := failureThreshold{count: st.ToleratedFailureCount, percent: st.ToleratedFailurePercentage}
	if st.ToleratedFailureCountPath != "" {
		v, ok, err := selectPath(st.ToleratedFailureCountPath, input, cobj)
		f, isNum := v.(float64)
		if err != nil || !ok || !isNum || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
			return t, false, Errorf(ErrorRuntime, "Map state %s: ToleratedFailureCountPath %s must select a non-negative integer, got %s",
				name, st.ToleratedFailureCountPath, typeName(v))
		}
		n := int(f)
		t.count = &n
	}
	if st.ToleratedFailurePercentagePath != "" {
		v, ok, err := selectPath(st.ToleratedFailurePercentagePath, input, cobj)
		f, isNum := v.(float64)
		if err != nil || !ok || !isNum || f < 0 || f > 100 {
			return t, false, Errorf(ErrorRuntime, "Map state %s: ToleratedFailurePercentagePath %s must select a number from 0 to 100, got %v",
				name, st.ToleratedFailurePercentagePath, v)
		}
		t.percent = &f
	}
	return t, distributed(st), nil
}

// mapRun runs n iterations, at most limit at once (0: all), and returns
// their results in order, null in the place of a failed item; when
// the failures exceed tol it stops the rest and fails with
// States.ExceedToleratedFailureThreshold.
func (r *run) mapRun(ctx context.Context, n, limit int, tol failureThreshold, job func(context.Context, int) (any, error)) (any, error) {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]any, n)
	var (
		mu       sync.Mutex
		failed   int
		exceeded bool
	)
	eachBounded(ctx, n, limit, func(i int) {
		out, err := job(ctx, i)
		if err == nil {
			results[i] = out
			return
		}
		if ctx.Err() != nil {
			return // stopped, not failed
		}
		mu.Lock()
		defer mu.Unlock()
		failed++
		if !exceeded && tol.exceeded(failed, n) {
			exceeded = true
			cancel()
		}
	})
	if err := parent.Err(); err != nil {
		return nil, err
	}
	if exceeded {
		return nil, Errorf(ErrorExceedToleratedFailureThreshold,
			"The specified tolerated failure threshold was exceeded: %d of %d items failed", failed, n)
	}
	return results, nil
}

package asl

import (
	"context"
	"sync"
	"time"
)

func (r *run) parallel(ctx context.Context, path string, st State, input any, cobj *env) (any, error) {
	if st.Parameters != nil {
		var err error
		if input, err = evalTemplate(st.Parameters, input, cobj, "Parameters"); err != nil {
			return nil, err
		}
	}
	outer := scopeOf(ctx)
	return r.fanOut(ctx, len(st.Branches), 0, func(ctx context.Context, i int) (any, error) {
		b := st.Branches[i]
		return r.machine(withScope(ctx, newScope(outer)), branchPath(path, i), b.StartAt, b.States, input)
	})
}

func (r *run) mapState(ctx context.Context, path, name string, st State, input any, cobj *env, entered time.Time) (any, error) {
	itemsPath := st.ItemsPath
	if itemsPath == "" {
		itemsPath = "$"
	}
	v, ok, err := selectPath(itemsPath, input, cobj)
	items, isArr := v.([]any)
	if err != nil || !ok || !isArr {
		return nil, Errorf(ErrorRuntime, "Map state %s: ItemsPath %s must select an array, got %s", name, itemsPath, typeName(v))
	}
	limit := st.MaxConcurrency
	if st.MaxConcurrencyPath != "" {
		v, ok, _ := selectPath(st.MaxConcurrencyPath, input, cobj)
		f, isNum := v.(float64)
		if !ok || !isNum || f < 0 {
			return nil, Errorf(ErrorRuntime, "Map state %s: MaxConcurrencyPath %s must select a non-negative number", name, st.MaxConcurrencyPath)
		}
		limit = int(f)
	}
	proc := st.ItemProcessor
	if proc == nil {
		proc = st.Iterator
	}
	selector := st.ItemSelector
	if selector == nil {
		selector = st.Parameters
	}
	// Each iteration has a variable scope of its own; a Distributed Map's
	// cannot read the Map's variables.
	outer := scopeOf(ctx)
	if distributed(st) {
		outer = nil
	}
	iteration := func(ctx context.Context, i int) (any, error) {
		item := items[i]
		if selector != nil {
			icobj := r.contextObject(ctx, name, TypeMap, entered, 0, map[string]any{"Index": float64(i), "Value": items[i]})
			var err error
			if item, err = evalTemplate(selector, input, icobj, "ItemSelector"); err != nil {
				return nil, err
			}
		}
		return r.machine(withScope(ctx, newScope(outer)), iterationPath(path, i), proc.StartAt, proc.States, item)
	}
	tol, asMapRun, err := tolerance(name, st, input, cobj)
	if err != nil {
		return nil, err
	}
	if asMapRun {
		return r.mapRun(ctx, len(items), limit, tol, iteration)
	}
	return r.fanOut(ctx, len(items), limit, iteration)
}

// fanOut runs n jobs, at most limit at once (0: all), and returns their
// results in order; the first failure cancels the rest and is returned.
func (r *run) fanOut(ctx context.Context, n, limit int, job func(context.Context, int) (any, error)) (any, error) {
	results := make([]any, n)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		once     sync.Once
		firstErr error
	)
	eachBounded(ctx, n, limit, func(i int) {
		out, err := job(ctx, i)
		if err != nil {
			once.Do(func() { firstErr = err; cancel() })
			return
		}
		results[i] = out
	})
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return results, nil
}

// eachBounded calls do(i) for every i in [0, n), each in a goroutine of its
// own, at most limit at once (0, or more than n: all), and returns once
// every call it started has returned. Once ctx is done it starts no more
// calls; the ones running are told by their own ctx.
func eachBounded(ctx context.Context, n, limit int, do func(i int)) {
	if limit <= 0 || limit > n {
		limit = n
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(limit, 1))
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			do(i)
		}(i)
	}
	wg.Wait()
}

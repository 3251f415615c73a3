package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// Handler runs a Task state's resource: it receives the state's effective
// input (after InputPath and Parameters) as JSON and returns its result as
// JSON. A handler that fails returns an error; an *Error (or one it wraps)
// names the failure for Retry and Catch, any other error is
// States.TaskFailed. Handlers of tasks with HeartbeatSeconds call Heartbeat
// with the ctx they were given while they work.
type Handler func(ctx context.Context, input json.RawMessage) (json.RawMessage, error)

// HandlerFunc adapts a typed function to a Handler: the input is decoded into
// In (unknown fields are refused) and the result encoded as JSON.
func HandlerFunc[In, Out any](fn func(ctx context.Context, in In) (Out, error)) Handler {
	return func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
		var in In
		if err := decodeStrict(raw, &in); err != nil {
			return nil, &Error{Name: ErrorTaskFailed, Cause: fmt.Sprintf("decode task input: %v", err)}
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, fmt.Errorf("encode task result: %w", err)
		}
		return b, nil
	}
}

// StateEvent tells an Observer that an execution entered or left a state.
type StateEvent struct {
	Execution string
	State     string
	Type      string
	// Phase is "entered", "succeeded" or "failed".
	Phase string
	// Err is set when Phase is "failed".
	Err  *Error
	Time time.Time
}

// Executor runs state machine definitions on this machine. Resources binds
// Task resource ARNs to handlers; a Task whose resource has no handler fails
// with States.TaskFailed. The zero Executor with Resources set is ready to
// use; Execute may be called concurrently.
type Executor struct {
	Resources map[string]Handler
	// Sleep waits for d or until ctx is done (default: a timer). Wait states
	// and retry back-offs go through it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock of the context object and Wait timestamps
	// (default time.Now).
	Now func() time.Time
	// Observer, when set, is told about every state entered and left; it
	// must be safe for concurrent use (Map and Parallel run states at once).
	Observer func(StateEvent)
	// Region and Account fill the ARNs of the context object (defaults
	// "local" and "000000000000").
	Region, Account string
}

// Execution names one run of a state machine.
type Execution struct {
	// Name is the execution's name (default: a UUID).
	Name string
	// StateMachine names the state machine (default "local").
	StateMachine string
	// Input is the execution's input JSON (default {}).
	Input json.RawMessage
}

// Execute runs def with the execution's input and returns its output. A
// failed execution returns an *Error carrying the Error and Cause the
// execution failed with; a cancelled ctx returns ctx's error.
func (x *Executor) Execute(ctx context.Context, def Definition, exec Execution) (json.RawMessage, error) {
	if err := def.Validate(); err != nil {
		return nil, err
	}
	if exec.Name == "" {
		id, _ := intrinsicUUID(nil)
		exec.Name = id.(string)
	}
	if exec.StateMachine == "" {
		exec.StateMachine = "local"
	}
	if len(exec.Input) == 0 {
		exec.Input = json.RawMessage("{}")
	}
	var input any
	if err := json.Unmarshal(exec.Input, &input); err != nil {
		return nil, fmt.Errorf("execution %s: input is not JSON: %w", exec.Name, err)
	}
	region, account := x.Region, x.Account
	if region == "" {
		region = "local"
	}
	if account == "" {
		account = "000000000000"
	}
	smARN := fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", region, account, exec.StateMachine)
	r := &run{x: x, execID: fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", region, account, exec.StateMachine, exec.Name)}
	r.ctxBase = map[string]any{
		"Execution": map[string]any{
			"Id": r.execID, "Name": exec.Name, "Input": input, "StartTime": x.now().UTC().Format(time.RFC3339Nano),
			"RoleArn": fmt.Sprintf("arn:aws:iam::%s:role/local", account), "RedriveCount": float64(0),
		},
		"StateMachine": map[string]any{"Id": smARN, "Name": exec.StateMachine},
	}
	runCtx := ctx
	if def.TimeoutSeconds > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeoutCause(ctx, time.Duration(def.TimeoutSeconds)*time.Second, errExecutionTimeout)
		defer cancel()
	}
	out, err := r.machine(runCtx, def.StartAt, def.States, input)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("execution %s: %w", exec.Name, ctx.Err())
		}
		if errors.Is(context.Cause(runCtx), errExecutionTimeout) {
			return nil, Errorf(ErrorTimeout, "execution %s exceeded TimeoutSeconds %d", exec.Name, def.TimeoutSeconds)
		}
		return nil, err
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("execution %s: encode output: %w", exec.Name, err)
	}
	return b, nil
}

var (
	errExecutionTimeout = errors.New("pipeline: execution timed out")
	errTaskTimeout      = errors.New("pipeline: task timed out")
	errHeartbeatTimeout = errors.New("pipeline: task heartbeat timed out")
)

func (x *Executor) now() time.Time {
	if x.Now != nil {
		return x.Now()
	}
	return time.Now()
}

func (x *Executor) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	if x.Sleep != nil {
		return x.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

type run struct {
	x       *Executor
	execID  string
	ctxBase map[string]any
}

// contextObject returns the context object ($$) for a state.
func (r *run) contextObject(state string, entered time.Time, retries int, item map[string]any) map[string]any {
	c := make(map[string]any, len(r.ctxBase)+2)
	for k, v := range r.ctxBase {
		c[k] = v
	}
	c["State"] = map[string]any{"Name": state, "EnteredTime": entered.UTC().Format(time.RFC3339Nano), "RetryCount": float64(retries)}
	if item != nil {
		c["Map"] = map[string]any{"Item": item}
	}
	return c
}

func (r *run) observe(name, typ, phase string, err *Error) {
	if r.x.Observer != nil {
		r.x.Observer(StateEvent{Execution: r.execID, State: name, Type: typ, Phase: phase, Err: err, Time: r.x.now()})
	}
}

// machine runs states from startAt until one ends the machine.
func (r *run) machine(ctx context.Context, startAt string, states map[string]State, input any) (any, error) {
	name := startAt
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		st := states[name]
		r.observe(name, st.Type, "entered", nil)
		out, next, err := r.state(ctx, name, st, input)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				r.observe(name, st.Type, "failed", e)
			}
			return nil, err
		}
		r.observe(name, st.Type, "succeeded", nil)
		if next == "" {
			return out, nil
		}
		name, input = next, out
	}
}

// state runs one state and returns its output and the next state's name
// ("" when the machine ends).
func (r *run) state(ctx context.Context, name string, st State, raw any) (any, string, error) {
	entered := r.x.now()
	cobj := r.contextObject(name, entered, 0, nil)
	if st.Type == TypeFail {
		return nil, "", r.fail(name, st, raw, cobj)
	}
	effective, err := applyInputPath(st.InputPath, raw, cobj)
	if err != nil {
		return nil, "", err
	}
	next := st.Next
	switch st.Type {
	case TypeSucceed:
		out, err := applyOutputPath(st.OutputPath, effective, cobj)
		return out, "", err
	case TypeChoice:
		for _, c := range st.Choices {
			ok, err := evalRule(c, effective, cobj)
			if err != nil {
				return nil, "", err
			}
			if ok {
				out, err := applyOutputPath(st.OutputPath, effective, cobj)
				return out, c.Next, err
			}
		}
		if st.Default == "" {
			return nil, "", Errorf(ErrorNoChoiceMatched, "no choice rule matched and no Default in state %s", name)
		}
		out, err := applyOutputPath(st.OutputPath, effective, cobj)
		return out, st.Default, err
	case TypeWait:
		if err := r.wait(ctx, name, st, effective, cobj); err != nil {
			return nil, "", err
		}
		out, err := applyOutputPath(st.OutputPath, effective, cobj)
		return out, next, err
	case TypePass:
		result := effective
		if st.Parameters != nil {
			if result, err = evalTemplate(st.Parameters, effective, cobj, "Parameters"); err != nil {
				return nil, "", err
			}
		}
		if len(st.Result) > 0 {
			if err := json.Unmarshal(st.Result, &result); err != nil {
				return nil, "", Errorf(ErrorRuntime, "state %s: Result is not JSON: %v", name, err)
			}
		}
		out, err := finish(st, raw, result, cobj, false)
		return out, next, err
	}
	// Task, Parallel and Map: the work may fail and be retried or caught.
	work := func(ctx context.Context, retries int) (any, error) {
		cobj := r.contextObject(name, entered, retries, nil)
		switch st.Type {
		case TypeTask:
			return r.task(ctx, name, st, effective, cobj)
		case TypeParallel:
			return r.parallel(ctx, st, effective, cobj)
		default:
			return r.mapState(ctx, name, st, effective, cobj, entered)
		}
	}
	result, err := r.withRetry(ctx, st, work)
	if err == nil {
		var out any
		if out, err = finish(st, raw, result, cobj, true); err == nil {
			return out, next, nil
		}
	}
	if ctx.Err() != nil {
		return nil, "", ctx.Err()
	}
	e := AsError(err)
	for _, c := range st.Catch {
		if !matches(c.ErrorEquals, e.Name, st.Type == TypeTask) {
			continue
		}
		errObj := map[string]any{"Error": e.Name, "Cause": e.Cause}
		out, perr := applyResultPath(c.ResultPath, raw, errObj)
		if perr != nil {
			return nil, "", perr
		}
		return out, c.Next, nil
	}
	return nil, "", e
}

// finish applies ResultSelector (when selector is true), ResultPath and
// OutputPath to a state's result.
func finish(st State, raw, result any, cobj map[string]any, selector bool) (any, error) {
	if selector && st.ResultSelector != nil {
		var err error
		if result, err = evalTemplate(st.ResultSelector, result, cobj, "ResultSelector"); err != nil {
			return nil, err
		}
	}
	out, err := applyResultPath(st.ResultPath, raw, result)
	if err != nil {
		return nil, err
	}
	return applyOutputPath(st.OutputPath, out, cobj)
}

func (r *run) fail(name string, st State, raw any, cobj map[string]any) error {
	e := &Error{Name: st.Error, Cause: st.Cause}
	for _, f := range []struct {
		path string
		dst  *string
	}{{st.ErrorPath, &e.Name}, {st.CausePath, &e.Cause}} {
		if f.path == "" {
			continue
		}
		var v any
		var err error
		if isIntrinsic(f.path) {
			v, err = evalExpression(f.path, raw, cobj)
		} else {
			var ok bool
			v, ok, err = selectPath(f.path, raw, cobj)
			if err == nil && !ok {
				err = fmt.Errorf("path %s selects nothing", f.path)
			}
		}
		if err != nil {
			return Errorf(ErrorRuntime, "Fail state %s: %v", name, err)
		}
		s, ok := v.(string)
		if !ok {
			return Errorf(ErrorRuntime, "Fail state %s: %s is a %s, not a string", name, f.path, typeName(v))
		}
		*f.dst = s
	}
	return e
}

func (r *run) wait(ctx context.Context, name string, st State, input any, cobj map[string]any) error {
	var d time.Duration
	switch {
	case st.Seconds != nil:
		d = time.Duration(*st.Seconds) * time.Second
	case st.SecondsPath != "":
		v, ok, err := selectPath(st.SecondsPath, input, cobj)
		f, isNum := v.(float64)
		if err != nil || !ok || !isNum || f < 0 || f != math.Trunc(f) {
			return Errorf(ErrorRuntime, "Wait state %s: SecondsPath %s must select a non-negative integer", name, st.SecondsPath)
		}
		d = time.Duration(f) * time.Second
	default:
		ts := st.Timestamp
		if st.TimestampPath != "" {
			v, ok, err := selectPath(st.TimestampPath, input, cobj)
			s, isStr := v.(string)
			if err != nil || !ok || !isStr {
				return Errorf(ErrorRuntime, "Wait state %s: TimestampPath %s must select a timestamp string", name, st.TimestampPath)
			}
			ts = s
		}
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return Errorf(ErrorRuntime, "Wait state %s: %q is not an RFC 3339 timestamp", name, ts)
		}
		d = t.Sub(r.x.now())
	}
	return r.x.sleep(ctx, d)
}

// withRetry runs work, applying the state's Retriers: the first Retrier
// whose ErrorEquals matches decides; it retries while its own count is
// below MaxAttempts, waiting IntervalSeconds·BackoffRate^count capped at
// MaxDelaySeconds, drawn uniformly from [0, that] under JitterStrategy FULL
// ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015).
func (r *run) withRetry(ctx context.Context, st State, work func(context.Context, int) (any, error)) (any, error) {
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

type heartbeatKey struct{}

// Heartbeat tells the executor that the task running under ctx is alive;
// a Task with HeartbeatSeconds fails with States.HeartbeatTimeout when its
// handler goes longer than that without calling it. Outside a task it does
// nothing.
func Heartbeat(ctx context.Context) {
	if ch, ok := ctx.Value(heartbeatKey{}).(chan struct{}); ok {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (r *run) task(ctx context.Context, name string, st State, effective any, cobj map[string]any) (any, error) {
	token, _ := intrinsicUUID(nil)
	cobj["Task"] = map[string]any{"Token": token}
	params := effective
	if st.Parameters != nil {
		var err error
		if params, err = evalTemplate(st.Parameters, effective, cobj, "Parameters"); err != nil {
			return nil, err
		}
	}
	h, ok := r.x.Resources[st.Resource]
	if !ok {
		return nil, Errorf(ErrorTaskFailed, "state %s: no handler bound to resource %s", name, st.Resource)
	}
	in, err := json.Marshal(params)
	if err != nil {
		return nil, Errorf(ErrorRuntime, "state %s: encode task input: %v", name, err)
	}
	timeout := st.TimeoutSeconds
	if st.TimeoutSecondsPath != "" {
		v, ok, _ := selectPath(st.TimeoutSecondsPath, effective, cobj)
		f, isNum := v.(float64)
		if !ok || !isNum || f <= 0 {
			return nil, Errorf(ErrorRuntime, "state %s: TimeoutSecondsPath %s must select a positive number", name, st.TimeoutSecondsPath)
		}
		timeout = int(f)
	}
	heartbeat := st.HeartbeatSeconds
	if st.HeartbeatSecondsPath != "" {
		v, ok, _ := selectPath(st.HeartbeatSecondsPath, effective, cobj)
		f, isNum := v.(float64)
		if !ok || !isNum || f <= 0 {
			return nil, Errorf(ErrorRuntime, "state %s: HeartbeatSecondsPath %s must select a positive number", name, st.HeartbeatSecondsPath)
		}
		heartbeat = int(f)
	}
	taskCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if timeout > 0 {
		var stop context.CancelFunc
		taskCtx, stop = context.WithTimeoutCause(taskCtx, time.Duration(timeout)*time.Second, errTaskTimeout)
		defer stop()
	}
	if heartbeat > 0 {
		beats := make(chan struct{}, 1)
		taskCtx = context.WithValue(taskCtx, heartbeatKey{}, beats)
		go watchHeartbeat(taskCtx, beats, time.Duration(heartbeat)*time.Second, cancel)
	}
	type reply struct {
		out json.RawMessage
		err error
	}
	done := make(chan reply, 1)
	go func() {
		out, err := h(taskCtx, in)
		done <- reply{out, err}
	}()
	var rep reply
	select {
	case rep = <-done:
	case <-taskCtx.Done():
		// The state ends now, as on AWS; a handler that ignores ctx is left
		// to finish on its own and its result is dropped.
	}
	switch cause := context.Cause(taskCtx); {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(cause, errTaskTimeout):
		return nil, Errorf(ErrorTimeout, "state %s: task exceeded TimeoutSeconds %d", name, timeout)
	case errors.Is(cause, errHeartbeatTimeout):
		return nil, Errorf(ErrorHeartbeatTimeout, "state %s: no heartbeat for %d seconds", name, heartbeat)
	}
	if rep.err != nil {
		return nil, AsError(rep.err)
	}
	var out any
	if len(rep.out) > 0 {
		if err := json.Unmarshal(rep.out, &out); err != nil {
			return nil, Errorf(ErrorRuntime, "state %s: task result is not JSON: %v", name, err)
		}
	}
	return out, nil
}

func watchHeartbeat(ctx context.Context, beats <-chan struct{}, every time.Duration, cancel context.CancelCauseFunc) {
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beats:
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
			t.Reset(every)
		case <-t.C:
			cancel(errHeartbeatTimeout)
			return
		}
	}
}

func (r *run) parallel(ctx context.Context, st State, input any, cobj map[string]any) (any, error) {
	if st.Parameters != nil {
		var err error
		if input, err = evalTemplate(st.Parameters, input, cobj, "Parameters"); err != nil {
			return nil, err
		}
	}
	return r.fanOut(ctx, len(st.Branches), 0, func(ctx context.Context, i int) (any, error) {
		b := st.Branches[i]
		return r.machine(ctx, b.StartAt, b.States, input)
	})
}

func (r *run) mapState(ctx context.Context, name string, st State, input any, cobj map[string]any, entered time.Time) (any, error) {
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
	return r.fanOut(ctx, len(items), limit, func(ctx context.Context, i int) (any, error) {
		item := items[i]
		if selector != nil {
			icobj := r.contextObject(name, entered, 0, map[string]any{"Index": float64(i), "Value": items[i]})
			var err error
			if item, err = evalTemplate(selector, input, icobj, "ItemSelector"); err != nil {
				return nil, err
			}
		}
		return r.machine(ctx, proc.StartAt, proc.States, item)
	})
}

// fanOut runs n jobs, at most limit at once (0: all), and returns their
// results in order; the first failure cancels the rest and is returned.
func (r *run) fanOut(ctx context.Context, n, limit int, job func(context.Context, int) (any, error)) (any, error) {
	if limit <= 0 || limit > n {
		limit = n
	}
	results := make([]any, n)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
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
			out, err := job(ctx, i)
			if err != nil {
				once.Do(func() { firstErr = err; cancel() })
				return
			}
			results[i] = out
		}(i)
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return results, nil
}

func applyInputPath(p Path, raw any, cobj map[string]any) (any, error) {
	switch {
	case p.Null:
		return map[string]any{}, nil
	case p.Expr == "" || p.Expr == "$":
		return raw, nil
	}
	v, ok, err := selectPath(p.Expr, raw, cobj)
	if err != nil || !ok {
		return nil, Errorf(ErrorRuntime, "Invalid path '%s' : No results for path: $['%s']", p.Expr, strings.TrimPrefix(p.Expr, "$."))
	}
	return v, nil
}

func applyOutputPath(p Path, out any, cobj map[string]any) (any, error) {
	switch {
	case p.Null:
		return map[string]any{}, nil
	case p.Expr == "" || p.Expr == "$":
		return out, nil
	}
	v, ok, err := selectPath(p.Expr, out, cobj)
	if err != nil || !ok {
		return nil, Errorf(ErrorRuntime, "Invalid path '%s' : No results for path: $['%s']", p.Expr, strings.TrimPrefix(p.Expr, "$."))
	}
	return v, nil
}

func applyResultPath(p Path, raw, result any) (any, error) {
	switch {
	case p.Null:
		return raw, nil
	case p.Expr == "" || p.Expr == "$":
		return result, nil
	}
	out, err := setPath(raw, p.Expr, result)
	if err != nil {
		return nil, Errorf(ErrorResultPathMatch, "ResultPath %s: %v", p.Expr, err)
	}
	return out, nil
}

// evalTemplate evaluates a payload template (Parameters, ResultSelector,
// ItemSelector): fields whose names end in ".$" are replaced by the value of
// their path or intrinsic function, under the name without the suffix.
func evalTemplate(tpl, input any, cobj map[string]any, field string) (any, error) {
	switch t := tpl.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, v := range t {
			if !strings.HasSuffix(k, ".$") {
				w, err := evalTemplate(v, input, cobj, field)
				if err != nil {
					return nil, err
				}
				out[k] = w
				continue
			}
			expr, ok := v.(string)
			if !ok {
				return nil, Errorf(ErrorRuntime, "%s field %s must be a path or an intrinsic function, got %s", field, k, typeName(v))
			}
			w, err := evalExpression(expr, input, cobj)
			if err != nil {
				return nil, err
			}
			out[strings.TrimSuffix(k, ".$")] = w
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, v := range t {
			w, err := evalTemplate(v, input, cobj, field)
			if err != nil {
				return nil, err
			}
			out[i] = w
		}
		return out, nil
	}
	return tpl, nil
}

// evalExpression evaluates the value of a ".$" field: an intrinsic function
// or a path.
func evalExpression(expr string, input any, cobj map[string]any) (any, error) {
	if isIntrinsic(expr) {
		call, err := parseIntrinsic(expr)
		if err != nil {
			return nil, Errorf(ErrorRuntime, "%v", err)
		}
		v, err := evalIntrinsic(call, input, cobj)
		if err != nil {
			// AWS (and moto) report a failing intrinsic function as
			// States.Runtime, not States.IntrinsicFailure.
			return nil, Errorf(ErrorRuntime, "%v", err)
		}
		return v, nil
	}
	v, ok, err := selectPath(expr, input, cobj)
	if err != nil {
		return nil, Errorf(ErrorRuntime, "%v", err)
	}
	if !ok {
		return nil, Errorf(ErrorRuntime, "The JSONPath %s could not be found in the input", expr)
	}
	return v, nil
}

func decodeStrict(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

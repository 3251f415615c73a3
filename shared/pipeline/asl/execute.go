package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

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
	// AfterFunc runs f once d has passed, unless the returned stop is called
	// first (stop reports whether it stopped f from running, as
	// time.Timer.Stop does); default time.AfterFunc. The timers of Task
	// states, TimeoutSeconds and HeartbeatSeconds, go through it, so a test
	// with a fake clock decides when they run out.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
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
		exec.Name = NewUUID()
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

func (x *Executor) afterFunc(d time.Duration, f func()) (stop func() bool) {
	if x.AfterFunc != nil {
		return x.AfterFunc(d, f)
	}
	return time.AfterFunc(d, f).Stop
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

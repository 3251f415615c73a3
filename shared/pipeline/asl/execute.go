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
	// History, when set, is what an earlier, interrupted run of this
	// execution recorded: Execute resumes it. Every state the history shows
	// exited is not run again — its recorded output is used and the
	// variables it assigned are assigned again — and the run goes on from
	// the states that had not ended (a Map whose iterations partly ended
	// runs only the others). The context object's start time and the
	// definition's TimeoutSeconds count from the first run.
	History []Event
	// Record, when set, is called with every history event, in order, before
	// the execution goes on (concurrently from Map iterations and Parallel
	// branches): an error from it stops the execution with that error, so
	// nothing runs that could not be recorded.
	Record func(ctx context.Context, e Event) error
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
	if err := checkPayload(input, "the execution input"); err != nil {
		return nil, fmt.Errorf("execution %s: %w", exec.Name, err)
	}
	exits, started, err := replayOf(exec.History)
	if err != nil {
		return nil, fmt.Errorf("execution %s: resume: %w", exec.Name, err)
	}
	if started.IsZero() {
		started = x.now()
	}
	region, account := x.Region, x.Account
	if region == "" {
		region = "local"
	}
	if account == "" {
		account = "000000000000"
	}
	smARN := fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", region, account, exec.StateMachine)
	r := &run{x: x, execID: fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", region, account, exec.StateMachine, exec.Name),
		name: exec.Name, rec: exec.Record, exits: exits}
	r.ctxBase = map[string]any{
		"Execution": map[string]any{
			"Id": r.execID, "Name": exec.Name, "Input": input, "StartTime": started.UTC().Format(time.RFC3339Nano),
			"RoleArn": fmt.Sprintf("arn:aws:iam::%s:role/local", account), "RedriveCount": float64(0),
		},
		"StateMachine": map[string]any{"Id": smARN, "Name": exec.StateMachine},
	}
	if len(exec.History) == 0 {
		if err := r.record(ctx, Event{Type: ExecutionStarted, Data: exec.Input}); err != nil {
			return nil, err
		}
	} else if err := r.record(ctx, Event{Type: ExecutionResumed}); err != nil {
		return nil, err
	}
	runCtx := withScope(ctx, newScope(nil))
	if def.TimeoutSeconds > 0 {
		var cancel context.CancelFunc
		deadline := started.Add(time.Duration(def.TimeoutSeconds) * time.Second)
		runCtx, cancel = context.WithDeadlineCause(runCtx, deadline, errExecutionTimeout)
		defer cancel()
	}
	out, err := r.machine(runCtx, "", def.StartAt, def.States, input)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("execution %s: %w", exec.Name, ctx.Err())
		}
		if errors.Is(context.Cause(runCtx), errExecutionTimeout) {
			err = Errorf(ErrorTimeout, "execution %s exceeded TimeoutSeconds %d", exec.Name, def.TimeoutSeconds)
		}
		var e *Error
		if errors.As(err, &e) {
			if rerr := r.record(ctx, Event{Type: ExecutionFailed, Error: e.Name, Cause: e.Cause}); rerr != nil {
				return nil, errors.Join(err, rerr)
			}
		}
		return nil, err
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("execution %s: encode output: %w", exec.Name, err)
	}
	if err := r.record(ctx, Event{Type: ExecutionSucceeded, Data: b}); err != nil {
		return nil, err
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
	name    string
	ctxBase map[string]any
	rec     func(context.Context, Event) error
	// exits are the states an earlier run saw end, by path.
	exits map[string]exit
}

// contextObject returns what the paths of a state of type typ read besides
// its input: the context object ($$) and the variables of the machine
// running under ctx. As on AWS, $$.State.RetryCount is a Task state's
// only.
func (r *run) contextObject(ctx context.Context, state, typ string, entered time.Time, retries int, item map[string]any) *env {
	c := make(map[string]any, len(r.ctxBase)+2)
	for k, v := range r.ctxBase {
		c[k] = v
	}
	st := map[string]any{"Name": state, "EnteredTime": entered.UTC().Format(time.RFC3339Nano)}
	if typ == TypeTask {
		st["RetryCount"] = float64(retries)
	}
	c["State"] = st
	if item != nil {
		c["Map"] = map[string]any{"Item": item}
	}
	return &env{obj: c, vars: scopeOf(ctx)}
}

func (r *run) observe(name, typ, phase string, err *Error) {
	if r.x.Observer != nil {
		r.x.Observer(StateEvent{Execution: r.execID, State: name, Type: typ, Phase: phase, Err: err, Time: r.x.now()})
	}
}

// machine runs states from startAt until one ends the machine; parent is
// the path of the Map iteration or Parallel branch it runs ("" at the top).
// A state the resumed history saw end is not run again: its output is
// taken, and the variables it assigned assigned again.
func (r *run) machine(ctx context.Context, parent, startAt string, states map[string]State, input any) (any, error) {
	name := startAt
	visits := map[string]int{}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		visits[name]++
		path := childPath(parent, name, visits[name])
		if done, ok := r.exits[path]; ok {
			if len(done.vars) > 0 {
				scopeOf(ctx).set(done.vars)
			}
			if done.next == "" {
				return done.output, nil
			}
			name, input = done.next, done.output
			continue
		}
		st := states[name]
		r.observe(name, st.Type, "entered", nil)
		if err := r.record(ctx, Event{Type: StateEntered, Path: path, State: name}); err != nil {
			return nil, err
		}
		assigned := &assignedVars{}
		out, next, err := r.state(context.WithValue(ctx, assignedKey{}, assigned), path, name, st, input)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				r.observe(name, st.Type, "failed", e)
				if ctx.Err() == nil {
					if rerr := r.record(ctx, Event{Type: StateFailed, Path: path, State: name, Error: e.Name, Cause: e.Cause}); rerr != nil {
						return nil, errors.Join(err, rerr)
					}
				}
			}
			return nil, err
		}
		if err := r.recordExit(ctx, Event{Type: StateExited, Path: path, State: name, Next: next}, out, assigned.vars); err != nil {
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
func (r *run) state(ctx context.Context, path, name string, st State, raw any) (any, string, error) {
	entered := r.x.now()
	cobj := r.contextObject(ctx, name, st.Type, entered, 0, nil)
	if err := checkPayload(raw, "the input of state "+name); err != nil {
		return nil, "", err
	}
	if st.Type == TypeFail {
		return nil, "", r.fail(name, st, raw, cobj)
	}
	effective, err := applyInputPath(st.InputPath, raw, cobj)
	if err != nil {
		return nil, "", err
	}
	next := st.Next
	// exit ends a state that took no work: Assign (with the effective input
	// as $), OutputPath, then the output limit.
	exit := func(assign map[string]any, next string) (any, string, error) {
		vars, err := evalAssign(assign, effective, cobj, name)
		if err != nil {
			return nil, "", err
		}
		out, err := applyOutputPath(st.OutputPath, effective, cobj)
		if err == nil {
			out, err = r.leave(ctx, name, out, vars)
		}
		return out, next, err
	}
	switch st.Type {
	case TypeSucceed:
		return exit(nil, "")
	case TypeChoice:
		for _, c := range st.Choices {
			ok, err := evalRule(c, effective, cobj)
			if err != nil {
				return nil, "", err
			}
			if ok {
				return exit(c.Assign, c.Next)
			}
		}
		if st.Default == "" {
			return nil, "", Errorf(ErrorNoChoiceMatched, "no choice rule matched and no Default in state %s", name)
		}
		return exit(st.Assign, st.Default)
	case TypeWait:
		if err := r.wait(ctx, name, st, effective, cobj); err != nil {
			return nil, "", err
		}
		return exit(st.Assign, next)
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
		out, vars, err := finish(name, st, raw, result, cobj, false)
		if err == nil {
			out, err = r.leave(ctx, name, out, vars)
		}
		return out, next, err
	}
	// Task, Parallel and Map: the work may fail and be retried or caught.
	work := func(ctx context.Context, retries int) (any, error) {
		cobj := r.contextObject(ctx, name, st.Type, entered, retries, nil)
		switch st.Type {
		case TypeTask:
			return r.task(ctx, name, st, effective, cobj)
		case TypeParallel:
			return r.parallel(ctx, path, st, effective, cobj)
		default:
			return r.mapState(ctx, path, name, st, effective, cobj, entered)
		}
	}
	result, err := r.withRetry(ctx, path, st, work)
	if err == nil {
		out, vars, ferr := finish(name, st, raw, result, cobj, true)
		if ferr == nil {
			out, ferr = r.leave(ctx, name, out, vars)
		}
		if ferr == nil {
			return out, next, nil
		}
		// A failure to apply ResultSelector, Assign, ResultPath or
		// OutputPath is States.Runtime and fails the execution (AWS: a
		// States.Runtime error "will always cause the execution to fail");
		// of the errors after the work only States.DataLimitExceeded goes
		// to the state's Catchers.
		if !errDataLimit(ferr) {
			return nil, "", ferr
		}
		err = ferr
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
		vars, perr := evalAssign(c.Assign, errObj, cobj, name)
		if perr != nil {
			return nil, "", perr
		}
		out, perr := applyResultPath(c.ResultPath, raw, errObj)
		if perr == nil {
			out, perr = r.leave(ctx, name, out, vars)
		}
		if perr != nil {
			return nil, "", perr
		}
		return out, c.Next, nil
	}
	return nil, "", e
}

// finish applies ResultSelector (when selector is true), evaluates Assign
// with the result so far as $, then applies ResultPath and OutputPath. It
// returns the state's output and the variables it assigns.
func finish(name string, st State, raw, result any, cobj *env, selector bool) (any, map[string]any, error) {
	if selector && st.ResultSelector != nil {
		var err error
		if result, err = evalTemplate(st.ResultSelector, result, cobj, "ResultSelector"); err != nil {
			return nil, nil, err
		}
	}
	vars, err := evalAssign(st.Assign, result, cobj, name)
	if err != nil {
		return nil, nil, err
	}
	out, err := applyResultPath(st.ResultPath, raw, result)
	if err != nil {
		return nil, nil, err
	}
	out, err = applyOutputPath(st.OutputPath, out, cobj)
	return out, vars, err
}

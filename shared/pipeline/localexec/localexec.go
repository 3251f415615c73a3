package localexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
	"github.com/orrery-ml/orrery/shared/procid"
	"github.com/orrery-ml/orrery/shared/store"
)

var (
	// ErrClosed is returned by Start and Resume after Close.
	ErrClosed = fault.New(fault.Unavailable, "localexec: executions closed")
	// ErrEnded is returned by ResumeExecution for an execution that has
	// ended.
	ErrEnded = fault.New(fault.Conflict, "localexec: execution has ended")
	// ErrBusy is returned by ResumeExecution for an execution that a live
	// process runs.
	ErrBusy = fault.New(fault.Conflict, "localexec: execution is running in another process")
	// ErrStopped is wrapped by the error Binding.Stopped receives for an
	// execution that Stop ended; its text ends with the cause.
	ErrStopped = fault.New(fault.Cancelled, "localexec: stopped")
)

// Binding is one state machine as this runtime runs it.
type Binding struct {
	// Definition is the machine's ASL definition and Resources its Task
	// resources' handlers.
	Definition asl.Definition
	Resources  map[string]asl.Handler
	// Slots bounds how many executions of the machine run at once (0: no
	// bound); the others wait, journaled, for a slot.
	Slots int
	// Stopped, when set, is called after an execution ended without its
	// machine's Catch running — with an error wrapping ErrStopped when Stop
	// ended it, or the error that ended it (its history could not be
	// journaled) — with a context that is not cancelled and the history so
	// far, to record what the Catch would have (the training machine marks
	// its job and removes half-written files).
	Stopped func(ctx context.Context, name string, input json.RawMessage, history []asl.Event, err error)
	// Resumed, when set, is called before an execution continues a run that
	// was interrupted, with the history it continues (it must not call back
	// into the Executions).
	Resumed func(ctx context.Context, name string, input json.RawMessage, history []asl.Event)
	// Ended, when set, is called after an execution's end (SUCCEEDED,
	// FAILED or ABORTED; not an interruption by Close) is journaled, with a
	// context that is not cancelled (the embedded runtime queues the job's
	// MLflow run there). It must not block for long.
	Ended func(ctx context.Context, name string, status store.ExecutionStatus)
}

// Options tune Executions; the zero value is ready to use.
type Options struct {
	// Log receives a record per execution that ends or resumes (nil: none).
	Log *slog.Logger
	// Owner names this process in the journal (default procid.Self()).
	Owner string
	// Gone reports whether an owner no longer runs (default procid.Gone).
	Gone func(owner string) bool
	// Sleep and Now replace the executor's clock (tests).
	Sleep func(ctx context.Context, d time.Duration) error
	Now   func() time.Time
}

// Journal is what Executions keeps its executions in (sqlitestore.DB has
// both halves).
type Journal interface {
	store.ExecutionJournal
	store.ExecutionHistory
}

// Executions runs the bound machines' executions in goroutines of this
// process.
type Executions struct {
	journal  Journal
	machines map[pipeline.Machine]Binding
	log      *slog.Logger
	owner    string
	gone     func(string) bool
	sleep    func(context.Context, time.Duration) error
	now      func() time.Time
	slots    map[pipeline.Machine]chan struct{}

	mu      sync.Mutex
	running map[key]*execution
	closed  bool
	wg      sync.WaitGroup
}

var _ pipeline.Executions = (*Executions)(nil)

type key struct {
	machine pipeline.Machine
	name    string
}

// execution is one execution this process runs.
type execution struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// stopped and errInterrupted are the causes with which Stop and Close
// cancel an execution.
type stopped struct{ cause string }

func (s stopped) Error() string { return ErrStopped.Error() + ": " + s.cause }
func (s stopped) Unwrap() error { return ErrStopped }

var errInterrupted = fault.New(fault.Cancelled, "localexec: interrupted by shutdown")

// New returns the executions of the bound machines over the journal. Each
// definition is validated.
func New(j Journal, machines map[pipeline.Machine]Binding, o Options) (*Executions, error) {
	if j == nil {
		return nil, errors.New("localexec: nil journal")
	}
	e := &Executions{journal: j, machines: map[pipeline.Machine]Binding{}, log: o.Log, owner: o.Owner, gone: o.Gone, sleep: o.Sleep, now: o.Now,
		slots: map[pipeline.Machine]chan struct{}{}, running: map[key]*execution{}}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.owner == "" {
		e.owner = procid.Self().String()
	}
	if e.gone == nil {
		e.gone = procid.Gone
	}
	for m, b := range machines {
		// Run what ships: the definition as its ASL JSON reads back, so a
		// value held in Go form (an int where JSON has a number) cannot
		// behave differently here than on Step Functions.
		body, err := b.Definition.JSON()
		if err != nil {
			return nil, fmt.Errorf("localexec: machine %s: %w", m, err)
		}
		if b.Definition, err = asl.Parse(body); err != nil {
			return nil, fmt.Errorf("localexec: machine %s: %w", m, err)
		}
		e.machines[m] = b
		if b.Slots > 0 {
			e.slots[m] = make(chan struct{}, b.Slots)
		}
	}
	return e, nil
}

func (e *Executions) binding(op string, m pipeline.Machine) (Binding, error) {
	b, ok := e.machines[m]
	if !ok {
		return Binding{}, fmt.Errorf("%s: %w: %q", op, pipeline.ErrUnknownMachine, m)
	}
	return b, nil
}

// Start journals the execution and starts running it in the background; it
// outlives ctx (it runs until it ends, Stop or Close). An execution of that
// machine and name that exists already starts nothing.
func (e *Executions) Start(ctx context.Context, m pipeline.Machine, name string, input json.RawMessage) error {
	op := fmt.Sprintf("start execution %s/%s", m, name)
	if _, err := e.binding(op, m); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fmt.Errorf("%s: %w", op, ErrClosed)
	}
	err := e.journal.CreateExecution(ctx, store.Execution{Machine: string(m), Name: name, Input: input, Owner: e.owner,
		StartedAt: e.clock()})
	if errors.Is(err, store.ErrConflict) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	e.launch(m, name, input, nil)
	return nil
}

// launch starts the goroutine of an execution this process owns; e.mu is
// held.
func (e *Executions) launch(m pipeline.Machine, name string, input json.RawMessage, history []asl.Event) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ex := &execution{cancel: cancel, done: make(chan struct{})}
	e.running[key{m, name}] = ex
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(ex.done)
		defer func() {
			e.mu.Lock()
			delete(e.running, key{m, name})
			e.mu.Unlock()
			cancel(nil)
		}()
		e.run(ctx, m, name, input, history)
	}()
}

func (e *Executions) clock() time.Time {
	if e.now != nil {
		return e.now()
	}
	return time.Now()
}

// run executes one execution to its end, or until it is stopped or
// interrupted, and journals how it ended.
func (e *Executions) run(ctx context.Context, m pipeline.Machine, name string, input json.RawMessage, history []asl.Event) {
	b := e.machines[m]
	log := e.log.With("machine", string(m), "execution", name)
	final := context.WithoutCancel(ctx)
	if slots := e.slots[m]; slots != nil {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
		case <-ctx.Done():
			e.ended(final, log, b, m, name, input, history, ctx, nil, ctx.Err())
			return
		}
	}
	var mu sync.Mutex
	events := append([]asl.Event(nil), history...)
	record := func(ctx context.Context, ev asl.Event) error {
		raw, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode history event: %w", err)
		}
		// A state that ended is journaled even when the execution is being
		// stopped at that moment: what ran is never forgotten.
		if err := e.journal.AppendEvent(context.WithoutCancel(ctx), string(m), name, raw); err != nil {
			return err
		}
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
		return nil
	}
	x := asl.Executor{Resources: b.Resources, Sleep: e.sleep, Now: e.now}
	start := time.Now()
	out, err := x.Execute(ctx, b.Definition, asl.Execution{Name: name, StateMachine: string(m), Input: input,
		History: history, Record: record})
	mu.Lock()
	seen := append([]asl.Event(nil), events...)
	mu.Unlock()
	if err == nil {
		log.Info("execution succeeded", "seconds", time.Since(start).Seconds())
	}
	e.ended(final, log, b, m, name, input, seen, ctx, out, err)
}

// ended journals the end of a run: SUCCEEDED, FAILED (TIMED_OUT), ABORTED
// (Stop, or a journal failure), or — interrupted by Close — still RUNNING
// with no owner, so that the next Resume takes it over at once.
func (e *Executions) ended(ctx context.Context, log *slog.Logger, b Binding, m pipeline.Machine, name string,
	input json.RawMessage, history []asl.Event, runCtx context.Context, out json.RawMessage, err error) {
	cause := context.Cause(runCtx)
	var u store.ExecutionUpdate
	var aslErr *asl.Error
	var stop stopped
	switch {
	case err == nil:
		none := ""
		u = store.ExecutionUpdate{Status: store.ExecutionSucceeded, Output: out, Owner: &none}
	case errors.Is(cause, errInterrupted):
		none := ""
		u = store.ExecutionUpdate{IfOwner: &e.owner, Owner: &none}
		log.Info("execution interrupted; it resumes when a process on this home starts again")
	case errors.As(cause, &stop):
		none := ""
		u = store.ExecutionUpdate{Status: store.ExecutionAborted, Error: "Orrery.Cancelled", Cause: stop.cause, Owner: &none}
		log.Info("execution stopped", "cause", stop.cause)
		if b.Stopped != nil {
			b.Stopped(ctx, name, input, history, stop)
		}
	case errors.As(err, &aslErr):
		none := ""
		u = store.ExecutionUpdate{Status: store.ExecutionFailed, Error: aslErr.Name, Cause: aslErr.Cause, Owner: &none}
		log.Warn("execution failed", "error", aslErr.Name, "cause", aslErr.Cause)
	default:
		// The history could not be journaled (or the execution could not
		// start): stop it rather than run what would be forgotten.
		none := ""
		u = store.ExecutionUpdate{Status: store.ExecutionAborted, Error: "Orrery.Internal", Cause: err.Error(), Owner: &none}
		log.Error("execution aborted", "error", err.Error())
		if b.Stopped != nil {
			b.Stopped(ctx, name, input, history, err)
		}
	}
	if _, uerr := e.journal.UpdateExecution(ctx, string(m), name, u); uerr != nil && !errors.Is(uerr, store.ErrConflict) {
		log.Error("journal the end of the execution", "error", uerr.Error())
	}
	if b.Ended != nil && u.Status != "" {
		b.Ended(ctx, name, u.Status)
	}
}

// Stop stops the execution: one this process runs is cancelled (its task
// sees ctx done, and Binding.Stopped records it); one that nobody runs any
// more is marked ABORTED in the journal. One that has ended, or does not
// exist, is left alone.
func (e *Executions) Stop(ctx context.Context, m pipeline.Machine, name, cause string) error {
	b, err := e.binding(fmt.Sprintf("stop execution %s/%s", m, name), m)
	if err != nil {
		return err
	}
	e.mu.Lock()
	ex, here := e.running[key{m, name}]
	e.mu.Unlock()
	if here {
		ex.cancel(stopped{cause: cause})
		return nil
	}
	cur, err := e.journal.GetExecution(ctx, string(m), name)
	if errors.Is(err, store.ErrNotFound) || err == nil && cur.Status.Terminal() {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stop execution %s/%s: %w", m, name, err)
	}
	// Owned by another live process, that process notices at its next
	// journal or job write; owned by nobody, it simply ends here.
	_, err = e.journal.UpdateExecution(ctx, string(m), name, store.ExecutionUpdate{Status: store.ExecutionAborted,
		Error: "Orrery.Cancelled", Cause: cause})
	if errors.Is(err, store.ErrConflict) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stop execution %s/%s: %w", m, name, err)
	}
	if b.Stopped != nil && (cur.Owner == "" || e.gone(cur.Owner)) {
		history, herr := e.history(ctx, m, name)
		if herr != nil {
			return fmt.Errorf("stop execution %s/%s: %w", m, name, herr)
		}
		b.Stopped(context.WithoutCancel(ctx), name, cur.Input, history, stopped{cause: cause})
	}
	return nil
}

// Describe returns the journaled execution.
func (e *Executions) Describe(ctx context.Context, m pipeline.Machine, name string) (pipeline.Description, error) {
	cur, err := e.journal.GetExecution(ctx, string(m), name)
	if errors.Is(err, store.ErrNotFound) {
		return pipeline.Description{}, fmt.Errorf("describe execution %s/%s: %w", m, name, pipeline.ErrNoExecution)
	}
	if err != nil {
		return pipeline.Description{}, fmt.Errorf("describe execution %s/%s: %w", m, name, err)
	}
	return describe(cur), nil
}

func describe(x store.Execution) pipeline.Description {
	d := pipeline.Description{Machine: pipeline.Machine(x.Machine), Name: x.Name, Status: string(x.Status), Input: x.Input,
		Output: x.Output, Error: x.Error, Cause: x.Cause, StartedAt: x.StartedAt}
	if x.Status.Terminal() {
		d.StoppedAt = x.UpdatedAt
	}
	if x.Status == store.ExecutionFailed && x.Error == asl.ErrorTimeout {
		d.Status = pipeline.StatusTimedOut
	}
	return d
}

// Wait waits until the execution, which this process runs, ends (or ctx is
// done) and describes it. An execution this process does not run is
// described as it is.
func (e *Executions) Wait(ctx context.Context, m pipeline.Machine, name string) (pipeline.Description, error) {
	e.mu.Lock()
	ex, here := e.running[key{m, name}]
	e.mu.Unlock()
	if here {
		select {
		case <-ex.done:
		case <-ctx.Done():
			return pipeline.Description{}, fmt.Errorf("wait for execution %s/%s: %w", m, name, ctx.Err())
		}
	}
	return e.Describe(ctx, m, name)
}

// Interrupted reports whether the execution is RUNNING in the journal but
// no process runs it: its owner is gone, or it was interrupted by a
// shutdown. Resume (or ResumeExecution) continues it.
func (e *Executions) Interrupted(ctx context.Context, m pipeline.Machine, name string) (bool, error) {
	cur, err := e.journal.GetExecution(ctx, string(m), name)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up execution %s/%s: %w", m, name, err)
	}
	e.mu.Lock()
	_, here := e.running[key{m, name}]
	e.mu.Unlock()
	return !here && cur.Status == store.ExecutionRunning && (cur.Owner == "" || e.gone(cur.Owner)), nil
}

// Resume takes over every journaled RUNNING execution of a bound machine
// that no live process runs, and continues each from its history. It
// returns the executions it resumed, by machine and name. Executions of
// another live process are left to it.
func (e *Executions) Resume(ctx context.Context) ([]pipeline.Description, error) {
	list, err := e.journal.ListExecutions(ctx, store.ExecutionRunning)
	if err != nil {
		return nil, fmt.Errorf("resume executions: %w", err)
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].StartedAt.Before(list[j].StartedAt) })
	var resumed []pipeline.Description
	var errs []error
	for _, x := range list {
		if _, ok := e.machines[pipeline.Machine(x.Machine)]; !ok {
			continue
		}
		err := e.ResumeExecution(ctx, pipeline.Machine(x.Machine), x.Name)
		switch {
		case err == nil:
			resumed = append(resumed, describe(x))
		case errors.Is(err, ErrBusy), errors.Is(err, ErrEnded):
		default:
			errs = append(errs, err)
		}
	}
	return resumed, errors.Join(errs...)
}

// ResumeExecution takes over one interrupted execution and continues it.
// ErrEnded if it has ended, ErrBusy if a live process runs it (this one
// included), ErrClosed after Close; the journal's ErrNotFound if there is no
// such execution.
func (e *Executions) ResumeExecution(ctx context.Context, m pipeline.Machine, name string) error {
	op := fmt.Sprintf("resume execution %s/%s", m, name)
	b, err := e.binding(op, m)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fmt.Errorf("%s: %w", op, ErrClosed)
	}
	if _, here := e.running[key{m, name}]; here {
		return fmt.Errorf("%s: %w (this one)", op, ErrBusy)
	}
	cur, err := e.journal.GetExecution(ctx, string(m), name)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	switch {
	case cur.Status.Terminal():
		return fmt.Errorf("%s: it is %s: %w", op, cur.Status, ErrEnded)
	case cur.Owner != "" && cur.Owner != e.owner && !e.gone(cur.Owner):
		return fmt.Errorf("%s: %w (%s)", op, ErrBusy, cur.Owner)
	}
	if _, err := e.journal.UpdateExecution(ctx, string(m), name, store.ExecutionUpdate{IfOwner: &cur.Owner, Owner: &e.owner,
		AddRun: true}); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("%s: another process took it over: %w", op, ErrBusy)
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	history, err := e.history(ctx, m, name)
	if err != nil {
		// Give it back, so that a later attempt can take it.
		none := ""
		_, _ = e.journal.UpdateExecution(context.WithoutCancel(ctx), string(m), name, store.ExecutionUpdate{IfOwner: &e.owner, Owner: &none})
		return fmt.Errorf("%s: %w", op, err)
	}
	e.log.Info("resuming execution", "machine", string(m), "execution", name, "history_events", len(history),
		"previous_owner", cur.Owner)
	if b.Resumed != nil && len(history) > 0 {
		b.Resumed(context.WithoutCancel(ctx), name, cur.Input, history)
	}
	e.launch(m, name, cur.Input, history)
	return nil
}

// history reads and decodes an execution's journaled history.
func (e *Executions) history(ctx context.Context, m pipeline.Machine, name string) ([]asl.Event, error) {
	raw, err := e.journal.History(ctx, string(m), name)
	if err != nil {
		return nil, err
	}
	events := make([]asl.Event, 0, len(raw))
	for i, r := range raw {
		var ev asl.Event
		if err := json.Unmarshal(r, &ev); err != nil {
			return nil, fmt.Errorf("history event %d of %s/%s: %w", i+1, m, name, err)
		}
		events = append(events, ev)
	}
	return events, nil
}

// Running returns how many executions this process is running (or holding
// for a slot).
func (e *Executions) Running() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.running)
}

// Close refuses new executions and interrupts the running ones: each task
// sees its context done (the trainer checkpoints), and the executions stay
// RUNNING in the journal with no owner, so the next process on the same
// journal resumes them. It waits for every execution to stop, or for ctx.
func (e *Executions) Close(ctx context.Context) error {
	e.mu.Lock()
	e.closed = true
	for _, ex := range e.running {
		ex.cancel(errInterrupted)
	}
	e.mu.Unlock()
	done := make(chan struct{})
	go func() {
		e.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close executions: %d still stopping: %w", e.Running(), ctx.Err())
	}
}

package localexec_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
	"github.com/orrery-ml/orrery/shared/pipeline/localexec"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
)

const twoSteps = `{
  "StartAt": "First",
  "States": {
    "First":  {"Type": "Task", "Resource": "first", "ResultPath": "$.first", "Next": "Second"},
    "Second": {"Type": "Task", "Resource": "second", "ResultPath": "$.second", "End": true}
  }
}`

// steps are the two tasks, counting their calls; Second blocks until
// release is closed, or its context ends.
type steps struct {
	mu      sync.Mutex
	calls   map[string]int
	entered chan string
	release chan struct{}
}

func newSteps() *steps {
	return &steps{calls: map[string]int{}, entered: make(chan string, 16), release: make(chan struct{})}
}

func (s *steps) count(n string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[n]
}

func (s *steps) resources() map[string]asl.Handler {
	return map[string]asl.Handler{
		"first": func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			s.mu.Lock()
			s.calls["first"]++
			s.mu.Unlock()
			return json.RawMessage(`"one"`), nil
		},
		"second": func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			s.mu.Lock()
			s.calls["second"]++
			s.mu.Unlock()
			s.entered <- "second"
			select {
			case <-s.release:
				return json.RawMessage(`"two"`), nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		},
	}
}

func openJournal(t *testing.T) (*sqlitestore.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "orrery.db")
	db, err := sqlitestore.Open(t.Context(), path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db, path
}

type stopCall struct {
	name, cause string
	history     int
}

func newExecutions(t *testing.T, j localexec.Journal, s *steps, o localexec.Options, stops chan<- stopCall) *localexec.Executions {
	t.Helper()
	def, err := asl.Parse([]byte(twoSteps))
	require.NoError(t, err)
	b := localexec.Binding{Definition: def, Resources: s.resources(), Slots: 1,
		Stopped: func(_ context.Context, name string, _ json.RawMessage, h []asl.Event, err error) {
			if stops != nil {
				assert.ErrorIs(t, err, localexec.ErrStopped)
				stops <- stopCall{name, err.Error(), len(h)}
			}
		}}
	x, err := localexec.New(j, map[pipeline.Machine]localexec.Binding{pipeline.MachineTraining: b}, o)
	require.NoError(t, err)
	return x
}

func TestAnExecutionRunsToItsEnd(t *testing.T) {
	db, _ := openJournal(t)
	s := newSteps()
	x := newExecutions(t, db, s, localexec.Options{}, nil)
	ctx := t.Context()
	require.NoError(t, x.Start(ctx, pipeline.MachineTraining, "a", json.RawMessage(`{"n":1}`)))
	require.NoError(t, x.Start(ctx, pipeline.MachineTraining, "a", json.RawMessage(`{"n":2}`)), "a second start of the same name starts nothing")
	<-s.entered
	d, err := x.Describe(ctx, pipeline.MachineTraining, "a")
	require.NoError(t, err)
	assert.Equal(t, pipeline.StatusRunning, d.Status)
	close(s.release)
	d, err = x.Wait(ctx, pipeline.MachineTraining, "a")
	require.NoError(t, err)
	assert.Equal(t, pipeline.StatusSucceeded, d.Status)
	assert.JSONEq(t, `{"n":1,"first":"one","second":"two"}`, string(d.Output))
	assert.Equal(t, 1, s.count("second"))
	h, err := db.History(ctx, "training", "a")
	require.NoError(t, err)
	assert.Len(t, h, 6, "started, entered/exited twice, succeeded")

	_, err = x.Describe(ctx, pipeline.MachineTraining, "nope")
	assert.ErrorIs(t, err, pipeline.ErrNoExecution)
	assert.ErrorIs(t, x.Start(ctx, "deployment", "a", nil), pipeline.ErrUnknownMachine)
	require.NoError(t, x.Close(ctx))
	assert.ErrorIs(t, x.Start(ctx, pipeline.MachineTraining, "b", nil), localexec.ErrClosed)
}

func TestStopAbortsAndRecords(t *testing.T) {
	db, _ := openJournal(t)
	s := newSteps()
	stops := make(chan stopCall, 1)
	x := newExecutions(t, db, s, localexec.Options{}, stops)
	ctx := t.Context()
	require.NoError(t, x.Start(ctx, pipeline.MachineTraining, "a", nil))
	<-s.entered
	require.NoError(t, x.Stop(ctx, pipeline.MachineTraining, "a", "job cancelled"))
	call := <-stops
	assert.Equal(t, stopCall{"a", "localexec: stopped: job cancelled", 4}, call, "the hook sees the history up to the interrupted state")
	d, err := x.Wait(ctx, pipeline.MachineTraining, "a")
	require.NoError(t, err)
	assert.Equal(t, pipeline.StatusAborted, d.Status)
	assert.Equal(t, "job cancelled", d.Cause)
	require.NoError(t, x.Stop(ctx, pipeline.MachineTraining, "a", "again"), "stopping an ended execution is no error")
	require.NoError(t, x.Stop(ctx, pipeline.MachineTraining, "nope", "x"))
	assert.ErrorIs(t, x.ResumeExecution(ctx, pipeline.MachineTraining, "a"), localexec.ErrEnded)
	require.NoError(t, x.Close(ctx))
}

func TestCloseInterruptsAndTheNextProcessResumes(t *testing.T) {
	db, _ := openJournal(t)
	s := newSteps()
	ctx := t.Context()
	first := newExecutions(t, db, s, localexec.Options{Owner: "A"}, nil)
	require.NoError(t, first.Start(ctx, pipeline.MachineTraining, "a", json.RawMessage(`{"n":1}`)))
	require.NoError(t, first.Start(ctx, pipeline.MachineTraining, "queued", json.RawMessage(`{"n":2}`)))
	<-s.entered
	require.NoError(t, first.Close(ctx))
	for _, name := range []string{"a", "queued"} {
		rec, err := db.GetExecution(ctx, "training", name)
		require.NoError(t, err)
		assert.Equal(t, "RUNNING", string(rec.Status), name)
		assert.Empty(t, rec.Owner, "a shut-down process gives its executions back: %s", name)
	}
	assert.Equal(t, 1, s.count("first"))

	second := newExecutions(t, db, s, localexec.Options{Owner: "B"}, nil)
	interrupted, err := second.Interrupted(ctx, pipeline.MachineTraining, "a")
	require.NoError(t, err)
	assert.True(t, interrupted)
	close(s.release)
	resumed, err := second.Resume(ctx)
	require.NoError(t, err)
	require.Len(t, resumed, 2)
	assert.Equal(t, "a", resumed[0].Name, "oldest first")
	for _, name := range []string{"a", "queued"} {
		d, err := second.Wait(ctx, pipeline.MachineTraining, name)
		require.NoError(t, err)
		assert.Equal(t, pipeline.StatusSucceeded, d.Status, name)
	}
	assert.Equal(t, 2, s.count("first"), "a's First ended before the shutdown and is not run again; queued runs its own")
	rec, err := db.GetExecution(ctx, "training", "a")
	require.NoError(t, err)
	assert.Equal(t, 2, rec.Runs)
	require.NoError(t, second.Close(ctx))
}

func TestADeadOwnersExecutionsAreTakenOverAndLiveOnesLeft(t *testing.T) {
	db, _ := openJournal(t)
	s := newSteps()
	ctx := t.Context()
	// "A" stands for a process killed with SIGKILL: it never gets to Close.
	killed := newExecutions(t, db, s, localexec.Options{Owner: "A"}, nil)
	require.NoError(t, killed.Start(ctx, pipeline.MachineTraining, "a", nil))
	<-s.entered

	alive := newExecutions(t, db, s, localexec.Options{Owner: "B", Gone: func(string) bool { return false }}, nil)
	resumed, err := alive.Resume(ctx)
	require.NoError(t, err)
	assert.Empty(t, resumed, "an execution whose owner lives is not taken")
	assert.ErrorIs(t, alive.ResumeExecution(ctx, pipeline.MachineTraining, "a"), localexec.ErrBusy)

	next := newExecutions(t, db, s, localexec.Options{Owner: "C", Gone: func(o string) bool { return o == "A" }}, nil)
	resumed, err = next.Resume(ctx)
	require.NoError(t, err)
	require.Len(t, resumed, 1)
	<-s.entered
	close(s.release)
	d, err := next.Wait(ctx, pipeline.MachineTraining, "a")
	require.NoError(t, err)
	assert.Equal(t, pipeline.StatusSucceeded, d.Status)
	rec, err := db.GetExecution(ctx, "training", "a")
	require.NoError(t, err)
	assert.Empty(t, rec.Owner)
	// The killed process's goroutine ends too (in a real kill there is
	// none); its journal writes cannot move the ended execution.
	require.NoError(t, killed.Close(ctx))
	rec, err = db.GetExecution(ctx, "training", "a")
	require.NoError(t, err)
	assert.Equal(t, "SUCCEEDED", string(rec.Status))
	require.NoError(t, next.Close(ctx))
	require.NoError(t, alive.Close(ctx))
}

func TestSlotsBoundWhatRunsAtOnce(t *testing.T) {
	db, _ := openJournal(t)
	s := newSteps()
	ctx := t.Context()
	x := newExecutions(t, db, s, localexec.Options{}, nil)
	require.NoError(t, x.Start(ctx, pipeline.MachineTraining, "a", nil))
	require.NoError(t, x.Start(ctx, pipeline.MachineTraining, "b", nil))
	<-s.entered
	assert.Equal(t, 1, s.count("first"), "with one slot the second execution has not begun")
	assert.Equal(t, 2, x.Running())
	close(s.release)
	for _, n := range []string{"a", "b"} {
		d, err := x.Wait(ctx, pipeline.MachineTraining, n)
		require.NoError(t, err)
		assert.Equal(t, pipeline.StatusSucceeded, d.Status)
	}
	require.NoError(t, x.Close(ctx))
}

package fault_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/fault"
)

var (
	errMissing = fault.New(fault.NotFound, "test: not found")
	errBad     = fault.New(fault.Invalid, "test: bad input")
	errLost    = fault.New(fault.Conflict, "test: conflict")
)

// codedType is an error type of its own that declares a code.
type codedType struct{ code fault.Code }

func (e codedType) Error() string         { return "coded type" }
func (e codedType) FaultCode() fault.Code { return e.code }

// timeout says it is context.DeadlineExceeded by an Is method, as some
// network errors do.
type timeout struct{}

func (timeout) Error() string        { return "i/o timeout" }
func (timeout) Is(target error) bool { return target == context.DeadlineExceeded }

func TestCodeOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want fault.Code
	}{
		{"nil has no code", nil, ""},
		{"a sentinel", errMissing, fault.NotFound},
		{"wrapped once", fmt.Errorf("load job j-1: %w", errMissing), fault.NotFound},
		{"wrapped twice", fmt.Errorf("stage train: %w", fmt.Errorf("load job j-1: %w", errBad)), fault.Invalid},
		{"two sentinels: the first wrapped decides", fmt.Errorf("%w: %w", errBad, errMissing), fault.Invalid},
		{"joined: the first with a code", errors.Join(errors.New("plain"), errLost, errBad), fault.Conflict},
		{"joined inside a wrap", fmt.Errorf("cleanup: %w", errors.Join(errors.New("a"), fmt.Errorf("b: %w", errMissing))), fault.NotFound},
		{"joined without codes", errors.Join(errors.New("a"), errors.New("b")), fault.Internal},
		{"a code of a type of its own", fmt.Errorf("x: %w", codedType{fault.DataChanged}), fault.DataChanged},
		{"a declared value that is no code is internal", codedType{"teapot"}, fault.Internal},
		{"unknown error", errors.New("S3 is having a bad day"), fault.Internal},
		{"unknown wrapped", fmt.Errorf("read: %w", fs.ErrNotExist), fault.Internal},
		{"cancelled", context.Canceled, fault.Cancelled},
		{"cancelled, wrapped", fmt.Errorf("train job j: %w", context.Canceled), fault.Cancelled},
		{"cancelled, joined after a plain error", errors.Join(errors.New("flush"), context.Canceled), fault.Cancelled},
		{"deadline", context.DeadlineExceeded, fault.Unavailable},
		{"deadline, wrapped", fmt.Errorf("get item: %w", context.DeadlineExceeded), fault.Unavailable},
		{"deadline by an Is method", fmt.Errorf("dial: %w", timeout{}), fault.Unavailable},
		{"a sentinel wrapping a cancellation keeps its code", fmt.Errorf("stage: %w (%w)", errLost, context.Canceled), fault.Conflict},
		{"a cancellation wrapping a sentinel", fmt.Errorf("stop: %w: %w", context.Canceled, errBad), fault.Cancelled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, fault.CodeOf(tc.err))
		})
	}
}

func TestNewIsASentinel(t *testing.T) {
	a := fault.New(fault.NotFound, "same text")
	b := fault.New(fault.NotFound, "same text")
	assert.Equal(t, "same text", a.Error())
	assert.ErrorIs(t, fmt.Errorf("x: %w", a), a)
	assert.NotErrorIs(t, a, b, "two sentinels with one message are distinct errors")
	var c fault.Coder
	require.ErrorAs(t, fmt.Errorf("x: %w", a), &c)
	assert.Equal(t, fault.NotFound, c.FaultCode())
}

func TestCodes(t *testing.T) {
	codes := fault.Codes()
	assert.Equal(t, []fault.Code{fault.Invalid, fault.NotFound, fault.Conflict, fault.Cancelled, fault.Diverged,
		fault.DataChanged, fault.Unavailable, fault.Internal}, codes)
	codes[0] = "changed"
	assert.Equal(t, fault.Invalid, fault.Codes()[0], "Codes returns a copy")
	assert.False(t, fault.Code("").Valid())
	assert.False(t, fault.Code("teapot").Valid())
	assert.Equal(t, "none", fault.Code("").String())
	assert.Equal(t, "data_changed", fault.DataChanged.String())
}

func TestNames(t *testing.T) {
	want := map[fault.Code]string{
		fault.Invalid: "Orrery.InvalidInput", fault.NotFound: "Orrery.NotFound", fault.Conflict: "Orrery.Conflict",
		fault.Cancelled: "Orrery.Cancelled", fault.Diverged: "Orrery.Diverged", fault.DataChanged: "Orrery.DataChanged",
		fault.Unavailable: "Orrery.Unavailable", fault.Internal: "Orrery.Internal",
	}
	seen := map[string]bool{}
	for _, c := range fault.Codes() {
		t.Run(c.String(), func(t *testing.T) {
			assert.Equal(t, want[c], c.Name())
			assert.Equal(t, c, fault.CodeOfName(c.Name()), "CodeOfName inverts Name")
			assert.False(t, seen[c.Name()], "names are distinct")
			seen[c.Name()] = true
		})
	}
	for _, tc := range []struct {
		name string
		want fault.Code
	}{
		{"", ""},
		{"States.TaskFailed", fault.Internal},
		{"States.Timeout", fault.Internal},
		{"Lambda.ServiceException", fault.Internal},
		{"Orrery.StageFailed", fault.Internal},
		{"orrery.notfound", fault.Internal},
	} {
		t.Run("name "+tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, fault.CodeOfName(tc.name))
		})
	}
	assert.Empty(t, fault.Code("").Name())
	assert.Empty(t, fault.Code("teapot").Name())
}

func TestFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want fault.Failure
	}{
		{"nil", nil, fault.Failure{}},
		{"a sentinel", fmt.Errorf("load job j-1: %w", errMissing), fault.Failure{Error: "Orrery.NotFound", Cause: "load job j-1: test: not found"}},
		{"cancelled", fmt.Errorf("train: %w", context.Canceled), fault.Failure{Error: "Orrery.Cancelled", Cause: "train: context canceled"}},
		{"unknown", errors.New("disk full"), fault.Failure{Error: "Orrery.Internal", Cause: "disk full"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fault.FailureOf(tc.err)
			assert.Equal(t, tc.want, f)
			assert.Equal(t, fault.CodeOf(tc.err), f.Code(), "the code comes back from the name")
		})
	}
}

func TestFailureJSON(t *testing.T) {
	b, err := json.Marshal(fault.Failure{Error: "Orrery.Conflict", Cause: "job j is SUCCEEDED"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"Error": "Orrery.Conflict", "Cause": "job j is SUCCEEDED"}`, string(b))
	var f fault.Failure
	require.NoError(t, json.Unmarshal([]byte(`{"Error": "States.Timeout", "Cause": "task timed out"}`), &f))
	assert.Equal(t, fault.Failure{Error: "States.Timeout", Cause: "task timed out"}, f)
}

func TestFailureMessage(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    fault.Failure
		want string
	}{
		{"own name, plain cause", fault.Failure{Error: "Orrery.NotFound", Cause: "load job j: store: not found"}, "load job j: store: not found"},
		{"a Lambda cause", fault.Failure{Error: "Orrery.InvalidInput",
			Cause: `{"errorMessage": "column \"klass\" not found", "errorType": "Orrery.InvalidInput"}`}, `column "klass" not found`},
		{"a Batch job's description", fault.Failure{Error: "States.TaskFailed",
			Cause: `{"JobId": "1", "Status": "FAILED", "StatusReason": "Essential container in task exited"}`},
			"States.TaskFailed: batch job: Essential container in task exited"},
		{"another name goes first", fault.Failure{Error: "States.Timeout", Cause: "the task timed out"}, "States.Timeout: the task timed out"},
		{"no cause", fault.Failure{Error: "States.HeartbeatTimeout"}, "States.HeartbeatTimeout"},
		{"no name", fault.Failure{Cause: "  something broke \n"}, "something broke"},
		{"JSON without the fields stays", fault.Failure{Error: "Orrery.Internal", Cause: `{"other": 1}`}, `{"other": 1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.f.Message())
		})
	}
}

func TestFailureBatchJob(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    fault.Failure
		want bool
	}{
		{"a Batch job's description", fault.Failure{Error: "States.TaskFailed",
			Cause: `{"JobId": "1", "Status": "FAILED", "StatusReason": "Essential container in task exited"}`}, true},
		{"a description without a reason", fault.Failure{Error: "States.TaskFailed", Cause: ` {"JobId": "1"} `}, true},
		{"a Lambda cause", fault.Failure{Error: "Orrery.InvalidInput", Cause: `{"errorMessage": "x", "errorType": "Orrery.InvalidInput"}`}, false},
		{"plain text", fault.Failure{Error: "States.Timeout", Cause: "the task timed out"}, false},
		{"nothing", fault.Failure{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.f.BatchJob())
		})
	}
}

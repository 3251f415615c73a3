package asl

import (
	"errors"
	"fmt"
	"strings"
)

// Error names predefined by the Amazon States Language.
const (
	ErrorAll                  = "States.ALL"
	ErrorTimeout              = "States.Timeout"
	ErrorHeartbeatTimeout     = "States.HeartbeatTimeout"
	ErrorTaskFailed           = "States.TaskFailed"
	ErrorPermissions          = "States.Permissions"
	ErrorResultPathMatch      = "States.ResultPathMatchFailure"
	ErrorParameterPathFailure = "States.ParameterPathFailure"
	ErrorBranchFailed         = "States.BranchFailed"
	ErrorNoChoiceMatched      = "States.NoChoiceMatched"
	ErrorIntrinsicFailure     = "States.IntrinsicFailure"
	ErrorRuntime              = "States.Runtime"
	// ErrorDataLimitExceeded: a state's input or output, or a task's input
	// or result, is over MaxPayloadBytes. A Retrier or Catcher that names
	// it matches it; States.ALL does not.
	ErrorDataLimitExceeded = "States.DataLimitExceeded"
	// ErrorExceedToleratedFailureThreshold: more items of a Map Run failed
	// than its ToleratedFailureCount or ToleratedFailurePercentage allow.
	ErrorExceedToleratedFailureThreshold = "States.ExceedToleratedFailureThreshold"
)

// Error is a state machine error: the Error and Cause that Catch sees and an
// execution that fails ends with. Handlers return one (or wrap one) to choose
// the name their failure is known by; any other error from a handler becomes
// States.TaskFailed with the error's text as the cause.
type Error struct {
	Name  string `json:"Error"`
	Cause string `json:"Cause"`
}

// Error implements error.
func (e *Error) Error() string {
	if e.Cause == "" {
		return e.Name
	}
	return e.Name + ": " + e.Cause
}

// Errorf returns an *Error named name with a formatted cause.
func Errorf(name, format string, args ...any) *Error {
	return &Error{Name: name, Cause: fmt.Sprintf(format, args...)}
}

// AsError returns err as a state machine error: err itself (or the *Error it
// wraps), else States.TaskFailed with err's text as the cause.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Name: ErrorTaskFailed, Cause: err.Error()}
}

// matches reports whether a Retrier's or Catcher's ErrorEquals list matches
// the error name, as the error-handling chapter of the Step Functions guide
// has it: States.Runtime matches nothing ("isn't retriable, and will always
// cause the execution to fail"); States.ALL matches every other error but
// States.DataLimitExceeded (which only a Retrier or Catcher naming it
// matches); States.TaskFailed matches every error a Task's resource raised
// (any name outside the States. namespace), so never a timeout.
func matches(errorEquals []string, name string, fromTask bool) bool {
	if name == ErrorRuntime {
		return false
	}
	for _, want := range errorEquals {
		switch {
		case want == name:
			return true
		case want == ErrorAll && name != ErrorDataLimitExceeded:
			return true
		case want == ErrorTaskFailed && fromTask && !strings.HasPrefix(name, "States."):
			return true
		}
	}
	return false
}

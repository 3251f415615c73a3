package fault

import (
	"context"
	"slices"
)

// Code is the kind of an error, which decides how every edge answers it. The
// zero Code is no code: the code of a nil error.
type Code string

// The codes. Each comment says what the code means and, in brackets, how
// the HTTP API, the state machines and the trainer answer it.
const (
	// Invalid: the input is wrong (a request, a configuration, a data set,
	// a model file) and the same input fails the same way again
	// [400, Orrery.InvalidInput, exit 1].
	Invalid Code = "invalid"
	// NotFound: the job, model, study or record asked for does not exist
	// [404, Orrery.NotFound, exit 1].
	NotFound Code = "not_found"
	// Conflict: the operation lost against the state it found — a record
	// exists already, a conditional write lost, a job has finished
	// [409, Orrery.Conflict, exit 1].
	Conflict Code = "conflict"
	// Cancelled: the operation was stopped before it ended (the caller went
	// away, the job was cancelled, the process was interrupted)
	// [499, Orrery.Cancelled, exit 75].
	Cancelled Code = "cancelled"
	// Diverged: training on the input did not converge (the loss stopped
	// being finite) [422, Orrery.Diverged, exit 1].
	Diverged Code = "diverged"
	// DataChanged: data changed under the operation — a data file after it
	// was validated, a file whose checksum no longer matches
	// [409, Orrery.DataChanged, exit 1].
	DataChanged Code = "data_changed"
	// Unavailable: a service or resource the operation needs is not there
	// now; the same call may succeed later [503, Orrery.Unavailable, exit 75].
	Unavailable Code = "unavailable"
	// Internal: anything else — a defect, a misconfiguration, an error
	// nobody classified. Its text is never shown to an HTTP client
	// [500, Orrery.Internal, exit 75].
	Internal Code = "internal"
)

// codes are the codes in the order Codes lists them.
var codes = []Code{Invalid, NotFound, Conflict, Cancelled, Diverged, DataChanged, Unavailable, Internal}

// Codes returns every code.
func Codes() []Code { return slices.Clone(codes) }

// Valid reports whether c is one of the codes (the zero Code is not).
func (c Code) Valid() bool { return slices.Contains(codes, c) }

// String returns the code's value ("not_found"); "none" for the zero Code.
func (c Code) String() string {
	if c == "" {
		return "none"
	}
	return string(c)
}

// Coder is an error that declares its code. The sentinels New returns are
// Coders; a type of error of its own (api.RequestError) may be one too.
type Coder interface {
	error
	FaultCode() Code
}

// sentinel is the error New returns.
type sentinel struct {
	code Code
	msg  string
}

func (e *sentinel) Error() string   { return e.msg }
func (e *sentinel) FaultCode() Code { return e.code }

// New returns a sentinel error with the message msg that declares code; each
// call returns a distinct error, which errors.Is tells apart from every
// other. code must be one of the codes (a test over the module's source
// checks every sentinel's); CodeOf treats any other as Internal.
func New(code Code, msg string) error { return &sentinel{code: code, msg: msg} }

// CodeOf returns err's code: the first code met walking err's tree in the
// order errors.As walks it (err, then what it wraps, depth first, the
// errors of an errors.Join in order), where a Coder counts with the code it
// declares, context.Canceled as Cancelled and context.DeadlineExceeded as
// Unavailable. So the error that wraps another decides: a sentinel wrapping
// a cancellation keeps its code, a cancellation reported through plain
// wrapping is Cancelled. An error with no code anywhere in its tree is
// Internal; a nil error has the zero Code.
//
// A passed deadline is Unavailable, not Cancelled: nobody asked the
// operation to stop — it ran out of time, and the same call with time left
// may succeed (503, a retried trainer), while Cancelled records a job as
// CANCELLED and answers a client that has gone.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	if c, ok := find(err); ok {
		return c
	}
	return Internal
}

// find walks err's tree for the first code.
func find(err error) (Code, bool) {
	for err != nil {
		if c, ok := err.(Coder); ok {
			if code := c.FaultCode(); code.Valid() {
				return code, true
			}
			return Internal, true
		}
		switch {
		case is(err, context.Canceled):
			return Cancelled, true
		case is(err, context.DeadlineExceeded):
			return Unavailable, true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if c, ok := find(e); ok {
					return c, true
				}
			}
			return "", false
		default:
			return "", false
		}
	}
	return "", false
}

// is reports whether err itself, not what it wraps, is target: equal to it,
// or saying so by an Is method (as errors.Is asks each error of a tree).
func is(err, target error) bool {
	if err == target {
		return true
	}
	if x, ok := err.(interface{ Is(error) bool }); ok {
		return x.Is(target)
	}
	return false
}

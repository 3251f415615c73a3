// Package fault is Orrery's error taxonomy: every error carries one Code —
// Invalid, NotFound, Conflict, Cancelled, Diverged, DataChanged,
// Unavailable or Internal — and each edge maps codes once: the HTTP API to
// problem+json statuses (shared/api), the state machines to their Orrery.*
// error names (Code.Name here, and shared/pipeline for the engine's own
// errors), the trainer to its exit statuses (trainer/batchjob).
//
// A sentinel declares its code where it is defined,
//
//	var ErrNotFound = fault.New(fault.NotFound, "store: not found")
//
// and CodeOf finds it through any wrapping (fmt.Errorf with %w,
// errors.Join). Failure is the {"Error", "Cause"} pair a state machine's
// Catch hands on, built from an error by FailureOf.
//
// Every other package may depend on it. It imports nothing but the
// standard library.
package fault

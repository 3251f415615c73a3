package fault

import (
	"encoding/json"
	"strings"
)

// NamePrefix starts the error name of every code (Code.Name): the namespace
// of Orrery's own errors in a state machine, beside the engine's States.*
// and the services' Lambda.* or Batch.*.
const NamePrefix = "Orrery."

// names are the state-machine error names of the codes. Invalid keeps the
// name the machines have always used for it, Orrery.InvalidInput.
var names = map[Code]string{
	Invalid:     NamePrefix + "InvalidInput",
	NotFound:    NamePrefix + "NotFound",
	Conflict:    NamePrefix + "Conflict",
	Cancelled:   NamePrefix + "Cancelled",
	Diverged:    NamePrefix + "Diverged",
	DataChanged: NamePrefix + "DataChanged",
	Unavailable: NamePrefix + "Unavailable",
	Internal:    NamePrefix + "Internal",
}

// Name returns the error name a state machine knows the code by — the Error
// a Retry or Catch matches ("Orrery.NotFound"); "" for the zero Code or a
// value that is not a code. CodeOfName is its inverse.
func (c Code) Name() string { return names[c] }

// CodeOfName returns the code whose Name is name; the zero Code for ""; and
// Internal for any other name (the engine's States.*, a service's
// Lambda.*, an Orrery.* name that is not a code's).
func CodeOfName(name string) Code {
	if name == "" {
		return ""
	}
	for c, n := range names {
		if n == name {
			return c
		}
	}
	return Internal
}

// Failure is an error as a state machine's Catch hands it on — the error's
// name and its cause, {"Error": ..., "Cause": ...} — and what a MarkFailed
// task receives.
type Failure struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// FailureOf returns err as a Failure: named by CodeOf(err) with err's text
// as the cause. A nil error is the zero Failure.
func FailureOf(err error) Failure {
	if err == nil {
		return Failure{}
	}
	return Failure{Error: CodeOf(err).Name(), Cause: err.Error()}
}

// Code returns the code of the failure's Error name (CodeOfName).
func (f Failure) Code() Code { return CodeOfName(f.Error) }

// Message returns the failure as one line for a job record. A Lambda
// task's cause is the runtime's {"errorMessage": ...}, unwrapped to the
// message; a Batch job's is the job's description, shortened to its
// StatusReason. The name is left out when it is Orrery's own (the cause says
// what went wrong) and put before the cause otherwise ("States.Timeout:
// ...").
func (f Failure) Message() string {
	cause := strings.TrimSpace(f.Cause)
	var detail struct {
		ErrorMessage string `json:"errorMessage"`
		StatusReason string `json:"StatusReason"`
	}
	if json.Unmarshal([]byte(cause), &detail) == nil {
		if detail.ErrorMessage != "" {
			cause = detail.ErrorMessage
		} else if detail.StatusReason != "" {
			cause = "batch job: " + detail.StatusReason
		}
	}
	switch {
	case cause == "":
		return f.Error
	case f.Error == "" || strings.HasPrefix(f.Error, NamePrefix):
		return cause
	}
	return f.Error + ": " + cause
}

// BatchJob reports whether the failure is an AWS Batch job's as Step
// Functions' batch:submitJob.sync hands it on: the cause is the job's
// description (JSON with its JobId or StatusReason), which says how the
// container ended — "Essential container in task exited" — never why.
func (f Failure) BatchJob() bool {
	var desc struct {
		JobID        string `json:"JobId"`
		StatusReason string `json:"StatusReason"`
	}
	return json.Unmarshal([]byte(strings.TrimSpace(f.Cause)), &desc) == nil && (desc.JobID != "" || desc.StatusReason != "")
}

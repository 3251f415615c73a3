package pipeline

import (
	"errors"
	"slices"
	"strings"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

// TaskError is the state-machine error a Task handler of the local executor
// answers for err, named as the stages Lambda names it on AWS: the *asl.Error
// err is or wraps, else one named by err's fault code (fault.Code.Name:
// Orrery.InvalidInput, Orrery.NotFound, ..., Orrery.Internal) with err's
// text as the cause. A Catch hands it on as a fault.Failure.
func TaskError(err error) *asl.Error {
	var e *asl.Error
	if errors.As(err, &e) {
		return e
	}
	f := fault.FailureOf(err)
	return &asl.Error{Name: f.Error, Cause: f.Cause}
}

// failedNames are the errors the machines' Fail states end an execution
// with; the cause of each starts with the name of the error that failed it.
var failedNames = []string{ErrorTrainingFailed, ErrorOptimizationFailed, ErrorEvaluationFailed, ErrorDeploymentFailed,
	ErrorDeploymentRolledBack}

// CodeOf returns the fault code of a state-machine error, the inverse of
// TaskError's naming: the code of an Orrery.* name (fault.CodeOfName); for
// the error a failed execution ends with (ErrorTrainingFailed, ...) the code
// of the name its cause starts with ("Orrery.NotFound: ..."); Unavailable
// for a task that timed out or missed its heartbeat and for the service
// errors the machines retry as transient (Lambda's and Batch's, once the
// retries are spent); Internal for any other name; the zero Code for nil.
func CodeOf(e *asl.Error) fault.Code {
	if e == nil {
		return ""
	}
	name := e.Name
	if slices.Contains(failedNames, name) {
		first, _, _ := strings.Cut(e.Cause, ": ")
		name = first
	}
	switch {
	case strings.HasPrefix(name, fault.NamePrefix):
		return fault.CodeOfName(name)
	case name == asl.ErrorTimeout, name == asl.ErrorHeartbeatTimeout:
		return fault.Unavailable
	case slices.Contains(lambdaRetry()[0].ErrorEquals, name), slices.Contains(batchServiceRetry()[0].ErrorEquals, name):
		return fault.Unavailable
	}
	return fault.Internal
}

package deployment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/orrery-ml/orrery/shared/fault"
)

// The steps of a deployment that the deployment state machine runs in the
// stages function (on the embedded runtime, in-process): each keeps the
// deployment's record, the rest of the flow moves traffic and reads alarms
// through service integrations.
const (
	// StepValidate runs the model validator; a failed gate fails the step.
	StepValidate = "validate"
	// StepPublished records the version published for the model and the
	// one the alias served.
	StepPublished = "published"
	// StepShifted records a traffic shift.
	StepShifted = "shifted"
	// StepCheck reads the alarms' figures on the traffic window, records
	// them (on AWS it puts the score-drift and positive-rate metrics), and
	// fails with ErrorRollbackRequested when a manual rollback was asked
	// for.
	StepCheck = "check"
	// StepPromote records the promotion: SUCCEEDED, the endpoint's live
	// model, the registry aliases, the lock released.
	StepPromote = "promote"
	// StepRollingBack records that the rollback began; StepRolledBack that
	// it ended (ROLLED_BACK, the lock released).
	StepRollingBack = "rolling_back"
	StepRolledBack  = "rolled_back"
	// StepMarkFailed records a failure (FAILED, the lock released).
	StepMarkFailed = "mark_failed"
)

// Steps lists the steps.
var Steps = []string{StepValidate, StepPublished, StepShifted, StepCheck, StepPromote, StepRollingBack, StepRolledBack, StepMarkFailed}

// ErrorAlarmFired is the error the deployment state machine raises when an
// alarm is in ALARM while traffic shifts or bakes.
const ErrorAlarmFired = "Orrery.AlarmFired"

// ErrRollbackRequested is returned by the check step of a deployment a
// manual rollback was asked for (the state machine sees Orrery.Cancelled).
var ErrRollbackRequested = fault.New(fault.Cancelled, "deployment: rollback requested")

// StepRequest is the stages function's deployment request: {"deployment":
// StepRequest}.
type StepRequest struct {
	Step         string `json:"step"`
	DeploymentID string `json:"deployment_id"`
	// Version and PreviousVersion are the published version and the one the
	// alias served (StepPublished).
	Version         string `json:"version,omitempty"`
	PreviousVersion string `json:"previous_version,omitempty"`
	// Percent is the new version's share (StepShifted, StepCheck) and
	// Stage the plan step's stage (shift or bake).
	Percent *int   `json:"percent,omitempty"`
	Stage   string `json:"stage,omitempty"`
	// Check counts the alarm checks of the plan step so far (StepCheck).
	Check *int `json:"check,omitempty"`
	// Error is the failure (StepMarkFailed, StepRollingBack,
	// StepRolledBack).
	Error *fault.Failure `json:"error,omitempty"`
}

// StepOutput is what a step answers.
type StepOutput struct {
	DeploymentID string `json:"deployment_id"`
	Status       string `json:"status"`
	// Firing names the alarms in ALARM at a check.
	Firing []string `json:"firing,omitempty"`
}

// Kind is the key of a stages-function request that holds a StepRequest.
const Kind = "deployment"

// DecodeStepTask decodes {"deployment": StepRequest} strictly: unknown
// fields, trailing data, an unknown step or a missing deployment id are
// ErrInvalidRequest.
func DecodeStepTask(raw []byte) (StepRequest, error) {
	var task struct {
		Deployment *StepRequest `json:"deployment"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(&task)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errors.New("trailing data after the JSON object")
		}
	}
	switch {
	case err != nil:
	case task.Deployment == nil:
		err = errors.New(`no "deployment" object`)
	case !slices.Contains(Steps, task.Deployment.Step):
		err = fmt.Errorf("step %q is not one of %s", task.Deployment.Step, strings.Join(Steps, ", "))
	case strings.TrimSpace(task.Deployment.DeploymentID) == "":
		err = errors.New("deployment_id is required")
	}
	if err != nil {
		return StepRequest{}, fmt.Errorf("%w: decode deployment step: %v", ErrInvalidRequest, err)
	}
	return *task.Deployment, nil
}

package pipeline

import (
	"context"
	"encoding/json"
	"time"

	"github.com/orrery-ml/orrery/shared/fault"
)

// Machine names one of Orrery's state machines.
type Machine string

// The state machines; an execution is named within its machine.
const (
	MachineTraining     Machine = "training"
	MachineEvaluation   Machine = "evaluation"
	MachineOptimization Machine = "optimization"
	MachineDeployment   Machine = "deployment"
)

// Execution statuses, as Step Functions names them.
const (
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusTimedOut  = "TIMED_OUT"
	StatusAborted   = "ABORTED"
)

// ErrNoExecution is returned (wrapped) by Describe for an execution that
// does not exist.
var ErrNoExecution = fault.New(fault.NotFound, "pipeline: no such execution")

// ErrUnknownMachine is returned (wrapped) for a machine the runtime does not
// run.
var ErrUnknownMachine = fault.New(fault.Invalid, "pipeline: unknown state machine")

// Description is what Describe says of an execution.
type Description struct {
	Machine Machine
	Name    string
	// Status is StatusRunning until the execution ends.
	Status string
	Input  json.RawMessage
	// Output is the output of a SUCCEEDED execution.
	Output json.RawMessage
	// Error and Cause say why a FAILED, TIMED_OUT or ABORTED one ended.
	Error, Cause string
	StartedAt    time.Time
	StoppedAt    time.Time
}

// Executions runs executions of the state machines: Step Functions on AWS
// (sfnexec), the local executor on one machine (localexec).
type Executions interface {
	// Start starts the execution of machine named name with input and
	// returns once it is accepted, not when it ends. An execution of that
	// machine and name that exists already (running or ended) is not an
	// error: nothing new is started. ErrUnknownMachine for a machine this
	// runtime does not run.
	Start(ctx context.Context, machine Machine, name string, input json.RawMessage) error
	// Stop asks the execution to stop, recording cause; it ends ABORTED
	// without running its Catch. An execution that does not exist or has
	// ended is not an error.
	Stop(ctx context.Context, machine Machine, name, cause string) error
	// Describe returns the execution's status; ErrNoExecution if there is
	// none.
	Describe(ctx context.Context, machine Machine, name string) (Description, error)
}

// Flows starts and stops Orrery's flows through Executions: it implements
// the small ports of the services that start them (the API's training jobs,
// evaluation jobs, optimization studies, deployments, upload-triggered
// retraining), so
// every runtime starts a flow the same way, as an execution named after its
// job, study or deployment.
type Flows struct {
	Executions Executions
}

// StartTraining starts the training execution of the QUEUED job jobID.
func (f Flows) StartTraining(ctx context.Context, jobID string) error {
	return f.Executions.Start(ctx, MachineTraining, jobID, TrainingInput{JobID: jobID}.JSON())
}

// StopTraining stops the training execution of jobID (its record has been
// marked CANCELLED by the caller).
func (f Flows) StopTraining(ctx context.Context, jobID string) error {
	return f.Executions.Stop(ctx, MachineTraining, jobID, "job cancelled")
}

// StartEvaluation starts the evaluation execution of the QUEUED evaluation
// job jobID.
func (f Flows) StartEvaluation(ctx context.Context, jobID string) error {
	return f.Executions.Start(ctx, MachineEvaluation, jobID, EvaluationInput{JobID: jobID}.JSON())
}

// StartStudy starts the optimization execution of the study in.StudyID.
func (f Flows) StartStudy(ctx context.Context, in OptimizationInput) error {
	return f.Executions.Start(ctx, MachineOptimization, in.StudyID, in.JSON())
}

// StopStudy stops the optimization execution of the study.
func (f Flows) StopStudy(ctx context.Context, studyID, cause string) error {
	return f.Executions.Stop(ctx, MachineOptimization, studyID, cause)
}

// StartDeployment starts the deployment execution of in.DeploymentID.
func (f Flows) StartDeployment(ctx context.Context, in DeploymentInput) error {
	return f.Executions.Start(ctx, MachineDeployment, in.DeploymentID, in.JSON())
}

// DescribeDeployment describes the deployment execution of deploymentID.
func (f Flows) DescribeDeployment(ctx context.Context, deploymentID string) (Description, error) {
	return f.Executions.Describe(ctx, MachineDeployment, deploymentID)
}

package stacks

import (
	"fmt"

	"github.com/orrery-ml/orrery/shared/pipeline"
)

// TrainingResources are the resources the deployed training state machine names: shared/pipeline's placeholders,
// without the optional Deploy stage (added when the deployment function exists) and without the SNS Alert state
// (a failed execution already raises the executions-failed alarm, which notifies the alert topic).
func TrainingResources() pipeline.Resources {
	r := pipeline.Placeholders()
	r.DeployFunction = ""
	r.AlertTopic = ""
	return r
}

// DefaultMachines returns the state machines the app deploys, built by shared/pipeline — the same builders the
// local executor runs.
func DefaultMachines() ([]Machine, error) {
	def, err := pipeline.Training(TrainingResources())
	if err != nil {
		return nil, fmt.Errorf("training state machine: %w", err)
	}
	b, err := def.JSON()
	if err != nil {
		return nil, fmt.Errorf("training state machine: %w", err)
	}
	evaluation, err := EvaluationMachine()
	if err != nil {
		return nil, err
	}
	optimization, err := OptimizationMachine()
	if err != nil {
		return nil, err
	}
	deployment, err := DeploymentMachine()
	if err != nil {
		return nil, err
	}
	return []Machine{{Name: MachineTraining, Definition: b}, evaluation, optimization, deployment}, nil
}

// DeploymentMachine returns the `deployment` state machine as the app deploys it: shared/pipeline's builder on the
// stages function's placeholder (its steps run in the stages function), without the SNS Alert state, as for
// training: a deployment that rolls back or fails ends its execution FAILED, which raises the
// deployment-executions-failed alarm, which notifies the alert topic. Its other tasks are AWS SDK integrations
// on the environment's predict function (named in the execution input) and the deployment's CloudWatch alarms,
// which the pipeline stack grants by name (deploymentGrants).
func DeploymentMachine() (Machine, error) {
	r := pipeline.DeploymentPlaceholders()
	r.AlertTopic = ""
	def, err := pipeline.Deployment(r)
	if err != nil {
		return Machine{}, fmt.Errorf("deployment state machine: %w", err)
	}
	b, err := def.JSON()
	if err != nil {
		return Machine{}, fmt.Errorf("deployment state machine: %w", err)
	}
	return Machine{Name: MachineDeployment, Definition: b}, nil
}

// EvaluationMachine returns the `evaluation` state machine as the app deploys it: shared/pipeline's builder on
// the stages function's placeholder (its steps run in the stages function, which reads the model and the data set
// from S3 and writes the report there).
func EvaluationMachine() (Machine, error) {
	def, err := pipeline.Evaluation(pipeline.EvaluationPlaceholders())
	if err != nil {
		return Machine{}, fmt.Errorf("evaluation state machine: %w", err)
	}
	b, err := def.JSON()
	if err != nil {
		return Machine{}, fmt.Errorf("evaluation state machine: %w", err)
	}
	return Machine{Name: MachineEvaluation, Definition: b}, nil
}

// OptimizationMachine returns the `optimization` state machine as the app deploys it: shared/pipeline's builder on
// the training machine's placeholders (the steps run in the stages function over the studies table, the trials as
// Batch jobs of the trainer's image in trial mode on the train queue), without the SNS Alert state, as for
// training.
func OptimizationMachine() (Machine, error) {
	r := pipeline.OptimizationPlaceholders()
	r.AlertTopic = ""
	def, err := pipeline.Optimization(r)
	if err != nil {
		return Machine{}, fmt.Errorf("optimization state machine: %w", err)
	}
	b, err := def.JSON()
	if err != nil {
		return Machine{}, fmt.Errorf("optimization state machine: %w", err)
	}
	return Machine{Name: MachineOptimization, Definition: b}, nil
}

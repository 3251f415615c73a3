package main

import (
	"context"
	"encoding/json"
	"time"

	"github.com/orrery-ml/orrery/shared/ml/deployment"
)

// kindDeployment is a deployment.StepRequest: {"deployment": {"step",
// "deployment_id", ...}} (the deployment machine).
const kindDeployment = deployment.Kind

// deploymentStepper runs one step of a deployment; *deploymentjob.Service
// is one.
type deploymentStepper interface {
	Step(ctx context.Context, req deployment.StepRequest) (deployment.StepOutput, error)
}

// deployment decodes a deployment step strictly (unknown fields, trailing
// data, an unknown step or a missing deployment_id are
// Orrery.InvalidInput), runs it, and returns its deployment.StepOutput.
// Errors are typed by taskError.
func (h *handler) deployment(ctx context.Context, raw json.RawMessage) (any, error) {
	req, err := deployment.DecodeStepTask(raw)
	if err != nil {
		h.log.WarnContext(ctx, "bad deployment request", "error", err.Error())
		return nil, taskError(err)
	}
	if h.deployments == nil {
		return nil, taskError(errNoDeployments)
	}
	start := time.Now()
	out, err := h.deployments.Step(ctx, req)
	attrs := []any{"deployment_step", req.Step, "deployment_id", req.DeploymentID, "seconds", time.Since(start).Seconds()}
	if err != nil {
		e := taskError(err)
		h.log.ErrorContext(ctx, "deployment step failed", append(attrs, "error_type", e.Type, "error", e.Message)...)
		return nil, e
	}
	h.log.InfoContext(ctx, "deployment step done", append(attrs, "status", out.Status, "firing", out.Firing)...)
	return out, nil
}

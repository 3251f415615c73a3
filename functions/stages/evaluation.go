package main

import (
	"context"
	"encoding/json"
	"time"

	"github.com/orrery-ml/orrery/shared/evaluationjob"
)

// kindEvaluation is an evaluationjob.Task: {"evaluation": {"job_id", "step"?,
// "error"?}} (the evaluation machine).
const kindEvaluation = "evaluation"

// evaluationStepper runs one step of an evaluation job (evaluate,
// mark_failed); *evaluationjob.Service is one.
type evaluationStepper interface {
	Step(ctx context.Context, req evaluationjob.Request) (evaluationjob.Output, error)
}

// evaluation decodes an evaluation task strictly (unknown fields, trailing
// data, a missing job_id are Orrery.InvalidInput), runs the step, and
// returns its evaluationjob.Output. Errors are typed by taskError.
func (h *handler) evaluation(ctx context.Context, raw json.RawMessage) (any, error) {
	req, err := evaluationjob.DecodeTask(raw)
	if err != nil {
		h.log.WarnContext(ctx, "bad evaluation request", "error", err.Error())
		return nil, taskError(err)
	}
	step := req.Step
	if step == "" {
		step = evaluationjob.StepEvaluate
	}
	start := time.Now()
	out, err := h.evaluations.Step(ctx, req)
	attrs := []any{"evaluation_step", step, "job_id", req.JobID, "seconds", time.Since(start).Seconds()}
	if err != nil {
		e := taskError(err)
		h.log.ErrorContext(ctx, "evaluation step failed", append(attrs, "error_type", e.Type, "error", e.Message)...)
		return nil, e
	}
	h.log.InfoContext(ctx, "evaluation step done", append(attrs, "status", out.Status, "evaluation_id", out.EvaluationID)...)
	return out, nil
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/training"
)

// The keys that name a request's kind: a request is a JSON object with
// exactly one of them at its top level.
const (
	// kindStage is a training.StageRequest (the training machine).
	kindStage = "stage"
	// kindStep is an optimization.StepRequest (the optimization machine).
	kindStep = "step"
)

// requestKinds are the kinds Handle routes, in the order errors list them.
var requestKinds = []string{kindStage, kindStep, kindEvaluation, kindDeployment}

// errInvalidRequest is wrapped by errors about a request whose kind cannot
// be told (not a JSON object, no kind key or more than one).
var errInvalidRequest = fault.New(fault.Invalid, "stages: invalid request")

// errNoDeployments answers a deployment step when the function has no
// deployment service configured.
var errNoDeployments = fault.New(fault.Internal, "stages: deployments are not configured (no predict function)")

// stageRunner runs one stage; *training.TrainingPipeline is one.
type stageRunner interface {
	RunStage(ctx context.Context, req training.StageRequest) (training.Refs, error)
}

// stepRunner runs one optimization step (suggest, tell, finalize,
// mark_failed); optimization.StepRunner is one. Trials are not steps: they
// run in the trainer's container on AWS Batch.
type stepRunner interface {
	Step(ctx context.Context, req optimization.StepRequest) (any, error)
}

// handler is the function's handler.
type handler struct {
	stages      stageRunner
	steps       stepRunner
	evaluations evaluationStepper
	deployments deploymentStepper
	log         *slog.Logger
}

// Handle routes the request by the key that names its kind — "stage" to
// the training stages, "step" to the optimization steps, "evaluation" to
// the evaluation job's steps (evaluation.go), "deployment" to a
// deployment's steps (deployment.go) — and returns what that runner
// returns. Errors are messages.InvokeResponse_Error values
// whose Type is the error name the state machine matches; a request of no
// known kind is Orrery.InvalidInput.
func (h *handler) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	kind, err := requestKind(raw)
	if err != nil {
		h.log.WarnContext(ctx, "bad request", "error", err.Error())
		return nil, taskError(err)
	}
	switch kind {
	case kindStage:
		return h.stage(ctx, raw)
	case kindStep:
		return h.step(ctx, raw)
	case kindEvaluation:
		return h.evaluation(ctx, raw)
	case kindDeployment:
		return h.deployment(ctx, raw)
	}
	return nil, taskError(fmt.Errorf("%w: unrouted request kind %s", errInvalidRequest, kind))
}

// requestKind returns the one key of requestKinds that raw, a JSON object,
// has at its top level.
func requestKind(raw json.RawMessage) (string, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return "", fmt.Errorf("%w: a request is a JSON object with one of the keys %q: %v", errInvalidRequest, requestKinds, err)
	}
	var found []string
	for _, k := range requestKinds {
		if _, ok := fields[k]; ok {
			found = append(found, k)
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("%w: a request has exactly one of the keys %q, this one has %q",
			errInvalidRequest, requestKinds, found)
	}
	return found[0], nil
}

// stage decodes a training.StageRequest strictly (unknown fields, trailing
// data and a missing stage are Orrery.InvalidInput), runs the stage, and
// returns its Refs. Errors are typed by taskError.
func (h *handler) stage(ctx context.Context, raw json.RawMessage) (training.Refs, error) {
	var req training.StageRequest
	err := decodeStrict(raw, &req)
	if err == nil && req.Stage == "" {
		err = errors.New("stage is required")
	}
	if err != nil {
		err = fmt.Errorf("%w: decode stage request: %v", training.ErrInvalidStage, err)
		h.log.WarnContext(ctx, "bad stage request", "error", err.Error())
		return training.Refs{}, taskError(err)
	}
	start := time.Now()
	refs, err := h.stages.RunStage(ctx, req)
	attrs := []any{"stage", req.Stage, "job_id", req.Refs.JobID, "seconds", time.Since(start).Seconds()}
	if err != nil {
		e := taskError(err)
		h.log.ErrorContext(ctx, "stage failed", append(attrs, "error_type", e.Type, "error", e.Message)...)
		return training.Refs{}, e
	}
	h.log.InfoContext(ctx, "stage done", append(attrs, "model_id", refs.ModelID)...)
	return refs, nil
}

// step decodes an optimization.StepRequest strictly (unknown fields,
// trailing data, a missing step or study_id are Orrery.InvalidInput), runs
// the step, and returns its output. Errors are typed by taskError.
func (h *handler) step(ctx context.Context, raw json.RawMessage) (any, error) {
	var req optimization.StepRequest
	err := decodeStrict(raw, &req)
	switch {
	case err != nil:
	case req.Step == "":
		err = errors.New("step is required")
	case strings.TrimSpace(req.StudyID) == "":
		err = errors.New("study_id is required")
	}
	if err != nil {
		err = fmt.Errorf("%w: decode step request: %v", optimization.ErrInvalidStudy, err)
		h.log.WarnContext(ctx, "bad step request", "error", err.Error())
		return nil, taskError(err)
	}
	start := time.Now()
	out, err := h.steps.Step(ctx, req)
	attrs := []any{"step", req.Step, "study_id", req.StudyID, "seconds", time.Since(start).Seconds()}
	if err != nil {
		e := taskError(err)
		h.log.ErrorContext(ctx, "step failed", append(attrs, "error_type", e.Type, "error", e.Message)...)
		return nil, e
	}
	h.log.InfoContext(ctx, "step done", attrs...)
	return out, nil
}

// decodeStrict decodes raw into v, refusing unknown fields and trailing
// data.
func decodeStrict(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// taskError is a stage's, step's or evaluation step's err as the Lambda
// runtime reports it: Type is the error name the state machine's Retry and
// Catch match, err's fault code's name (Orrery.InvalidInput,
// Orrery.NotFound, ..., Orrery.Internal), as pipeline.TaskError names it on
// the local executor.
func taskError(err error) messages.InvokeResponse_Error {
	return messages.InvokeResponse_Error{Message: err.Error(), Type: fault.CodeOf(err).Name()}
}

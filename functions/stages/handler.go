package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/orrery-ml/orrery/shared/ml/training"
)

// stageRunner runs one stage; *training.TrainingPipeline is one.
type stageRunner interface {
	RunStage(ctx context.Context, req training.StageRequest) (training.Refs, error)
}

// handler is the function's handler.
type handler struct {
	stages stageRunner
	log    *slog.Logger
}

// Handle decodes the request strictly (unknown fields, trailing data and a
// missing stage are Orrery.InvalidInput), runs the stage, and returns its
// Refs. Errors are messages.InvokeResponse_Error values typed with
// training.StageErrorName.
func (h *handler) Handle(ctx context.Context, raw json.RawMessage) (training.Refs, error) {
	req, err := decodeRequest(raw)
	if err != nil {
		h.log.WarnContext(ctx, "bad stage request", "error", err.Error())
		return training.Refs{}, invokeError(err)
	}
	start := time.Now()
	refs, err := h.stages.RunStage(ctx, req)
	attrs := []any{"stage", req.Stage, "job_id", req.Refs.JobID, "seconds", time.Since(start).Seconds()}
	if err != nil {
		e := invokeError(err)
		h.log.ErrorContext(ctx, "stage failed", append(attrs, "error_type", e.Type, "error", e.Message)...)
		return training.Refs{}, e
	}
	h.log.InfoContext(ctx, "stage done", append(attrs, "model_id", refs.ModelID)...)
	return refs, nil
}

// decodeRequest decodes a StageRequest, refusing unknown fields and
// trailing data.
func decodeRequest(raw json.RawMessage) (training.StageRequest, error) {
	var req training.StageRequest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("%w: decode stage request: %v", training.ErrInvalidStage, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, fmt.Errorf("%w: decode stage request: trailing data after the JSON object", training.ErrInvalidStage)
	}
	if req.Stage == "" {
		return req, fmt.Errorf("%w: stage is required", training.ErrInvalidStage)
	}
	return req, nil
}

// invokeError is err as the Lambda runtime reports it: Type is the error
// name the state machine matches.
func invokeError(err error) messages.InvokeResponse_Error {
	return messages.InvokeResponse_Error{Message: err.Error(), Type: training.StageErrorName(err)}
}

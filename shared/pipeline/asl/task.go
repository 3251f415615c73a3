package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Handler runs a Task state's resource: it receives the state's effective
// input (after InputPath and Parameters) as JSON and returns its result as
// JSON. A handler that fails returns an error; an *Error (or one it wraps)
// names the failure for Retry and Catch, any other error is
// States.TaskFailed. Handlers of tasks with HeartbeatSeconds call Heartbeat
// with the ctx they were given while they work.
type Handler func(ctx context.Context, input json.RawMessage) (json.RawMessage, error)

// HandlerFunc adapts a typed function to a Handler: the input is decoded into
// In (unknown fields are refused) and the result encoded as JSON.
func HandlerFunc[In, Out any](fn func(ctx context.Context, in In) (Out, error)) Handler {
	return func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
		var in In
		if err := decodeStrict(raw, &in); err != nil {
			return nil, &Error{Name: ErrorTaskFailed, Cause: fmt.Sprintf("decode task input: %v", err)}
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, fmt.Errorf("encode task result: %w", err)
		}
		return b, nil
	}
}

func (r *run) task(ctx context.Context, name string, st State, effective any, cobj *env) (any, error) {
	token := NewUUID()
	cobj.obj["Task"] = map[string]any{"Token": token}
	params := effective
	if st.Parameters != nil {
		var err error
		if params, err = evalTemplate(st.Parameters, effective, cobj, "Parameters"); err != nil {
			return nil, err
		}
	}
	h, ok := r.x.Resources[st.Resource]
	if !ok {
		return nil, Errorf(ErrorTaskFailed, "state %s: no handler bound to resource %s", name, st.Resource)
	}
	in, err := encodeJSON(params)
	if err != nil {
		return nil, Errorf(ErrorRuntime, "state %s: encode task input: %v", name, err)
	}
	if err := checkPayloadBytes(len(in), "the input of task "+name); err != nil {
		return nil, err
	}
	timeout := st.TimeoutSeconds
	if st.TimeoutSecondsPath != "" {
		v, ok, _ := selectPath(st.TimeoutSecondsPath, effective, cobj)
		f, isNum := v.(float64)
		if !ok || !isNum || f <= 0 {
			return nil, Errorf(ErrorRuntime, "state %s: TimeoutSecondsPath %s must select a positive number", name, st.TimeoutSecondsPath)
		}
		timeout = int(f)
	}
	heartbeat := st.HeartbeatSeconds
	if st.HeartbeatSecondsPath != "" {
		v, ok, _ := selectPath(st.HeartbeatSecondsPath, effective, cobj)
		f, isNum := v.(float64)
		if !ok || !isNum || f <= 0 {
			return nil, Errorf(ErrorRuntime, "state %s: HeartbeatSecondsPath %s must select a positive number", name, st.HeartbeatSecondsPath)
		}
		heartbeat = int(f)
	}
	// Both task timers run on the executor's clock (Executor.AfterFunc).
	taskCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if timeout > 0 {
		stop := r.x.afterFunc(time.Duration(timeout)*time.Second, func() { cancel(errTaskTimeout) })
		defer stop()
	}
	if heartbeat > 0 {
		w := startHeartbeatWatch(r.x.afterFunc, time.Duration(heartbeat)*time.Second, func() { cancel(errHeartbeatTimeout) })
		defer w.close()
		taskCtx = context.WithValue(taskCtx, heartbeatKey{}, w)
	}
	type reply struct {
		out json.RawMessage
		err error
	}
	done := make(chan reply, 1)
	go func() {
		out, err := h(taskCtx, in)
		done <- reply{out, err}
	}()
	var rep reply
	select {
	case rep = <-done:
	case <-taskCtx.Done():
		// The state ends now, as on AWS; a handler that ignores ctx is left
		// to finish on its own and its result is dropped.
	}
	switch cause := context.Cause(taskCtx); {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(cause, errTaskTimeout):
		// AWS gives a timed-out task an empty cause: a Catcher sees
		// {"Error": "States.Timeout", "Cause": ""}.
		return nil, &Error{Name: ErrorTimeout}
	case errors.Is(cause, errHeartbeatTimeout):
		return nil, &Error{Name: ErrorHeartbeatTimeout}
	}
	if rep.err != nil {
		return nil, AsError(rep.err)
	}
	var out any
	if len(rep.out) > 0 {
		if err := json.Unmarshal(rep.out, &out); err != nil {
			return nil, Errorf(ErrorRuntime, "state %s: task result is not JSON: %v", name, err)
		}
	}
	if err := checkPayload(out, "the result of task "+name); err != nil {
		return nil, err
	}
	return out, nil
}

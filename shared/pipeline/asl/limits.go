package asl

import (
	"bytes"
	"encoding/json"
	"time"
)

// Quotas of Step Functions that the executor enforces ("Step Functions
// service quotas" and the Wait state page of the developer guide).
const (
	// MaxPayloadBytes is the largest input or output of a state, input or
	// result of a task, and input of an execution: 256 KiB of UTF-8
	// encoded JSON. Past it a state fails with States.DataLimitExceeded
	// (an execution input past it is refused before anything runs).
	MaxPayloadBytes = 256 * 1024
	// MaxWaitSecondsField is the largest Seconds a Wait state may name.
	MaxWaitSecondsField = 99999999
	// MaxWait is the longest a Wait state of a Standard workflow may wait
	// ("the maximum wait time that you can specify for Standard Workflows
	// ... is one year"); a longer wait fails with States.Runtime.
	MaxWait = 365 * 24 * time.Hour
)

// encodeJSON encodes v as compact JSON without HTML escaping (Step
// Functions passes "<", ">" and "&" through as they are, and measures its
// payloads in those bytes).
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// checkPayload fails with States.DataLimitExceeded when v, encoded as JSON,
// is over MaxPayloadBytes; what names the payload for the cause.
func checkPayload(v any, what string) error {
	b, err := encodeJSON(v)
	if err != nil {
		return Errorf(ErrorRuntime, "encode %s: %v", what, err)
	}
	return checkPayloadBytes(len(b), what)
}

func checkPayloadBytes(n int, what string) error {
	if n > MaxPayloadBytes {
		return Errorf(ErrorDataLimitExceeded, "%s is %d bytes of JSON, over the %d-byte (256 KiB) limit", what, n, MaxPayloadBytes)
	}
	return nil
}

// checkWait fails with States.Runtime when a Wait state would wait longer
// than MaxWait.
func checkWait(state string, d time.Duration) error {
	if d > MaxWait {
		return Errorf(ErrorRuntime, "Wait state %s: a wait of %s is longer than a year, the longest a Wait state may wait", state, d)
	}
	return nil
}

// errDataLimit reports whether err is States.DataLimitExceeded.
func errDataLimit(err error) bool {
	return err != nil && AsError(err).Name == ErrorDataLimitExceeded
}

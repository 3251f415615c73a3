package sfnrest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/orrery-ml/orrery/shared/awsclient/envconfig"
	"github.com/orrery-ml/orrery/shared/pipeline/sfnexec"
)

// signingName is Step Functions' SigV4 service name.
const signingName = "states"

// maxAttempts is how many times a call is tried when it is throttled, the
// service answers 5xx or the connection fails, as the SDK's standard retryer.
const maxAttempts = 3

// Client calls the Step Functions API. Endpoint, Region and Credentials are
// required; HTTP nil is http.DefaultClient.
type Client struct {
	// Endpoint is the API's base URL (https://states.us-east-1.amazonaws.com,
	// or an emulator's).
	Endpoint string
	// Region signs the requests.
	Region      string
	Credentials aws.CredentialsProvider
	HTTP        *http.Client

	signer *v4.Signer // nil: a new one each request
}

var _ sfnexec.Client = (*Client)(nil)

// New returns a client for cfg's region and credentials. Its endpoint is
// resolved as the SDK's Step Functions client resolves it (getenv reads
// AWS_ENDPOINT_URL_SFN, then cfg.BaseEndpoint; see
// envconfig.ServiceEndpoint), or else the region's public one.
func New(cfg aws.Config, getenv func(string) string) *Client {
	ep := envconfig.ServiceEndpoint(cfg, getenv, "SFN")
	if ep == "" {
		ep = "https://states." + cfg.Region + ".amazonaws.com"
		if strings.HasPrefix(cfg.Region, "cn-") {
			ep += ".cn"
		}
	}
	return &Client{Endpoint: ep, Region: cfg.Region, Credentials: cfg.Credentials, signer: v4.NewSigner()}
}

// Error is an error answer of the API: the HTTP status, the error code
// (ExecutionAlreadyExists, ExecutionDoesNotExist, ThrottlingException, ...)
// and its message.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

// Is makes ExecutionAlreadyExists match sfnexec.ErrExecutionExists and
// ExecutionDoesNotExist sfnexec.ErrExecutionDoesNotExist.
func (e *Error) Is(target error) bool {
	switch target {
	case sfnexec.ErrExecutionExists:
		return e.Code == "ExecutionAlreadyExists"
	case sfnexec.ErrExecutionDoesNotExist:
		return e.Code == "ExecutionDoesNotExist"
	}
	return false
}

// StartExecution starts the execution name (empty: one the service names)
// of the state machine with input.
func (c *Client) StartExecution(ctx context.Context, stateMachineARN, name, input string) (string, error) {
	in := struct {
		StateMachineArn string `json:"stateMachineArn"`
		Name            string `json:"name,omitempty"`
		Input           string `json:"input"`
	}{stateMachineARN, name, input}
	var out struct {
		ExecutionArn string `json:"executionArn"`
	}
	if err := c.call(ctx, "StartExecution", in, &out); err != nil {
		return "", err
	}
	return out.ExecutionArn, nil
}

// StopExecution stops the execution with the error name and cause.
func (c *Client) StopExecution(ctx context.Context, executionARN, errorName, cause string) error {
	in := struct {
		ExecutionArn string `json:"executionArn"`
		Error        string `json:"error,omitempty"`
		Cause        string `json:"cause,omitempty"`
	}{executionARN, errorName, cause}
	return c.call(ctx, "StopExecution", in, nil)
}

// DescribeExecution describes the execution.
func (c *Client) DescribeExecution(ctx context.Context, executionARN string) (sfnexec.Execution, error) {
	in := struct {
		ExecutionArn string `json:"executionArn"`
	}{executionARN}
	var out struct {
		Status    string   `json:"status"`
		Error     *string  `json:"error"`
		Cause     *string  `json:"cause"`
		Input     *string  `json:"input"`
		Output    *string  `json:"output"`
		StartDate *float64 `json:"startDate"`
		StopDate  *float64 `json:"stopDate"`
	}
	if err := c.call(ctx, "DescribeExecution", in, &out); err != nil {
		return sfnexec.Execution{}, err
	}
	return sfnexec.Execution{Status: out.Status, Error: aws.ToString(out.Error), Cause: aws.ToString(out.Cause),
		Input: out.Input, Output: out.Output, StartDate: epoch(out.StartDate), StopDate: epoch(out.StopDate)}, nil
}

// CreateStateMachine creates a STANDARD state machine and returns its ARN.
func (c *Client) CreateStateMachine(ctx context.Context, name, definition, roleARN string) (string, error) {
	in := struct {
		Name       string `json:"name"`
		Definition string `json:"definition"`
		RoleArn    string `json:"roleArn"`
		Type       string `json:"type"`
	}{name, definition, roleARN, "STANDARD"}
	var out struct {
		StateMachineArn string `json:"stateMachineArn"`
	}
	if err := c.call(ctx, "CreateStateMachine", in, &out); err != nil {
		return "", err
	}
	return out.StateMachineArn, nil
}

// UpdateStateMachine replaces the state machine's definition and role.
func (c *Client) UpdateStateMachine(ctx context.Context, stateMachineARN, definition, roleARN string) error {
	in := struct {
		StateMachineArn string `json:"stateMachineArn"`
		Definition      string `json:"definition"`
		RoleArn         string `json:"roleArn"`
	}{stateMachineARN, definition, roleARN}
	return c.call(ctx, "UpdateStateMachine", in, nil)
}

// DeleteStateMachine deletes the state machine.
func (c *Client) DeleteStateMachine(ctx context.Context, stateMachineARN string) error {
	in := struct {
		StateMachineArn string `json:"stateMachineArn"`
	}{stateMachineARN}
	return c.call(ctx, "DeleteStateMachine", in, nil)
}

// epoch turns the protocol's timestamps (seconds since the epoch, with a
// fraction) into times; nil is the zero time.
func epoch(s *float64) time.Time {
	if s == nil {
		return time.Time{}
	}
	sec, frac := math.Modf(*s)
	return time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC()
}

// call sends operation op with the JSON of in and decodes the answer into
// out (nil: discarded), retrying as maxAttempts says.
func (c *Client) call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("sfnrest: %s: encode: %w", op, err)
	}
	for attempt := 1; ; attempt++ {
		retry, err := c.send(ctx, op, body, out)
		if err == nil {
			return nil
		}
		if !retry || attempt == maxAttempts || ctx.Err() != nil || wait(ctx, attempt) != nil {
			return fmt.Errorf("sfnrest: %s: %w", op, err)
		}
	}
}

// send makes one attempt; retry says whether another may succeed.
func (c *Client) send(ctx context.Context, op string, body []byte, out any) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.Endpoint, "/")+"/", bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "AWSStepFunctions."+op)
	if c.Credentials == nil {
		return false, errors.New("no credentials")
	}
	creds, err := c.Credentials.Retrieve(ctx)
	if err != nil {
		return false, fmt.Errorf("retrieve credentials: %w", err)
	}
	signer := c.signer
	if signer == nil {
		signer = v4.NewSigner()
	}
	sum := sha256.Sum256(body)
	if err := signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), signingName, c.Region, time.Now()); err != nil {
		return false, fmt.Errorf("sign: %w", err)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return true, err
	}
	defer func() { _ = resp.Body.Close() }()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return true, fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		e := apiError(resp, answer)
		return resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 || strings.Contains(e.Code, "Throttl"), e
	}
	if out == nil || len(bytes.TrimSpace(answer)) == 0 {
		return false, nil
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return false, fmt.Errorf("decode the answer: %w", err)
	}
	return false, nil
}

// apiError reads an error answer: the code from X-Amzn-ErrorType or the
// body's __type (the part after '#'), the message from message or Message.
func apiError(resp *http.Response, body []byte) *Error {
	var fields map[string]any
	_ = json.Unmarshal(body, &fields)
	str := func(keys ...string) string {
		for _, k := range keys {
			if v, ok := fields[k].(string); ok && v != "" {
				return v
			}
		}
		return ""
	}
	code, _, _ := strings.Cut(resp.Header.Get("X-Amzn-ErrorType"), ":")
	if code == "" {
		code = str("__type", "code")
	}
	if i := strings.LastIndex(code, "#"); i >= 0 {
		code = code[i+1:]
	}
	if code == "" {
		code = http.StatusText(resp.StatusCode)
	}
	msg := str("message", "Message")
	if msg == "" {
		msg = strings.TrimSpace(string(body))
	}
	return &Error{Status: resp.StatusCode, Code: code, Message: msg}
}

// wait sleeps before attempt+1: a random time up to 50 ms × 2^attempt, as
// the SDK's exponential backoff with full jitter.
func wait(ctx context.Context, attempt int) error {
	var b [8]byte
	_, _ = rand.Read(b[:])
	max := time.Duration(50<<attempt) * time.Millisecond
	d := time.Duration(binary.LittleEndian.Uint64(b[:]) % uint64(max))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

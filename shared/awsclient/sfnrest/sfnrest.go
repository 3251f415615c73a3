package sfnrest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/orrery-ml/orrery/shared/awsclient/envconfig"
	"github.com/orrery-ml/orrery/shared/awsclient/signedcall"
	"github.com/orrery-ml/orrery/shared/pipeline/sfnexec"
)

// signingName is Step Functions' SigV4 service name.
const signingName = "states"

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
		ep = signedcall.PublicEndpoint("states", cfg.Region)
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
// out (nil: discarded), retrying as signedcall.Client.Do does.
func (c *Client) call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("sfnrest: %s: encode: %w", op, err)
	}
	api := signedcall.Client{Service: signingName, Region: c.Region, Credentials: c.Credentials, HTTP: c.HTTP, Signer: c.signer}
	answer, err := api.Do(ctx, http.MethodPost, strings.TrimSuffix(c.Endpoint, "/")+"/", http.Header{
		"Content-Type": {"application/x-amz-json-1.0"},
		"X-Amz-Target": {"AWSStepFunctions." + op},
	}, body)
	if err == nil && out != nil && len(bytes.TrimSpace(answer)) > 0 {
		if err = json.Unmarshal(answer, out); err != nil {
			err = fmt.Errorf("decode the answer: %w", err)
		}
	}
	if err != nil {
		var refused *signedcall.Error
		if errors.As(err, &refused) {
			err = &Error{Status: refused.Status, Code: refused.Code, Message: refused.Message}
		}
		return fmt.Errorf("sfnrest: %s: %w", op, err)
	}
	return nil
}

package sfnrest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient/sfnrest"
	"github.com/orrery-ml/orrery/shared/pipeline/sfnexec"
)

// answer is one canned reply of the fake Step Functions API.
type answer struct {
	status  int
	fixture string // testdata file, the body ("": {})
}

// request is what the fake received.
type request struct {
	target, contentType, auth string
	body                      map[string]any
}

// fakeSFN answers each X-Amz-Target with its replies in turn (the last one
// repeated) and records the requests.
type fakeSFN struct {
	t       *testing.T
	replies map[string][]answer
	mu      sync.Mutex
	got     []request
}

func (f *fakeSFN) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	require.NoError(f.t, err)
	var body map[string]any
	require.NoError(f.t, json.Unmarshal(b, &body))
	target := r.Header.Get("X-Amz-Target")
	f.mu.Lock()
	f.got = append(f.got, request{target, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), body})
	list := f.replies[target]
	if len(list) == 0 || r.Method != http.MethodPost || r.URL.Path != "/" {
		f.mu.Unlock()
		f.t.Errorf("unexpected request %s %s %s", r.Method, r.URL.Path, target)
		http.Error(w, "unexpected", http.StatusBadRequest)
		return
	}
	a := list[0]
	if len(list) > 1 {
		f.replies[target] = list[1:]
	}
	f.mu.Unlock()
	out := []byte("{}")
	if a.fixture != "" {
		out, err = os.ReadFile(filepath.Join("testdata", a.fixture))
		require.NoError(f.t, err)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(a.status)
	_, _ = w.Write(out)
}

func newClient(t *testing.T, replies map[string][]answer) (*sfnrest.Client, *fakeSFN) {
	f := &fakeSFN{t: t, replies: replies}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, nil
		})}
	return sfnrest.New(cfg, func(string) string { return "" }), f
}

// TestWireShape: each operation is a signed JSON 1.0 POST to / with its
// X-Amz-Target and the fields the API documents.
func TestWireShape(t *testing.T) {
	const machine, exec = "arn:aws:states:us-east-1:123456789012:stateMachine:training", "arn:aws:states:us-east-1:123456789012:execution:training:job-1"
	c, f := newClient(t, map[string][]answer{
		"AWSStepFunctions.StartExecution":     {{200, ""}},
		"AWSStepFunctions.StopExecution":      {{200, ""}},
		"AWSStepFunctions.DescribeExecution":  {{200, "describe-execution.json"}},
		"AWSStepFunctions.CreateStateMachine": {{200, ""}},
		"AWSStepFunctions.UpdateStateMachine": {{200, ""}},
		"AWSStepFunctions.DeleteStateMachine": {{200, ""}},
	})
	ctx := t.Context()
	_, err := c.StartExecution(ctx, machine, "job-1", `{"job_id":"job-1"}`)
	require.NoError(t, err)
	require.NoError(t, c.StopExecution(ctx, exec, "Cancelled", "user"))
	d, err := c.DescribeExecution(ctx, exec)
	require.NoError(t, err)
	_, err = c.CreateStateMachine(ctx, "training", "{}", "arn:aws:iam::123456789012:role/r")
	require.NoError(t, err)
	require.NoError(t, c.UpdateStateMachine(ctx, machine, "{}", "arn:aws:iam::123456789012:role/r"))
	require.NoError(t, c.DeleteStateMachine(ctx, machine))

	want := []map[string]any{
		{"stateMachineArn": machine, "name": "job-1", "input": `{"job_id":"job-1"}`},
		{"executionArn": exec, "error": "Cancelled", "cause": "user"},
		{"executionArn": exec},
		{"name": "training", "definition": "{}", "roleArn": "arn:aws:iam::123456789012:role/r", "type": "STANDARD"},
		{"stateMachineArn": machine, "definition": "{}", "roleArn": "arn:aws:iam::123456789012:role/r"},
		{"stateMachineArn": machine},
	}
	require.Len(t, f.got, len(want))
	for i, r := range f.got {
		assert.Equal(t, want[i], r.body, r.target)
		assert.Equal(t, "application/x-amz-json-1.0", r.contentType, r.target)
		assert.True(t, strings.HasPrefix(r.auth, "AWS4-HMAC-SHA256 Credential=AKID/"), r.auth)
		assert.Contains(t, r.auth, "/us-east-1/states/aws4_request", r.target)
	}
	assert.Equal(t, "FAILED", d.Status)
	assert.Equal(t, "States.TaskFailed", d.Error)
	assert.Equal(t, "boom", d.Cause)
	require.NotNil(t, d.Input)
	assert.JSONEq(t, `{"job_id":"job-1"}`, *d.Input)
	assert.Nil(t, d.Output)
	assert.Equal(t, time.Unix(1764816000, 0).UTC(), d.StartDate)
	assert.Equal(t, time.Unix(1764816012, 500*int64(time.Millisecond)).UTC(), d.StopDate)
}

// TestErrors: the API's error codes match sfnexec's sentinels; a 5xx is
// retried, a 400 is not.
func TestErrors(t *testing.T) {
	c, f := newClient(t, map[string][]answer{
		"AWSStepFunctions.StartExecution":    {{400, "execution-already-exists.json"}},
		"AWSStepFunctions.DescribeExecution": {{400, "execution-does-not-exist.json"}},
		"AWSStepFunctions.StopExecution":     {{500, ""}, {200, ""}},
	})
	ctx := t.Context()
	_, err := c.StartExecution(ctx, "arn:aws:states:us-east-1:123456789012:stateMachine:training", "job-1", "{}")
	require.ErrorIs(t, err, sfnexec.ErrExecutionExists)
	var apiErr *sfnrest.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "ExecutionAlreadyExists", apiErr.Code)
	_, err = c.DescribeExecution(ctx, "arn:aws:states:us-east-1:123456789012:execution:training:nope")
	require.ErrorIs(t, err, sfnexec.ErrExecutionDoesNotExist)
	require.NotErrorIs(t, err, sfnexec.ErrExecutionExists)
	require.NoError(t, c.StopExecution(ctx, "arn:aws:states:us-east-1:123456789012:execution:training:job-1", "", ""))
	assert.Len(t, f.got, 4, "the 400s once each, the 500 retried")
}

// TestNewEndpoint: the SFN endpoint variable wins over the base endpoint;
// without either the region's public endpoint.
func TestNewEndpoint(t *testing.T) {
	env := map[string]string{"AWS_ENDPOINT_URL_SFN": "http://127.0.0.1:4566"}
	c := sfnrest.New(aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String("http://base")}, func(k string) string { return env[k] })
	assert.Equal(t, "http://127.0.0.1:4566", c.Endpoint)
	c = sfnrest.New(aws.Config{Region: "eu-west-1"}, func(string) string { return "" })
	assert.Equal(t, "https://states.eu-west-1.amazonaws.com", c.Endpoint)
	c = sfnrest.New(aws.Config{Region: "cn-north-1"}, func(string) string { return "" })
	assert.Equal(t, "https://states.cn-north-1.amazonaws.com.cn", c.Endpoint)
}

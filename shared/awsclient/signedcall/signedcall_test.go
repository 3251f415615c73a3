package signedcall_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient/signedcall"
)

func client(srv *httptest.Server) *signedcall.Client {
	return &signedcall.Client{Service: "states", Region: "eu-west-1", HTTP: srv.Client(),
		Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}, nil
		}))}
}

// A call arrives signed for its service and region, with its headers and
// body, and its answer comes back whole.
func TestDoSignsAndSends(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		assert.Equal(t, `{"name":"x"}`, string(body))
		assert.Equal(t, "AWSStepFunctions.StartExecution", r.Header.Get("X-Amz-Target"))
		auth := r.Header.Get("Authorization")
		assert.True(t, strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"), auth)
		assert.Contains(t, auth, "/eu-west-1/states/aws4_request")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	got, err := client(srv).Do(t.Context(), http.MethodPost, srv.URL+"/",
		http.Header{"X-Amz-Target": {"AWSStepFunctions.StartExecution"}}, []byte(`{"name":"x"}`))
	require.NoError(t, err)
	assert.Equal(t, `{"ok":true}`, string(got))
}

// A refusal is read into Error: the exception from the header (before
// ':'), else the body's __type (after '#'), the message from the body.
func TestDoReadsRefusals(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/header" {
			w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException:http://internal")
		}
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"com.amazonaws.swf.service.v2.model#ExecutionDoesNotExist","message":"no such execution"}`))
	}))
	defer srv.Close()
	for path, code := range map[string]string{"/header": "ResourceNotFoundException", "/body": "ExecutionDoesNotExist"} {
		_, err := client(srv).Do(t.Context(), http.MethodGet, srv.URL+path, nil, nil)
		var refused *signedcall.Error
		require.ErrorAs(t, err, &refused, path)
		assert.Equal(t, signedcall.Error{Status: 400, Code: code, Message: "no such execution"}, *refused, path)
	}
}

// Cancelling the context while a call waits to retry ends it at once with
// the refusal it had, not after the remaining attempts.
func TestDoStopsRetryingWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		cancel()
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	_, err := client(srv).Do(ctx, http.MethodGet, srv.URL+"/", nil, nil)
	require.Error(t, err)
	assert.EqualValues(t, 1, calls.Load(), "no attempt after the cancel")
}

func TestPublicEndpoint(t *testing.T) {
	assert.Equal(t, "https://states.eu-west-1.amazonaws.com", signedcall.PublicEndpoint("states", "eu-west-1"))
	assert.Equal(t, "https://lambda.cn-north-1.amazonaws.com.cn", signedcall.PublicEndpoint("lambda", "cn-north-1"))
}

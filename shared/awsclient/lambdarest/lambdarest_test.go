package lambdarest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient/lambdarest"
	"github.com/orrery-ml/orrery/shared/serving/lambdaalias"
)

// answer is one canned reply of the fake Lambda API.
type answer struct {
	status  int
	errType string // X-Amzn-ErrorType
	fixture string // testdata file, the body
}

// fakeLambda answers each "METHOD path?query" with its replies in turn (the
// last one repeated) and records the requests.
type fakeLambda struct {
	t       *testing.T
	replies map[string][]answer
	mu      sync.Mutex
	got     []*http.Request
}

func (f *fakeLambda) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.got = append(f.got, r)
	key := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		key += "?" + r.URL.RawQuery
	}
	list := f.replies[key]
	if len(list) == 0 {
		f.mu.Unlock()
		f.t.Errorf("unexpected request %s", key)
		http.Error(w, "unexpected", http.StatusBadRequest)
		return
	}
	a := list[0]
	if len(list) > 1 {
		f.replies[key] = list[1:]
	}
	f.mu.Unlock()
	body, err := os.ReadFile(filepath.Join("testdata", a.fixture))
	require.NoError(f.t, err)
	if a.errType != "" {
		w.Header().Set("X-Amzn-ErrorType", a.errType)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = w.Write(body)
}

func newClient(t *testing.T, replies map[string][]answer) (*lambdarest.Client, *fakeLambda) {
	fake := &fakeLambda{t: t, replies: replies}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cfg := aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}, nil
		}))}
	return lambdarest.New(cfg, func(string) string { return "" }), fake
}

func TestListAliasesReadsEveryPage(t *testing.T) {
	c, fake := newClient(t, map[string][]answer{
		"GET /2015-03-31/functions/predict/aliases":               {{200, "", "list-aliases-1.json"}},
		"GET /2015-03-31/functions/predict/aliases?Marker=page-2": {{200, "", "list-aliases-2.json"}},
	})
	got, err := c.ListAliases(t.Context(), "predict")
	require.NoError(t, err)
	assert.Equal(t, []lambdaalias.Alias{
		{Name: "live", FunctionVersion: "2", AdditionalVersionWeights: map[string]float64{"3": 0.2}},
		{Name: "fresh", FunctionVersion: "1"},
	}, got)
	require.Len(t, fake.got, 2)
	auth := fake.got[0].Header.Get("Authorization")
	assert.True(t, strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"), auth)
	assert.Contains(t, auth, "/eu-west-1/lambda/aws4_request", "signed for the region and the lambda service")
	assert.NotEmpty(t, fake.got[0].Header.Get("X-Amz-Date"))
}

func TestGetAliasAndVariables(t *testing.T) {
	c, _ := newClient(t, map[string][]answer{
		"GET /2015-03-31/functions/predict/aliases/live":                      {{200, "", "list-aliases-1.json"}},
		"GET /2015-03-31/functions/predict/configuration?Qualifier=2":         {{200, "", "get-function-configuration.json"}},
		"GET /2015-03-31/functions/predict/aliases/absent":                    {{404, "ResourceNotFoundException", "not-found.json"}},
		"GET /2015-03-31/functions/predict/configuration?Qualifier=%24LATEST": {{404, "ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.awslambda/", "not-found.json"}},
	})
	ctx := t.Context()
	vars, err := c.Variables(ctx, "predict", "2")
	require.NoError(t, err)
	assert.Equal(t, "mdl-a", vars["ORRERY_MODEL_ID"])

	_, err = c.GetAlias(ctx, "predict", "absent")
	require.ErrorIs(t, err, lambdaalias.ErrNotFound)
	var refused *lambdarest.Error
	require.ErrorAs(t, err, &refused)
	assert.Equal(t, lambdarest.Error{Status: 404, Code: "ResourceNotFoundException",
		Message: "Alias not found: arn:aws:lambda:us-east-1:123456789012:function:predict:absent"}, *refused)

	_, err = c.Variables(ctx, "predict", "$LATEST")
	require.ErrorIs(t, err, lambdaalias.ErrNotFound, "the exception's name is read before the header's ':'")
}

func TestRetriesWhatTheServiceMayAnswerLater(t *testing.T) {
	tests := []struct {
		name     string
		replies  []answer
		wantErr  string
		attempts int
	}{
		{"a 503 then the answer", []answer{{503, "ServiceException", "not-found.json"}, {200, "", "get-function-configuration.json"}}, "", 2},
		{"throttled then the answer", []answer{{429, "TooManyRequestsException", "not-found.json"}, {200, "", "get-function-configuration.json"}}, "", 2},
		{"503 three times: the last refusal", []answer{{503, "ServiceException", "not-found.json"}}, "503 ServiceException", 3},
		{"a refusal is not retried", []answer{{403, "AccessDeniedException", "not-found.json"}}, "403 AccessDeniedException", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, fake := newClient(t, map[string][]answer{"GET /2015-03-31/functions/predict/configuration?Qualifier=2": tc.replies})
			vars, err := c.Variables(t.Context(), "predict", "2")
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.NotErrorIs(t, err, lambdaalias.ErrNotFound)
			} else {
				require.NoError(t, err)
				assert.Equal(t, "mdl-a", vars["ORRERY_MODEL_ID"])
			}
			assert.Len(t, fake.got, tc.attempts)
		})
	}
}

func TestNewPicksTheEndpoint(t *testing.T) {
	tests := []struct {
		name string
		cfg  aws.Config
		env  map[string]string
		want string
	}{
		{"the region's public endpoint", aws.Config{Region: "eu-west-1"}, nil, "https://lambda.eu-west-1.amazonaws.com"},
		{"a China region", aws.Config{Region: "cn-north-1"}, nil, "https://lambda.cn-north-1.amazonaws.com.cn"},
		{"the configuration's base endpoint", aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String("http://127.0.0.1:5000")}, nil,
			"http://127.0.0.1:5000"},
		{"AWS_ENDPOINT_URL_LAMBDA first", aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String("http://127.0.0.1:5000")},
			map[string]string{"AWS_ENDPOINT_URL_LAMBDA": "http://127.0.0.1:6000"}, "http://127.0.0.1:6000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := lambdarest.New(tc.cfg, func(k string) string { return tc.env[k] })
			assert.Equal(t, tc.want, c.Endpoint)
			assert.Equal(t, tc.cfg.Region, c.Region)
		})
	}
}

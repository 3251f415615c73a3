package mlflow

import (
	"fmt"
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
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeSageMaker stands in for SageMaker's MLflow endpoint: runs/get answers
// with root as the run's artifact_uri; every request is recorded.
func fakeSageMaker(t *testing.T, root string) (*httptest.Server, func() []string) {
	t.Helper()
	var (
		mu   sync.Mutex
		seen []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path)
		mu.Unlock()
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			http.Error(w, "unsigned", http.StatusForbidden)
			return
		}
		if r.URL.Path == "/api/2.0/mlflow/runs/get" {
			fmt.Fprintf(w, `{"run": {"info": {"run_id": %q, "artifact_uri": %q}}}`, r.URL.Query().Get("run_id"), root)
			return
		}
		w.Write([]byte("{}"))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

func sageMakerEnv(t *testing.T, endpoint string) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv(SageMakerAssumeRoleEnv, "")
	t.Setenv(SageMakerEndpointEnv, endpoint)
}

// TestSageMakerArtifactsGoToTheRunsS3Root: with an ARN tracking URI an
// artifact goes to the run's s3:// artifact root (read back from moto's S3),
// not to the proxied artifact API, and the run's root is asked for once.
func TestSageMakerArtifactsGoToTheRunsS3Root(t *testing.T) {
	endpoint := os.Getenv("ORRERY_TEST_AWS_ENDPOINT")
	if endpoint == "" {
		t.Skip("ORRERY_TEST_AWS_ENDPOINT is unset: no moto server (make test starts one)")
	}
	ctx := t.Context()
	bucket := fmt.Sprintf("orrery-mlflow-%d", time.Now().UnixNano())
	srv, seen := fakeSageMaker(t, "s3://"+bucket+"/ml-artifacts/7/r1/artifacts")
	sageMakerEnv(t, srv.URL)
	t.Setenv("AWS_ENDPOINT_URL_S3", endpoint)
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
	require.NoError(t, err)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle, o.DisableLogOutputChecksumValidationSkipped = true, true })
	_, err = s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)

	c, err := NewFromEnv("arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/orrery-test")
	require.NoError(t, err)
	require.NoError(t, c.UploadArtifact(ctx, "7", "r1", "model/MLmodel", []byte("flavors: {}\n")))
	require.NoError(t, c.UploadArtifact(ctx, "7", "r1", "/model/model.onnx", []byte{1, 2, 3}))

	for key, want := range map[string][]byte{
		"ml-artifacts/7/r1/artifacts/model/MLmodel":    []byte("flavors: {}\n"),
		"ml-artifacts/7/r1/artifacts/model/model.onnx": {1, 2, 3},
	} {
		out, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		require.NoError(t, err, key)
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, want, got, key)
	}
	assert.Equal(t, []string{"GET /api/2.0/mlflow/runs/get"}, seen(), "one signed runs/get, no proxied upload")
}

// TestSageMakerArtifactsOutsideS3UseTheProxiedAPI: a run whose root is not
// in S3 (mlflow-artifacts:) gets its artifacts through the proxied API,
// signed like every other request.
func TestSageMakerArtifactsOutsideS3UseTheProxiedAPI(t *testing.T) {
	srv, seen := fakeSageMaker(t, "mlflow-artifacts:/7/r1/artifacts")
	sageMakerEnv(t, srv.URL)
	c, err := NewFromEnv("arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/orrery-test")
	require.NoError(t, err)
	require.NoError(t, c.UploadArtifact(t.Context(), "7", "r1", "report.json", []byte(`{}`)))
	assert.Equal(t, []string{"GET /api/2.0/mlflow/runs/get", "PUT /api/2.0/mlflow-artifacts/artifacts/7/r1/artifacts/report.json"}, seen())
}

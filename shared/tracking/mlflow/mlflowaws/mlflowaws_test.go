package mlflowaws_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/tracking/mlflow"
	"github.com/orrery-ml/orrery/shared/tracking/mlflow/mlflowaws"
)

const testARN = "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/orrery-test"

// sageMakerStub stands in for SageMaker's MLflow endpoint and records the
// access key id of each request's SigV4 Authorization header.
func sageMakerStub(t *testing.T) (keys func() []string) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		key, _, _ := strings.Cut(strings.TrimPrefix(auth, "AWS4-HMAC-SHA256 Credential="), "/")
		mu.Lock()
		got = append(got, key)
		mu.Unlock()
		_, _ = w.Write([]byte(`{"experiment": {"experiment_id": "7"}}`))
	}))
	t.Cleanup(srv.Close)
	t.Setenv(mlflow.SageMakerEndpointEnv, srv.URL)
	t.Setenv(mlflow.SageMakerAssumeRoleEnv, "")
	return func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), got...) }
}

// TestNewFromEnvUsesTheFullCredentialChain: with no credentials in the
// environment but a shared credentials file, mlflowaws's client signs with
// the file's key (the SDK's default chain), where mlflow.NewFromEnv's, which
// reads the environment alone, fails to sign.
func TestNewFromEnvUsesTheFullCredentialChain(t *testing.T) {
	keys := sageMakerStub(t)
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	require.NoError(t, os.WriteFile(creds, []byte("[default]\naws_access_key_id = AKIDFROMFILE\naws_secret_access_key = secret\n"), 0o600))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	c, err := mlflowaws.NewFromEnv(testARN)
	require.NoError(t, err)
	id, err := c.ExperimentID(t.Context(), "orrery")
	require.NoError(t, err)
	assert.Equal(t, "7", id)
	assert.Equal(t, []string{"AKIDFROMFILE"}, keys())

	envOnly, err := mlflow.NewFromEnv(testARN)
	require.NoError(t, err)
	_, err = envOnly.ExperimentID(t.Context(), "orrery")
	require.Error(t, err, "the environment holds no credentials")
	assert.Len(t, keys(), 1, "nothing unsigned was sent")
}

// TestNewFromEnvLeavesOtherServersToMLflow: an http(s) tracking URI is
// mlflow.NewFromEnv's, and a role to assume makes mlflow.NewFromEnv's
// requests fail with ErrNeedsAWSChain while its links stay usable.
func TestNewFromEnvLeavesOtherServersToMLflow(t *testing.T) {
	c, err := mlflowaws.NewFromEnv("http://127.0.0.1:5055/")
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:5055", c.Base())

	keys := sageMakerStub(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	withRole, err := mlflow.NewFromEnv(testARN + "#arn:aws:iam::123456789012:role/mlflow-writer")
	require.NoError(t, err)
	assert.NotEmpty(t, withRole.Base(), "the links need no credentials")
	_, err = withRole.ExperimentID(t.Context(), "orrery")
	require.ErrorIs(t, err, mlflow.ErrNeedsAWSChain)
	assert.Empty(t, keys(), "nothing was sent")

	envOnly, err := mlflow.NewFromEnv(testARN)
	require.NoError(t, err)
	_, err = envOnly.ExperimentID(t.Context(), "orrery")
	require.NoError(t, err)
	assert.Equal(t, []string{"AKIDENV"}, keys(), "the environment's credentials sign")
}

package mlflow

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testARN = "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/orrery-test"

func TestParseTrackingServerARN(t *testing.T) {
	t.Setenv(SageMakerAssumeRoleEnv, "")
	t.Setenv(SageMakerEndpointEnv, "")
	a, err := ParseTrackingServerARN(testARN)
	require.NoError(t, err)
	assert.Equal(t, TrackingServerARN{ARN: testARN, Partition: "aws", Region: "eu-west-1", Account: "123456789012", Name: "orrery-test"}, a)
	assert.Equal(t, "https://eu-west-1.experiments.sagemaker.aws", a.Endpoint())

	withRole, err := ParseTrackingServerARN(testARN + "#arn:aws:iam::123456789012:role/mlflow-writer")
	require.NoError(t, err)
	assert.Equal(t, testARN, withRole.ARN, "the role is not part of the server's ARN")
	assert.Equal(t, "arn:aws:iam::123456789012:role/mlflow-writer", withRole.AssumeRole)

	for name, uri := range map[string]string{
		"not sagemaker":      "arn:aws:s3:eu-west-1:123456789012:mlflow-tracking-server/x",
		"other resource":     "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/x",
		"no name":            "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/",
		"no region":          "arn:aws:sagemaker::123456789012:mlflow-tracking-server/x",
		"too short":          "arn:aws:sagemaker:eu-west-1",
		"unknown partition":  "arn:aws-cn:sagemaker:cn-north-1:123456789012:mlflow-tracking-server/x",
		"role is not a role": testARN + "#arn:aws:iam::123456789012:user/bob",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseTrackingServerARN(uri)
			assert.True(t, errors.Is(err, ErrBadARN), "%v", err)
			assert.Contains(t, err.Error(), uri)
			_, err = NewFromEnv(uri)
			assert.True(t, errors.Is(err, ErrBadARN), "NewFromEnv refuses it too: %v", err)
		})
	}
	t.Setenv(SageMakerEndpointEnv, "http://127.0.0.1:1234/")
	assert.Equal(t, "http://127.0.0.1:1234", a.Endpoint(), "SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT wins")
}

// received is one request as the server saw it.
type received struct {
	method, path, rawQuery string
	header                 http.Header
	body                   []byte
}

// TestSigV4SignsEveryRequest sends a JSON POST, GETs (one with a space in
// its query) and an artifact PUT (the run's root is not in S3) through a client made by NewFromEnv from a
// tracking server ARN, with credentials from the environment (what NewFromEnv
// signs with), to a local server standing in for SageMaker's endpoint. The
// server checks what SageMaker checks: the Authorization header's shape
// (credential scope with the ARN's region and the sagemaker-mlflow service,
// the signed headers), that X-Amz-Content-Sha256 is the SHA-256 of the body
// it received, the tracking-server ARN header, and — recomputed here from
// the Signature Version 4 specification with the secret key, not with the
// SDK — the signature itself.
func TestSigV4SignsEveryRequest(t *testing.T) {
	var (
		mu   sync.Mutex
		reqs []received
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, received{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), b})
		mu.Unlock()
		switch {
		case strings.HasSuffix(r.URL.Path, "/experiments/get-by-name"):
			w.Write([]byte(`{"experiment": {"experiment_id": "7"}}`))
		case strings.HasSuffix(r.URL.Path, "/runs/get"):
			w.Write([]byte(`{"run": {"info": {"run_id": "r1", "artifact_uri": "mlflow-artifacts:/7/r1/artifacts"}}}`))
		default:
			w.Write([]byte(`{"run": {"info": {"run_id": "r1"}}}`))
		}
	}))
	defer srv.Close()

	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDORRERYTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "orrery-secret")
	t.Setenv("AWS_SESSION_TOKEN", "orrery-session")
	t.Setenv("MLFLOW_TRACKING_TOKEN", "must-not-be-sent")
	t.Setenv(SageMakerAssumeRoleEnv, "")
	t.Setenv(SageMakerEndpointEnv, srv.URL)

	c, err := NewFromEnv(testARN)
	require.NoError(t, err)
	ctx := t.Context()
	id, err := c.ExperimentID(ctx, "orrery htru2")
	require.NoError(t, err)
	assert.Equal(t, "7", id)
	run, err := c.CreateRun(ctx, id, "train", "", 1700000000000, []KV{{"k", "v"}})
	require.NoError(t, err)
	require.NoError(t, c.UploadArtifact(ctx, id, run, "model/MLmodel", []byte("flavors: {}\n")))

	require.Len(t, reqs, 4, "get-by-name, runs/create, runs/get (the artifact root), the artifact PUT")
	assert.Equal(t, "experiment_name=orrery%20htru2", reqs[0].rawQuery, "spaces in the query are %20, as signed")
	auth := regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=AKIDORRERYTEST/(\d{8})/eu-west-1/sagemaker-mlflow/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$`)
	for _, r := range reqs {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			m := auth.FindStringSubmatch(r.header.Get("Authorization"))
			require.NotNil(t, m, "Authorization %q", r.header.Get("Authorization"))
			day, signed, sig := m[1], strings.Split(m[2], ";"), m[3]
			for _, h := range []string{"host", "x-amz-content-sha256", "x-amz-date", "x-amz-security-token", "x-mlflow-sm-tracking-server-arn"} {
				assert.Contains(t, signed, h, "signed headers")
			}
			sum := sha256.Sum256(r.body)
			assert.Equal(t, hex.EncodeToString(sum[:]), r.header.Get("X-Amz-Content-Sha256"), "the body hash is that of the body received")
			assert.Equal(t, testARN, r.header.Get(SageMakerARNHeader))
			assert.Equal(t, "orrery-session", r.header.Get("X-Amz-Security-Token"))
			assert.True(t, strings.HasPrefix(r.header.Get("X-Amz-Date"), day))
			assert.Equal(t, sig, sigV4Signature(t, r, signed, srv.Listener.Addr().String(), day, "orrery-secret"), "the signature verifies")
		})
	}
	assert.Equal(t, "/api/2.0/mlflow-artifacts/artifacts/7/r1/artifacts/model/MLmodel", reqs[3].path)
	assert.Equal(t, []byte("flavors: {}\n"), reqs[3].body, "the artifact arrives whole")

	// A body changed after signing no longer verifies.
	tampered := reqs[1]
	tampered.body = append([]byte(nil), tampered.body...)
	tampered.body[0] = ' '
	sum := sha256.Sum256(tampered.body)
	tampered.header = tampered.header.Clone()
	tampered.header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
	m := auth.FindStringSubmatch(tampered.header.Get("Authorization"))
	assert.NotEqual(t, m[3], sigV4Signature(t, tampered, strings.Split(m[2], ";"), srv.Listener.Addr().String(), m[1], "orrery-secret"))
}

// sigV4Signature computes a request's Signature Version 4 signature
// (docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html):
// canonical request, string to sign, and the derived signing key.
func sigV4Signature(t *testing.T, r received, signed []string, host, day, secret string) string {
	t.Helper()
	q, err := url.ParseQuery(r.rawQuery)
	require.NoError(t, err)
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, uriEncode(k)+"="+uriEncode(v))
		}
	}
	sort.Strings(pairs)
	var canonHeaders strings.Builder
	for _, h := range signed {
		v := r.header.Get(h)
		if h == "host" {
			v = host
		}
		canonHeaders.WriteString(h + ":" + strings.Join(strings.Fields(v), " ") + "\n")
	}
	canonical := strings.Join([]string{r.method, r.path, strings.Join(pairs, "&"), canonHeaders.String(),
		strings.Join(signed, ";"), r.header.Get("X-Amz-Content-Sha256")}, "\n")
	scope := day + "/eu-west-1/sagemaker-mlflow/aws4_request"
	ch := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + r.header.Get("X-Amz-Date") + "\n" + scope + "\n" + hex.EncodeToString(ch[:])
	mac := func(key []byte, s string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(s))
		return h.Sum(nil)
	}
	key := mac(mac(mac(mac([]byte("AWS4"+secret), day), "eu-west-1"), "sagemaker-mlflow"), "aws4_request")
	return hex.EncodeToString(mac(key, toSign))
}

// uriEncode is SigV4's UriEncode: every byte but A-Z a-z 0-9 - _ . ~ as %XX.
func uriEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
		}
	}
	return b.String()
}

package embedded

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/mlflowmirror"
	"github.com/orrery-ml/orrery/shared/synthetic"
)

// homeWithConfig returns a fresh home directory whose config.json is body.
func homeWithConfig(t *testing.T, body string) string {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	require.NoError(t, os.MkdirAll(home, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(home, HomeConfigFile), []byte(body), 0o644))
	return home
}

// unavailableServer answers every request 503 and remembers the paths
// asked for.
type unavailableServer struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

func newUnavailableServer(t *testing.T) *unavailableServer {
	s := &unavailableServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.paths = append(s.paths, r.URL.Path)
		s.mu.Unlock()
		http.Error(w, `{"error_code":"TEMPORARILY_UNAVAILABLE"}`, http.StatusServiceUnavailable)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *unavailableServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.paths...)
}

// TestHomeConfigTrackingURITurnsTrackingOn: with no $MLFLOW_TRACKING_URI, a
// home whose config.json names a tracking server mirrors into it — the
// job's status has a tracking block with its queued calls, and the drainer
// calls that server.
func TestHomeConfigTrackingURITurnsTrackingOn(t *testing.T) {
	t.Setenv(mlflowmirror.EnvTrackingURI, "")
	srv := newUnavailableServer(t)
	home := homeWithConfig(t, `{"tracking_uri": "`+srv.URL+`"}`)
	rt, err := Open(context.Background(), home, nil)
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	require.NotNil(t, rt.Mirror, "tracking_uri in config.json turns the mirror on")
	assert.Equal(t, srv.URL, rt.Mirror.URI())

	cfg := quickConfig(writeCSV(t, t.TempDir(), "a.csv", synthetic.TwoClassCSV(400, 1)))
	cfg.Epochs = 5
	res, err := train(t.Context(), t, rt, cfg)
	require.NoError(t, err, "a tracking server that is down never fails a job")

	st, err := rt.TrackingStatus(t.Context(), res.JobID)
	require.NoError(t, err)
	require.NotNil(t, st, "the job's status has a tracking block")
	assert.Contains(t, []string{mlflowmirror.StatePending, mlflowmirror.StateBehind}, st.State)
	assert.Positive(t, st.Pending, "the job's epochs and end are queued")

	deadline := time.Now().Add(time.Minute)
	for len(srv.seen()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the mirror never called the server named in config.json")
		}
		time.Sleep(20 * time.Millisecond)
	}
	assert.True(t, strings.HasPrefix(srv.seen()[0], "/api/2.0/mlflow"), "an MLflow REST call: %s", srv.seen()[0])
}

// TestTrackingURIVariableWinsOverHomeConfig: both set, the environment
// variable names the server; neither set, tracking is off.
func TestTrackingURIVariableWinsOverHomeConfig(t *testing.T) {
	home := homeWithConfig(t, `{"tracking_uri": "http://127.0.0.1:1/from-config"}`)
	t.Setenv(mlflowmirror.EnvTrackingURI, "http://127.0.0.1:1/from-env")
	rt, err := Open(context.Background(), home, nil)
	require.NoError(t, err)
	require.NotNil(t, rt.Mirror)
	assert.Equal(t, "http://127.0.0.1:1/from-env", rt.Mirror.URI())
	require.NoError(t, rt.Close())

	t.Setenv(mlflowmirror.EnvTrackingURI, "")
	rt, err = Open(context.Background(), homeWithConfig(t, `{}`), nil)
	require.NoError(t, err)
	assert.Nil(t, rt.Mirror, "an empty config.json leaves tracking off")
	st, err := rt.TrackingStatus(t.Context(), "any-job")
	require.NoError(t, err)
	assert.Nil(t, st, "no tracking block with tracking off")
	require.NoError(t, rt.Close())
}

// TestBadHomeConfigIsRefused: a config.json that is not a HomeConfig stops
// Open with an error naming the file and what is wrong, before orrery.db
// exists.
func TestBadHomeConfigIsRefused(t *testing.T) {
	t.Setenv(mlflowmirror.EnvTrackingURI, "")
	for _, tc := range []struct{ name, body, want string }{
		{"unknown field", `{"tracking_url": "http://127.0.0.1:5000"}`, `unknown field "tracking_url"`},
		{"wrong type", `{"tracking_uri": 5000}`, "tracking_uri"},
		{"not JSON", `tracking_uri = "http://127.0.0.1:5000"`, "invalid character"},
		{"trailing data", `{"tracking_uri": "http://127.0.0.1:5000"} {}`, "data after the JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := homeWithConfig(t, tc.body)
			rt, err := Open(context.Background(), home, nil)
			require.Error(t, err)
			assert.Nil(t, rt)
			assert.ErrorIs(t, err, ErrBadHomeConfig)
			assert.Contains(t, err.Error(), filepath.Join(home, HomeConfigFile))
			assert.Contains(t, err.Error(), tc.want)
			assert.NoFileExists(t, filepath.Join(home, dbFile), "nothing written")
		})
	}

	t.Run("not a tracking URI", func(t *testing.T) {
		home := homeWithConfig(t, `{"tracking_uri": "ftp://127.0.0.1/mlflow"}`)
		rt, err := Open(context.Background(), home, nil)
		require.Error(t, err)
		assert.Nil(t, rt)
		assert.Contains(t, err.Error(), filepath.Join(home, HomeConfigFile)+": tracking_uri")
		assert.Contains(t, err.Error(), "ftp://127.0.0.1/mlflow")
	})
}

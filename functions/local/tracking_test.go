package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/embedded"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/mlflowmirror"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// mlflowOutage stands between the mirror and the real MLflow server
// (ORRERY_TEST_MLFLOW_URI) on a port of its own: stop closes its listener
// and cuts every open connection — to the client, the server is gone,
// mid-request or not — and start listens on the same port again, in front
// of the same server and backend store. (A second `mlflow server` stopped
// and started takes minutes to come up on a loaded machine; what the
// client sees is the same.)
type mlflowOutage struct {
	t        *testing.T
	upstream string
	addr     string

	mu    sync.Mutex
	drop  bool
	ln    net.Listener
	conns map[net.Conn]bool
}

func newMLflowOutage(t *testing.T) *mlflowOutage {
	t.Helper()
	uri := os.Getenv("ORRERY_TEST_MLFLOW_URI")
	if uri == "" {
		t.Skip("ORRERY_TEST_MLFLOW_URI is unset: no MLflow server (make test starts one)")
	}
	u, err := url.Parse(uri)
	require.NoError(t, err)
	o := &mlflowOutage{t: t, upstream: u.Host, addr: "127.0.0.1:0", conns: map[net.Conn]bool{}}
	o.start()
	t.Cleanup(o.stop)
	return o
}

func (o *mlflowOutage) uri() string { return "http://" + o.addr }

func (o *mlflowOutage) start() {
	o.t.Helper()
	ln, err := net.Listen("tcp", o.addr)
	require.NoError(o.t, err)
	o.mu.Lock()
	o.ln, o.addr, o.drop = ln, ln.Addr().String(), false
	o.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go o.pipe(c)
		}
	}()
}

func (o *mlflowOutage) pipe(c net.Conn) {
	up, err := net.Dial("tcp", o.upstream)
	if err != nil {
		c.Close()
		return
	}
	o.mu.Lock()
	if o.ln == nil {
		o.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	o.conns[c], o.conns[up] = true, true
	o.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() {
		// Answers go back unless replies are dropped: then the request has
		// reached the server, which has done its work, and the client
		// sees its connection cut.
		buf := make([]byte, 32<<10)
		for {
			n, err := up.Read(buf)
			if n > 0 {
				if o.dropping() {
					break
				}
				if _, werr := c.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		done <- struct{}{}
	}()
	<-done
	c.Close()
	up.Close()
	o.mu.Lock()
	delete(o.conns, c)
	delete(o.conns, up)
	o.mu.Unlock()
}

func (o *mlflowOutage) dropping() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.drop
}

// dropReplies lets every request through to the server but no answer
// back (until start): each call the client makes is done, and looks
// failed to it.
func (o *mlflowOutage) dropReplies() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.drop = true
}

// stop takes the server away: the port refuses connections and every open
// one is cut.
func (o *mlflowOutage) stop() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ln != nil {
		o.ln.Close()
		o.ln = nil
	}
	for c := range o.conns {
		c.Close()
	}
	clear(o.conns)
}

func restGet(t *testing.T, uri, path string, out any) {
	t.Helper()
	resp, err := http.Get(uri + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, b)
	require.NoError(t, json.Unmarshal(b, out), "%s", b)
}

// mlflowCounts reads back, through MLflow's REST API, the runs tagged with
// the job, each metric key's points (and how many distinct steps they
// have), and the model versions of the name.
func mlflowCounts(t *testing.T, uri, experiment, jobID, modelName string) (runs int, points, steps map[string]int, versions int) {
	t.Helper()
	var exp struct {
		Experiment struct {
			ID string `json:"experiment_id"`
		} `json:"experiment"`
	}
	restGet(t, uri, "/api/2.0/mlflow/experiments/get-by-name?experiment_name="+url.QueryEscape(experiment), &exp)
	resp, err := http.Post(uri+"/api/2.0/mlflow/runs/search", "application/json", strings.NewReader(fmt.Sprintf(
		`{"experiment_ids": [%q], "max_results": 100, "filter": "tags.orrery.job_id = '%s'"}`, exp.Experiment.ID, jobID)))
	require.NoError(t, err)
	var found struct {
		Runs []struct {
			Info struct {
				RunID string `json:"run_id"`
			} `json:"info"`
		} `json:"runs"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&found))
	resp.Body.Close()
	points, steps = map[string]int{}, map[string]int{}
	for _, r := range found.Runs {
		runs++
		for _, key := range []string{"loss", "val_loss", "val_auc_pr", "auc_roc"} {
			var h struct {
				Metrics []struct {
					Step int64 `json:"step"`
				} `json:"metrics"`
			}
			restGet(t, uri, "/api/2.0/mlflow/metrics/get-history?max_results=5000&run_id="+r.Info.RunID+"&metric_key="+key, &h)
			seen := map[int64]bool{}
			for _, p := range h.Metrics {
				seen[p.Step] = true
			}
			points[key] += len(h.Metrics)
			steps[key] += len(seen)
		}
	}
	var mv struct {
		Versions []struct{} `json:"model_versions"`
	}
	restGet(t, uri, "/api/2.0/mlflow/model-versions/search?filter="+url.QueryEscape("name='"+modelName+"'"), &mv)
	return runs, points, steps, len(mv.Versions)
}

// TestTrackingOutageThenSync troubles the MLflow server in the middle of a
// training job, from the job's own progress events so that it always falls
// on the same epochs: from the first epoch the server does what it is asked but no
// answer comes back (every call looks failed, and was done), from epoch 8
// it is gone. The job succeeds and its status says tracking is behind;
// with the server back (the same server and files), `orrery tracking sync`
// fills MLflow in, and a second sync adds nothing — one
// run, one point per epoch, one model version.
func TestTrackingOutageThenSync(t *testing.T) {
	srv := newMLflowOutage(t)
	experiment := fmt.Sprintf("orrery-outage-%d", time.Now().UnixNano())
	t.Setenv(mlflowmirror.EnvTrackingURI, srv.uri())
	t.Setenv(mlflowmirror.EnvExperimentName, experiment)
	home := filepath.Join(t.TempDir(), "home")
	ctx := context.Background()

	var dropOnce, stopOnce sync.Once
	stopAt := tracking.RecorderFunc(func(_ context.Context, e tracking.Event) error {
		if e.Kind == tracking.Progress && e.Stage == "train" && e.Step == 1 {
			dropOnce.Do(srv.dropReplies)
		}
		if e.Kind == tracking.Progress && e.Stage == "train" && e.Step == 8 {
			stopOnce.Do(srv.stop)
		}
		return nil
	})
	var trouble atomic.Bool
	rt, err := embedded.Open(ctx, home, tracking.RecorderFunc(func(ctx context.Context, e tracking.Event) error {
		if trouble.Load() {
			return stopAt.Record(ctx, e)
		}
		return nil
	}))
	require.NoError(t, err)
	x, err := rt.Executions(embedded.ExecutionOptions{Parallel: 1})
	require.NoError(t, err)
	modelName := fmt.Sprintf("outage-%d", time.Now().UnixNano())
	off := false
	cfg := training.TrainingConfig{DatasetPath: sampleCSV(t), TargetColumn: "kind", PositiveClass: "real",
		Name: modelName, Epochs: 3, HiddenLayers: []int{8}, BatchSize: 32, LearningRate: 0.01,
		EarlyStop: training.EarlyStopping{Enabled: &off}}
	// A first job while all is well: the mirror knows its experiment.
	first, err := rt.Train(ctx, x, cfg)
	require.NoError(t, err)
	for st, err := rt.Mirror.Status(ctx, first.JobID); st.State != mlflowmirror.StateSynced; st, err = rt.Mirror.Status(ctx, first.JobID) {
		require.NoError(t, err)
		require.NotEqual(t, mlflowmirror.StateFailed, st.State, st.LastError)
		time.Sleep(50 * time.Millisecond)
	}
	trouble.Store(true)
	cfg.Epochs = 12
	res, err := rt.Train(ctx, x, cfg)
	require.NoError(t, err, "the job succeeds with its tracking server down")
	require.Equal(t, 12, res.Training.EpochsRun)

	deadline := time.Now().Add(2 * time.Minute)
	for {
		st, err := rt.Mirror.Status(ctx, res.JobID)
		require.NoError(t, err)
		if st.State == mlflowmirror.StateBehind {
			break
		}
		require.True(t, time.Now().Before(deadline), "tracking never fell behind: %+v", st)
		time.Sleep(50 * time.Millisecond)
	}
	code, out, errOut := runArgs(t, "status", res.JobID, "--json", "--home", home)
	require.Equal(t, 0, code, errOut)
	var status struct {
		Status   string `json:"status"`
		Tracking struct {
			State     string `json:"state"`
			LastError string `json:"last_error"`
			Pending   int    `json:"pending"`
		} `json:"tracking"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &status), out)
	assert.Equal(t, "SUCCEEDED", status.Status)
	assert.Equal(t, mlflowmirror.StateBehind, status.Tracking.State)
	assert.NotEmpty(t, status.Tracking.LastError)
	assert.Positive(t, status.Tracking.Pending)
	require.NoError(t, x.Close(ctx))
	require.NoError(t, rt.Close())

	srv.start()
	code, out, errOut = runArgs(t, "tracking", "sync", res.JobID, "--json", "--home", home)
	require.Equal(t, 0, code, errOut)
	var synced syncResult
	require.NoError(t, json.Unmarshal([]byte(out), &synced), out)
	assert.Positive(t, synced.Sent)
	require.NotNil(t, synced.Tracking)
	assert.Equal(t, mlflowmirror.StateSynced, synced.Tracking.State)

	runs, points, steps, versions := mlflowCounts(t, srv.uri(), experiment, res.JobID, modelName)
	assert.Equal(t, 1, runs, "one run, however many attempts")
	for _, key := range []string{"loss", "val_loss", "val_auc_pr"} {
		assert.Equal(t, 12, points[key], "%s: one point per epoch, none twice", key)
		assert.Equal(t, 12, steps[key], "%s: every epoch", key)
	}
	assert.Equal(t, 1, points["auc_roc"], "the final metrics once")
	assert.Equal(t, 2, versions, "one model version per job")

	code, out, errOut = runArgs(t, "tracking", "sync", "--json", "--home", home)
	require.Equal(t, 0, code, errOut)
	require.NoError(t, json.Unmarshal([]byte(out), &synced), out)
	assert.Zero(t, synced.Sent, "nothing left to send")
	code, _, errOut = runArgs(t, "tracking", "sync", res.JobID, "--home", home)
	require.Equal(t, 0, code, errOut)
	again, againPoints, _, againVersions := mlflowCounts(t, srv.uri(), experiment, res.JobID, modelName)
	assert.Equal(t, runs, again)
	assert.Equal(t, points, againPoints, "a second sync sends nothing twice")
	assert.Equal(t, versions, againVersions)
}

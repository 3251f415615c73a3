package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/events"
	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/embedded"
	"github.com/orrery-ml/orrery/shared/ml/deployment"
	"github.com/orrery-ml/orrery/shared/serving"
	"github.com/orrery-ml/orrery/shared/store"
)

// trafficLog keeps, per (environment, endpoint, model), the traffic the
// test's client sent: the statistics serving.Traffic keeps for `orrery
// serve`, in the shape the deployments' alarms read.
type trafficLog struct {
	mu    sync.Mutex
	stats map[string]map[string]*deployment.VersionStats
}

func (l *trafficLog) record(env, endpoint, model string, positive bool, score float64, failed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := env + "/" + endpoint
	if l.stats == nil {
		l.stats = map[string]map[string]*deployment.VersionStats{}
	}
	if l.stats[key] == nil {
		l.stats[key] = map[string]*deployment.VersionStats{}
	}
	s := l.stats[key][model]
	if s == nil {
		s = &deployment.VersionStats{}
		l.stats[key][model] = s
	}
	s.Requests++
	if failed {
		s.Errors++
		return
	}
	s.P99LatencyMS = 1
	if positive {
		s.Positives++
	}
	s.ScoreHistogram[deployment.ScoreBin(score)]++
}

// Window returns everything recorded (the test runs well within a window).
func (l *trafficLog) Window(_ context.Context, env, endpoint string, _ []string, _ time.Duration) (map[string]deployment.VersionStats, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]deployment.VersionStats{}
	for m, s := range l.stats[env+"/"+endpoint] {
		out[m] = *s
	}
	return out, nil
}

// routedEndpoint is a client of `orrery serve`'s predict route, POST
// /ml/endpoints/{endpoint}/predict: each request is routed by the server
// to one model by the endpoint's weights, and the answer (and its
// X-Orrery-Model-Id header) names the version that served. What it saw is
// added to the test's traffic log, which the deployments' alarms read, so
// every alarm check sees exactly the requests sent before it.
type routedEndpoint struct {
	base    string
	traffic *trafficLog
	http    *http.Client
}

// predict sends one row and returns the model that served it.
func (e *routedEndpoint) predict(ctx context.Context, env, name string, x []float64) (string, error) {
	body, err := json.Marshal(map[string]any{"rows": [][]float64{x}})
	if err != nil {
		return "", err
	}
	url := e.base + serving.PredictPath(name) + "?environment=" + env
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	served := resp.Header.Get(serving.ModelIDHeader)
	if resp.StatusCode != http.StatusOK {
		e.traffic.record(env, name, served, false, 0, true)
		return served, fmt.Errorf("predict %s: %d %s", name, resp.StatusCode, raw)
	}
	var answer serving.PredictResponse
	if err := json.Unmarshal(raw, &answer); err != nil {
		return served, fmt.Errorf("predict %s: decode %s: %w", name, raw, err)
	}
	if answer.ModelID != served || len(answer.Predictions) != 1 {
		return served, fmt.Errorf("predict %s: header names %q, body %s", name, served, raw)
	}
	p := answer.Predictions[0]
	if p.Probability == nil {
		return served, fmt.Errorf("predict %s: no probability in %s", name, raw)
	}
	e.traffic.record(env, name, served, p.Label == events.SamplePositive, *p.Probability, false)
	return served, nil
}

// client sends a steady stream of predict requests of HTRU2 rows and counts
// what served them.
type client struct {
	ep             *routedEndpoint
	env, endpoint  string
	rows           [][]float64
	sent, failures atomic.Int64
	mu             sync.Mutex
	served         map[string]int
	lastServed     []string
	firstFailure   error
	stop           chan struct{}
	done           chan struct{}
}

func (c *client) run() {
	defer close(c.done)
	for i := 0; ; i++ {
		select {
		case <-c.stop:
			return
		default:
		}
		model, err := c.ep.predict(context.Background(), c.env, c.endpoint, c.rows[i%len(c.rows)])
		c.mu.Lock()
		if err != nil {
			c.failures.Add(1)
			if c.firstFailure == nil {
				c.firstFailure = err
			}
		} else {
			c.served[model]++
			c.lastServed = append(c.lastServed, model)
			if len(c.lastServed) > 200 {
				c.lastServed = c.lastServed[1:]
			}
		}
		c.mu.Unlock()
		c.sent.Add(1)
		// Pace the stream so the flow has the other core.
		time.Sleep(200 * time.Microsecond)
	}
}

// clientClock is the executor's clock while the client runs: a Wait state
// (a bake check's wait, a retry's back-off) lasts until the client has sent
// perWait more requests — the deployment's time is counted in traffic, so
// every alarm check sees new requests, whatever the machine's load.
type clientClock struct {
	c       atomic.Pointer[client]
	perWait int64
	waits   atomic.Int64
}

func (k *clientClock) sleep(ctx context.Context, _ time.Duration) error {
	k.waits.Add(1)
	c := k.c.Load()
	if c == nil {
		return ctx.Err()
	}
	target := c.sent.Load() + k.perWait
	for c.sent.Load() < target {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.done:
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

// htru2Rows reads the bundled sample's feature rows, shuffled.
func htru2Rows(t *testing.T) [][]float64 {
	t.Helper()
	p := filepath.Join(t.TempDir(), "htru2.csv")
	require.NoError(t, os.WriteFile(p, events.SampleData(), 0o644))
	table, err := dataset.Read(t.Context(), p)
	require.NoError(t, err)
	d, err := table.Select(dataset.SelectOptions{Target: events.SampleTarget, Positive: events.SamplePositive})
	require.NoError(t, err)
	rows := make([][]float64, d.Rows)
	k := len(d.FeatureNames)
	for i := range rows {
		rows[i] = d.X[i*k : (i+1)*k]
	}
	rand.New(rand.NewPCG(7, 7)).Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	return rows
}

// writeFlipped writes HTRU2 with every label flipped.
func writeFlipped(t *testing.T, dir string) string {
	t.Helper()
	r := csv.NewReader(strings.NewReader(string(events.SampleData())))
	records, err := r.ReadAll()
	require.NoError(t, err)
	col := -1
	for i, h := range records[0] {
		if h == events.SampleTarget {
			col = i
		}
	}
	require.GreaterOrEqual(t, col, 0)
	for _, rec := range records[1:] {
		if rec[col] == "1" {
			rec[col] = "0"
		} else {
			rec[col] = "1"
		}
	}
	p := filepath.Join(dir, "htru2-flipped.csv")
	f, err := os.Create(p)
	require.NoError(t, err)
	w := csv.NewWriter(f)
	require.NoError(t, w.WriteAll(records))
	require.NoError(t, f.Close())
	return p
}

// train trains a model through the server and returns its id.
func (s *server) train(t *testing.T, body string) string {
	t.Helper()
	code, acc := s.call(t, http.MethodPost, "/ml/training/start", body)
	require.Equal(t, http.StatusAccepted, code, "%v", acc)
	st := s.await(t, acc["status_url"].(string), func(st map[string]any) bool {
		return st["status"] == "SUCCEEDED" || st["status"] == "FAILED" || st["status"] == "CANCELLED"
	})
	require.Equal(t, "SUCCEEDED", st["status"], "%v", st)
	return st["model_id"].(string)
}

// await polls a status URL until done says so (bounded).
func (s *server) await(t *testing.T, url string, done func(map[string]any) bool) map[string]any {
	t.Helper()
	var st map[string]any
	for range 20000 {
		code, got := s.call(t, http.MethodGet, url, "")
		require.Equal(t, http.StatusOK, code, "%v", got)
		st = got
		if done(st) {
			return st
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s did not finish: %v", url, st)
	return nil
}

// deploy posts a deployment and waits for it to end.
func (s *server) deploy(t *testing.T, body string) map[string]any {
	t.Helper()
	code, acc := s.call(t, http.MethodPost, "/ml/deployment/deploy", body)
	require.Equal(t, http.StatusAccepted, code, "%v", acc)
	require.Equal(t, "PENDING", acc["status"])
	return s.await(t, acc["status_url"].(string), deploymentEnded)
}

func deploymentEnded(st map[string]any) bool {
	switch st["status"] {
	case "SUCCEEDED", "FAILED", "ROLLED_BACK":
		return true
	}
	return false
}

// alarmOf returns the alarm reading of a kind from a status.
func alarmOf(st map[string]any, kind string) map[string]any {
	alarms, _ := st["alarms"].([]any)
	for _, a := range alarms {
		if m := a.(map[string]any); m["kind"] == kind {
			return m
		}
	}
	return nil
}

func eventKinds(st map[string]any) []string {
	var out []string
	for _, e := range st["events"].([]any) {
		out = append(out, e.(map[string]any)["kind"].(string))
	}
	return out
}

// TestServeDeploysAndRollsBack is the deployment bar on `orrery serve`: a
// good HTRU2 model deploys all at once (the endpoint's first); a client
// then sends a steady stream of predict requests for the rest of the test;
// a model trained on flipped labels, champion comparison off, canary 20 %,
// bake 30 s, is rolled back within its bake by the score-drift (PSI)
// alarm, with the reason in its status; the same model with the default
// gates fails validation at the champion comparison; a second good model
// promotes through a canary, and its manual rollback returns the first.
// The client sees no failed request, and the endpoint ends on the first
// model. Time inside the flow is counted in the client's requests
// (clientClock), so the bake's checks see new traffic whatever the load.
func TestServeDeploysAndRollsBack(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three HTRU2 models and deploys them through the HTTP API")
	}
	home := filepath.Join(t.TempDir(), "home")
	dataDir := t.TempDir()
	flipped := writeFlipped(t, dataDir)
	traffic := &trafficLog{}
	clock := &clientClock{perWait: 60}
	s := startServeWith(t, serveOptions{Traffic: traffic, Sleep: clock.sleep}, "--home", home, "--data-root", dataDir)

	quick := `"target_column": "class", "positive_class": "1", "name": "htru2-pulsars"`
	good := s.train(t, `{"dataset_path": "htru2.csv", `+quick+`, "seed": 1}`)
	bad := s.train(t, `{"dataset_path": "`+flipped+`", `+quick+`, "seed": 1}`)
	second := s.train(t, `{"dataset_path": "htru2.csv", `+quick+`, "seed": 2}`)

	// The endpoint defaults to the model's name.
	first := s.deploy(t, `{"model_id": "`+good+`", "bake_seconds": 5}`)
	require.Equal(t, "SUCCEEDED", first["status"], "%v", first)
	assert.Equal(t, "htru2-pulsars", first["endpoint"])
	assert.Equal(t, "all_at_once", first["strategy"], "the endpoint's first deployment")
	assert.Equal(t, map[string]any{good: 100.0}, first["traffic"])
	gateStatus := map[string]string{}
	for _, g := range first["gates"].([]any) {
		gm := g.(map[string]any)
		gateStatus[gm["name"].(string)] = gm["status"].(string)
		assert.NotEmpty(t, gm["detail"])
	}
	assert.Equal(t, map[string]string{deployment.GateIntegrity: "passed", deployment.GateSchema: "skipped", deployment.GateFloors: "passed",
		deployment.GateChampion: "skipped", deployment.GateSmoke: "passed", deployment.GateLatency: "passed"}, gateStatus)

	rt, err := embedded.Open(t.Context(), home, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	c := &client{ep: &routedEndpoint{base: s.base, traffic: traffic, http: &http.Client{Timeout: time.Minute}},
		env: "dev", endpoint: "htru2-pulsars", rows: htru2Rows(t), served: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	clock.c.Store(c)
	stopClient := sync.OnceFunc(func() {
		clock.c.Store(nil)
		close(c.stop)
		<-c.done
	})
	t.Cleanup(stopClient)

	t.Run("score drift rolls the flipped model back within its bake", func(t *testing.T) {
		st := s.deploy(t, `{"model_id": "`+bad+`", "strategy": "canary", "canary_percent": 20, "bake_seconds": 30,
			"gates": {"compare_to_live": false}}`)
		require.Equal(t, "ROLLED_BACK", st["status"], "%v", st)
		reason := st["reason"].(string)
		assert.Contains(t, reason, "score-psi", "the reason names the alarm")
		assert.Contains(t, reason, "PSI")
		psi := alarmOf(st, deployment.AlarmScoreDrift)
		require.NotNil(t, psi)
		assert.Equal(t, "ALARM", psi["state"])
		assert.Greater(t, psi["value"].(float64), psi["threshold"].(float64))
		for _, kind := range []string{deployment.AlarmErrorRate, deployment.AlarmSchemaViolation, deployment.AlarmPositiveRate} {
			assert.NotEqual(t, "ALARM", alarmOf(st, kind)["state"], "only the drift fires: %v", alarmOf(st, kind))
		}
		champion := st["gates"].([]any)[3].(map[string]any)
		assert.Equal(t, deployment.GateChampion, champion["name"])
		assert.Equal(t, "skipped", champion["status"])
		assert.Contains(t, champion["detail"], "compare_to_live: false", "recorded as switched off")

		// Within the bake: the alarm fired at a check before the bake's last.
		plan := st["plan"].(map[string]any)["steps"].([]any)[0].(map[string]any)
		assert.Equal(t, 30.0, plan["checks"].(float64)*plan["check_seconds"].(float64))
		kinds := eventKinds(st)
		assert.Contains(t, kinds, "alarm")
		var fired string
		for _, e := range st["events"].([]any) {
			if em := e.(map[string]any); em["kind"] == "alarm" {
				fired = em["message"].(string)
			}
		}
		var at, of, sec, secs int
		_, err := fmt.Sscanf(fired[strings.Index(fired, "check "):], "check %d of %d at 20 %% (%d s of %d s)", &at, &of, &sec, &secs)
		require.NoError(t, err, fired)
		assert.Less(t, at, of, "the alarm fired before the bake's last check: %s", fired)
		assert.Equal(t, 30, secs)
		assert.Contains(t, kinds, "rolled_back")
		assert.Contains(t, kinds, "alert", "the alert is in the status locally")
		bake := st["bake"].(map[string]any)
		assert.EqualValues(t, 20, bake["traffic_percent"])
		t.Logf("flipped model %s: rolled back at check %d of %d, %d s into the %d s bake; reason: %s; PSI %.2f (threshold %.2f) over %v requests of it",
			bad, at, of, sec, secs, reason, psi["value"], psi["threshold"], psi["requests"])

		ep, err := rt.DB.GetEndpoint(t.Context(), "dev", "htru2-pulsars")
		require.NoError(t, err)
		assert.Equal(t, map[string]int{good: 100}, ep.Routes, "all traffic is back on the good model")
		assert.False(t, ep.Locked(time.Now()), "the lock is released")
	})

	t.Run("the default gates refuse it at the champion comparison", func(t *testing.T) {
		st := s.deploy(t, `{"model_id": "`+bad+`", "strategy": "canary", "canary_percent": 20, "bake_seconds": 30}`)
		require.Equal(t, "FAILED", st["status"], "%v", st)
		assert.Contains(t, st["reason"], "validation failed")
		assert.Contains(t, st["reason"], deployment.GateChampion)
		assert.Equal(t, map[string]any{good: 100.0}, st["traffic"], "no traffic moved")
		for _, g := range st["gates"].([]any) {
			gm := g.(map[string]any)
			if gm["name"] != deployment.GateChampion {
				continue
			}
			assert.Equal(t, "failed", gm["status"])
			figs := gm["figures"].(map[string]any)
			auc := figs["auc_roc"].(map[string]any)
			assert.Less(t, auc["new"].(float64), auc["live"].(float64))
			assert.Less(t, auc["p_value_worse"].(float64), 0.05)
			assert.Equal(t, "delong", auc["test"])
			assert.Equal(t, "mcnemar", figs["accuracy"].(map[string]any)["test"])
			t.Logf("champion comparison on %v rows (%v): AUC %.3f vs %.3f, one-sided p %.2g; accuracy %.3f vs %.3f",
				figs["rows"], figs["rows_from"], auc["new"], auc["live"], auc["p_value_worse"],
				figs["accuracy"].(map[string]any)["new"], figs["accuracy"].(map[string]any)["live"])
		}
	})

	var promoted map[string]any
	t.Run("a second good model promotes through a canary", func(t *testing.T) {
		promoted = s.deploy(t, `{"model_id": "`+second+`", "strategy": "canary", "canary_percent": 20, "bake_seconds": 6}`)
		require.Equal(t, "SUCCEEDED", promoted["status"], "%v", promoted)
		assert.Equal(t, map[string]any{second: 100.0}, promoted["traffic"])
		assert.Equal(t, good, promoted["previous_model_id"])
		aliases, err := rt.DB.ListModelAliases(t.Context(), "dev")
		require.NoError(t, err)
		byAlias := map[string]string{}
		for _, a := range aliases {
			byAlias[a.Alias] = a.ModelID
		}
		assert.Equal(t, map[string]string{store.AliasChampion: second, store.LiveRegistryAlias("htru2-pulsars"): second}, byAlias,
			"the registry's champion and the endpoint's live alias follow the endpoint")
	})

	t.Run("a second deployment while one runs is refused", func(t *testing.T) {
		ep, err := rt.DB.GetEndpoint(t.Context(), "dev", "htru2-pulsars")
		require.NoError(t, err)
		ep.LockedBy, ep.LockedUntil = "dep-holding", time.Now().Add(time.Minute)
		_, err = rt.DB.PutEndpoint(t.Context(), ep)
		require.NoError(t, err)
		code, p := s.call(t, http.MethodPost, "/ml/deployment/deploy", `{"model_id": "`+good+`"}`)
		assert.Equal(t, http.StatusConflict, code)
		assert.Contains(t, p["detail"], "dep-holding", "the 409 names the deployment that holds the endpoint")
		ep, err = rt.DB.GetEndpoint(t.Context(), "dev", "htru2-pulsars")
		require.NoError(t, err)
		ep.LockedBy, ep.LockedUntil = "", time.Time{}
		_, err = rt.DB.PutEndpoint(t.Context(), ep)
		require.NoError(t, err)
	})

	t.Run("a manual rollback of the promoted deployment returns the first model", func(t *testing.T) {
		require.NotNil(t, promoted)
		id := promoted["deployment_id"].(string)
		code, rb := s.call(t, http.MethodPost, "/ml/deployment/"+id+"/rollback", `{"reason": "the survey team asked"}`)
		require.Equal(t, http.StatusAccepted, code, "%v", rb)
		assert.Equal(t, "redeploy", rb["kind"])
		st := s.await(t, rb["status_url"].(string), deploymentEnded)
		require.Equal(t, "SUCCEEDED", st["status"], "%v", st)
		assert.Equal(t, good, st["model_id"])
		assert.Equal(t, map[string]any{good: 100.0}, st["traffic"])
		code, again := s.call(t, http.MethodPost, "/ml/deployment/"+id+"/rollback", "")
		assert.Equal(t, http.StatusConflict, code, "it is no longer what the endpoint serves: %v", again)
	})

	t.Run("the CLI deploys through the server and lists the endpoint", func(t *testing.T) {
		var out, errOut strings.Builder
		code := runCLI(t.Context(), []string{"deploy", "--model", good, "--server", s.base, "--quiet"}, &out, &errOut)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut.String(), "serves already", "the model is live: 409 through the server")
		out.Reset()
		require.Equal(t, 0, runCLI(t.Context(), []string{"endpoints", "--home", home}, &out, &errOut), errOut.String())
		assert.Contains(t, out.String(), "htru2-pulsars")
		assert.Contains(t, out.String(), "champion="+good)
	})

	// The last requests are all the good model's.
	target := c.sent.Load() + 300
	for c.sent.Load() < target {
		time.Sleep(time.Millisecond)
	}
	stopClient()
	c.mu.Lock()
	defer c.mu.Unlock()
	assert.Zero(t, c.failures.Load(), "the client saw no failed request (first: %v)", c.firstFailure)
	for _, m := range c.lastServed {
		require.Equal(t, good, m, "at the end the good model serves everything")
	}
	total := 0
	for _, n := range c.served {
		total += n
	}
	ids := make([]string, 0, len(c.served))
	for id := range c.served {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var lines []string
	for _, id := range ids {
		role := map[string]string{good: "good", bad: "flipped labels", second: "second good"}[id]
		lines = append(lines, fmt.Sprintf("%s (%s) %d requests = %.1f %%", id, role, c.served[id], 100*float64(c.served[id])/float64(total)))
	}
	t.Logf("client: %d requests, %d failed; share per version: %s; %d waits of the flow", total, c.failures.Load(),
		strings.Join(lines, "; "), clock.waits.Load())
}

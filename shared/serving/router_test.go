package serving_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/serving"
	"github.com/orrery-ml/orrery/shared/store"
)

// countingEndpoints counts the reads of a real endpoint store.
type countingEndpoints struct {
	store.EndpointStore
	reads atomic.Int64
}

func (c *countingEndpoints) GetEndpoint(ctx context.Context, environment, name string) (store.Endpoint, error) {
	c.reads.Add(1)
	return c.EndpointStore.GetEndpoint(ctx, environment, name)
}

// seeded returns a deterministic chooser (not safe for concurrent use).
func seeded(seed uint64) func(int) int {
	rng := rand.New(rand.NewPCG(seed, 99))
	return rng.IntN
}

func TestRouterHonoursWeights(t *testing.T) {
	tests := []struct {
		name   string
		routes map[string]int
	}{
		{"all on one", map[string]int{"mdl-a": 100}},
		{"a canary of 10 percent", map[string]int{"mdl-a": 90, "mdl-b": 10}},
		{"three ways", map[string]int{"mdl-a": 70, "mdl-b": 20, "mdl-c": 10}},
		{"a sliver", map[string]int{"mdl-a": 99, "mdl-b": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.putRoutes(t, "dev", "pulsars", tc.routes)
			r := &serving.Router{Endpoints: e.db, Choose: seeded(1)}
			const n = 100000
			counts := map[string]int{}
			for range n {
				route, err := r.Route(t.Context(), "dev", "pulsars")
				require.NoError(t, err)
				counts[route.ModelID]++
			}
			require.Len(t, counts, len(tc.routes), "every routed version serves, nothing else does")
			for id, pct := range tc.routes {
				assert.InDelta(t, float64(pct)/100, float64(counts[id])/n, 0.01, "share of %s", id)
			}
		})
	}
}

func TestRouterReadsRoutesAtMostEveryTTL(t *testing.T) {
	e := newEnv(t)
	e.putRoutes(t, "dev", "pulsars", map[string]int{"mdl-a": 100})
	clock := newFakeClock()
	counted := &countingEndpoints{EndpointStore: e.db}
	r := &serving.Router{Endpoints: counted, Now: clock.Now}
	route := func() string {
		t.Helper()
		got, err := r.Route(t.Context(), "dev", "pulsars")
		require.NoError(t, err)
		return got.ModelID
	}
	for range 100 {
		assert.Equal(t, "mdl-a", route())
	}
	assert.Equal(t, int64(1), counted.reads.Load(), "one read serves every request within the TTL")

	e.putRoutes(t, "dev", "pulsars", map[string]int{"mdl-b": 100})
	clock.Advance(serving.RouteTTL - time.Millisecond)
	assert.Equal(t, "mdl-a", route(), "within the TTL the routes read are used")
	clock.Advance(time.Millisecond)
	assert.Equal(t, "mdl-b", route(), "at the TTL they are read again")
	assert.Equal(t, int64(2), counted.reads.Load())

	_, err := r.Route(t.Context(), "dev", "absent")
	require.ErrorIs(t, err, serving.ErrNoEndpoint)
	_, err = r.Route(t.Context(), "dev", "absent")
	require.ErrorIs(t, err, serving.ErrNoEndpoint)
	assert.Equal(t, int64(3), counted.reads.Load(), "an unknown endpoint is remembered for the TTL too")
}

// brokenEndpoints answers one fixed endpoint record or error.
type brokenEndpoints struct {
	store.EndpointStore
	e   store.Endpoint
	err error
}

func (b brokenEndpoints) GetEndpoint(context.Context, string, string) (store.Endpoint, error) {
	return b.e, b.err
}

func TestRouterRefusesWhatItCannotRoute(t *testing.T) {
	e := newEnv(t)
	e.putRoutes(t, "dev", "empty", map[string]int{})
	unreachable := errors.New("disk gone")
	tests := []struct {
		name     string
		store    store.EndpointStore
		endpoint string
		want     error
		code     fault.Code
	}{
		{"unknown endpoint", e.db, "absent", serving.ErrNoEndpoint, fault.NotFound},
		{"nothing deployed", e.db, "empty", serving.ErrNothingDeployed, fault.NotFound},
		{"weights that do not sum to 100", brokenEndpoints{e: store.Endpoint{Name: "bad", Environment: "dev",
			Routes: map[string]int{"mdl-a": 60, "mdl-b": 30}}}, "bad", serving.ErrRoutes, fault.Internal},
		{"the store failing", brokenEndpoints{err: unreachable}, "any", unreachable, fault.Internal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &serving.Router{Endpoints: tc.store}
			_, err := r.Route(t.Context(), "dev", tc.endpoint)
			require.ErrorIs(t, err, tc.want)
			assert.Equal(t, tc.code, fault.CodeOf(err))
			assert.Contains(t, err.Error(), tc.endpoint)
		})
	}
}

// expectedProbability is what model id answers for the body's one row.
func expectedProbability(t *testing.T, p *serving.Predictor, body []byte) float64 {
	t.Helper()
	res, err := p.PredictBody(context.Background(), body)
	require.NoError(t, err)
	return *res.Predictions[0].Probability
}

// TestEndpointsNoFailedRequestWhileRoutesMove sends requests from several
// goroutines while another moves the weights between two versions through
// the store, as a deployment does; every request must succeed and be
// answered entirely by the version it names.
func TestEndpointsNoFailedRequestWhileRoutesMove(t *testing.T) {
	e := newEnv(t)
	a, b := testModel(t, "mdl-a", []string{"0", "1"}, 11), testModel(t, "mdl-b", []string{"0", "1"}, 12)
	e.register(t, a)
	e.register(t, b)
	e.putRoutes(t, "dev", "pulsars", map[string]int{"mdl-a": 100})
	traffic := &serving.Traffic{}
	models := &serving.Models{Store: e.models, Locate: serving.RegistryLocator(e.db)}
	svc := &serving.Endpoints{Models: models, Traffic: traffic,
		Router: &serving.Router{Endpoints: e.db, Traffic: traffic, Models: models, TTL: time.Nanosecond}}

	body := []byte(`{"rows": [[0.3, -1.2, 2.5, 0.7]]}`)
	pa, err := models.Get(t.Context(), "mdl-a")
	require.NoError(t, err)
	pb, err := models.Get(t.Context(), "mdl-b")
	require.NoError(t, err)
	want := map[string]float64{"mdl-a": expectedProbability(t, pa, body), "mdl-b": expectedProbability(t, pb, body)}
	require.NotEqual(t, want["mdl-a"], want["mdl-b"], "the versions answer differently")

	steps := []map[string]int{{"mdl-a": 90, "mdl-b": 10}, {"mdl-a": 50, "mdl-b": 50}, {"mdl-b": 100}, {"mdl-a": 100}}
	var (
		done     atomic.Bool
		wg       sync.WaitGroup
		requests atomic.Int64
		served   sync.Map
	)
	const workers = 4
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				resp, err := svc.Predict(context.Background(), "dev", "pulsars", body)
				requests.Add(1)
				if !assert.NoError(t, err) {
					return
				}
				assert.Equal(t, want[resp.ModelID], *resp.Predictions[0].Probability, "answered by %s", resp.ModelID)
				served.Store(resp.ModelID, true)
			}
		}()
	}
	for i := range 40 {
		e.putRoutes(t, "dev", "pulsars", steps[i%len(steps)])
		// Let requests run on these weights: at least 20 finish after the
		// write (so most of them started after it) before the next one.
		after := requests.Load()
		require.Eventually(t, func() bool { return requests.Load() >= after+20 }, time.Minute, time.Millisecond)
	}
	done.Store(true)
	wg.Wait()
	_, servedB := served.Load("mdl-b")
	assert.True(t, servedB, "the moving weights reached the requests")
	total := int64(0)
	for _, st := range traffic.Snapshot("dev", "pulsars", time.Hour) {
		assert.Zero(t, st.Errors, st.ModelID)
		total += st.Requests
	}
	assert.Equal(t, requests.Load(), total, "every request is counted on the version that served it")
}

func TestEndpointsCountOutcomesAndShowThem(t *testing.T) {
	e := newEnv(t)
	e.register(t, testModel(t, "mdl-a", []string{"0", "1"}, 11))
	e.register(t, testModel(t, "mdl-b", []string{"0", "1"}, 12))
	e.putRoutes(t, "dev", "pulsars", map[string]int{"mdl-b": 100})
	e.putRoutes(t, "prod", "pulsars", map[string]int{"mdl-a": 100})
	clock := newFakeClock()
	traffic := &serving.Traffic{Now: clock.Now}
	models := &serving.Models{Store: e.models, Locate: serving.RegistryLocator(e.db)}
	svc := &serving.Endpoints{Models: models, Traffic: traffic, Now: clock.Now,
		Router: &serving.Router{Endpoints: e.db, Traffic: traffic, Models: models, Now: clock.Now}}
	ctx := t.Context()

	resp, err := svc.Predict(ctx, "dev", "pulsars", []byte(`{"instances": [{"mean_ip": 1, "sd_ip": 2, "kurt_ip": 3, "skew_ip": 4}, {"mean_ip": 1, "sd_ip": 2, "kurt_ip": 3, "skew_ip": null}]}`))
	require.NoError(t, err)
	assert.Equal(t, serving.PredictResponse{Endpoint: "pulsars", ModelID: "mdl-b", Predictions: resp.Predictions}, resp)
	assert.Len(t, resp.Predictions, 2)
	_, err = svc.Predict(ctx, "dev", "pulsars", []byte(`{"instances": [{"mean_ip": 1}]}`))
	require.ErrorAs(t, err, new(*serving.SchemaError))
	_, err = svc.Predict(ctx, "dev", "pulsars", []byte(`not json`))
	require.ErrorAs(t, err, new(*serving.InputError))
	_, err = svc.Predict(ctx, "qa", "pulsars", []byte(`{"rows": [[1, 2, 3, 4]]}`))
	require.ErrorAs(t, err, new(*serving.InputError), "an unknown environment")
	_, err = svc.Predict(ctx, "staging", "pulsars", []byte(`{"rows": [[1, 2, 3, 4]]}`))
	require.ErrorIs(t, err, serving.ErrNoEndpoint, "environments are separate")

	view, err := svc.GetEndpoint(ctx, "dev", "pulsars")
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"mdl-b": 100}, view.Routes)
	require.Len(t, view.Versions, 1)
	v := view.Versions[0]
	assert.Equal(t, "mdl-b", v.ModelID)
	assert.Equal(t, 100, v.Weight)
	require.NotNil(t, v.Traffic)
	assert.Equal(t, int64(3), v.Traffic.Requests, "the refused environment never reached a version")
	assert.Equal(t, int64(1), v.Traffic.SchemaViolations)
	assert.Zero(t, v.Traffic.Errors)
	assert.Equal(t, int64(2), v.Traffic.Rows)
	require.NotNil(t, v.Traffic.SchemaViolationRate)
	assert.InDelta(t, 1.0/3, *v.Traffic.SchemaViolationRate, 1e-12)
	assert.Equal(t, "/ml/endpoints/pulsars/predict?environment=dev", view.Links.Predict)

	// A rollback to mdl-a: mdl-b keeps its recent traffic, at weight 0.
	e.putRoutes(t, "dev", "pulsars", map[string]int{"mdl-a": 100})
	clock.Advance(serving.RouteTTL)
	_, err = svc.Predict(ctx, "dev", "pulsars", []byte(`{"rows": [[1, 2, 3, 4]]}`))
	require.NoError(t, err)
	view, err = svc.GetEndpoint(ctx, "dev", "pulsars")
	require.NoError(t, err)
	require.Len(t, view.Versions, 2)
	assert.Equal(t, []string{"mdl-a", "mdl-b"}, []string{view.Versions[0].ModelID, view.Versions[1].ModelID})
	assert.Equal(t, []int{100, 0}, []int{view.Versions[0].Weight, view.Versions[1].Weight})
	assert.Equal(t, int64(1), view.Versions[0].Traffic.Requests)

	all, err := svc.ListEndpoints(ctx, "")
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, []string{"dev", "prod"}, []string{all[0].Environment, all[1].Environment})
	prod, err := svc.ListEndpoints(ctx, "prod")
	require.NoError(t, err)
	require.Len(t, prod, 1)
	assert.Equal(t, "mdl-a", prod[0].Versions[0].ModelID)
	_, err = svc.GetEndpoint(ctx, "dev", "absent")
	require.ErrorIs(t, err, serving.ErrNoEndpoint)
}

func TestEndpointsRefuseATamperedModel(t *testing.T) {
	e := newEnv(t)
	e.register(t, testModel(t, "mdl-a", []string{"0", "1"}, 11))
	require.NoError(t, e.artifacts.Put(t.Context(), "models/mdl-a/SHA256SUMS",
		strings.NewReader("0000000000000000000000000000000000000000000000000000000000000000  manifest.json\n")))
	e.putRoutes(t, "dev", "pulsars", map[string]int{"mdl-a": 100})
	traffic := &serving.Traffic{}
	models := &serving.Models{Store: e.models, Locate: serving.RegistryLocator(e.db)}
	svc := &serving.Endpoints{Models: models, Traffic: traffic, Router: &serving.Router{Endpoints: e.db, Traffic: traffic}}
	_, err := svc.Predict(t.Context(), "dev", "pulsars", []byte(`{"rows": [[1, 2, 3, 4]]}`))
	require.ErrorIs(t, err, serving.ErrModelRefused)
	assert.Equal(t, fault.Unavailable, fault.CodeOf(err))
	assert.Equal(t, int64(1), traffic.Snapshot("dev", "pulsars", time.Minute)["mdl-a"].Errors)

	// A routed model without files is the server's problem, not the client's 404.
	e.putRoutes(t, "dev", "pulsars", map[string]int{"mdl-gone": 100})
	svc.Router = &serving.Router{Endpoints: e.db, Traffic: traffic}
	_, err = svc.Predict(t.Context(), "dev", "pulsars", []byte(`{"rows": [[1, 2, 3, 4]]}`))
	require.ErrorIs(t, err, serving.ErrModelUnavailable)
	assert.Equal(t, fault.Unavailable, fault.CodeOf(err))
}

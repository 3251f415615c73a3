package serving

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orrery-ml/orrery/shared/store"
)

// RouteTTL is the longest a Router uses an endpoint's routes before it
// reads them again.
const RouteTTL = 100 * time.Millisecond

// Environments an endpoint may belong to, in promotion order.
var Environments = []string{"dev", "staging", "prod"}

// CheckEnvironment returns an *InputError naming "environment" unless env
// is dev, staging or prod.
func CheckEnvironment(env string) error {
	if !slices.Contains(Environments, env) {
		return paramError("environment", "%q is not dev, staging or prod", truncate(env, 40))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Router picks the model version that answers each request of an embedded
// endpoint, by the weights of the endpoint's routes (store.Endpoint.Routes)
// in Endpoints. It reads an endpoint's record at most every TTL (default
// RouteTTL) — concurrent requests share one read — and never routes by
// weights that fail store.Endpoint.Check. A Route names one version; the
// request keeps it to its end, whatever the weights do meanwhile.
//
// Set the fields before first use; Router is safe for concurrent use.
type Router struct {
	// Endpoints holds the routes (required).
	Endpoints store.EndpointStore
	// Traffic, when set, provides each route's Series.
	Traffic *Traffic
	// Models, when set, is warmed with every routed model as routes are
	// read, so the first request to a new version seldom waits for its
	// load.
	Models *Models
	// Choose returns a uniform integer in [0, n); nil: math/rand/v2's
	// IntN. Tests give a seeded one.
	Choose func(n int) int
	// TTL is how long routes are used before they are read again (default
	// RouteTTL).
	TTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu    sync.Mutex
	cache map[endpointKey]*routeCache
}

type endpointKey struct{ environment, name string }

// routeCache is one endpoint's routes as last read.
type routeCache struct {
	refresh sync.Mutex // held by the request that reads the routes again
	snap    atomic.Pointer[routeSnapshot]
}

// routeSnapshot is an endpoint's routes at one read: the weights as
// cumulative percents over the routed models in id order, or why the
// endpoint routes nothing (err).
type routeSnapshot struct {
	read   time.Time
	routes []weightedRoute
	err    error
}

type weightedRoute struct {
	modelID string
	upTo    int // cumulative percent: this route takes choices below upTo
	series  *Series
}

// Route is the version chosen for one request.
type Route struct {
	Environment, Endpoint, ModelID string
	// Series is the version's traffic statistics (nil without Traffic).
	Series *Series
}

// Route picks the version for one request to the endpoint of the
// environment. Errors: ErrNoEndpoint (the environment has no such
// endpoint), ErrNothingDeployed (it routes nothing), ErrRoutes (its stored
// weights are unusable), the store's error, ctx's.
func (r *Router) Route(ctx context.Context, environment, endpoint string) (Route, error) {
	snap, err := r.snapshot(ctx, environment, endpoint)
	if err != nil {
		return Route{}, err
	}
	choose := r.Choose
	if choose == nil {
		choose = rand.IntN
	}
	n := choose(100)
	for _, wr := range snap.routes {
		if n < wr.upTo {
			return Route{Environment: environment, Endpoint: endpoint, ModelID: wr.modelID, Series: wr.series}, nil
		}
	}
	// Unreachable: the weights sum to 100 and n < 100.
	last := snap.routes[len(snap.routes)-1]
	return Route{Environment: environment, Endpoint: endpoint, ModelID: last.modelID, Series: last.series}, nil
}

func (r *Router) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Router) ttl() time.Duration {
	if r.TTL > 0 {
		return r.TTL
	}
	return RouteTTL
}

// snapshot returns the endpoint's routes, read at most TTL ago.
func (r *Router) snapshot(ctx context.Context, environment, endpoint string) (*routeSnapshot, error) {
	key := endpointKey{environment, endpoint}
	r.mu.Lock()
	if r.cache == nil {
		r.cache = map[endpointKey]*routeCache{}
	}
	c, ok := r.cache[key]
	if !ok {
		c = &routeCache{}
		r.cache[key] = c
	}
	r.mu.Unlock()
	if s := c.snap.Load(); s != nil && r.now().Sub(s.read) < r.ttl() {
		return s, s.err
	}
	c.refresh.Lock()
	defer c.refresh.Unlock()
	if s := c.snap.Load(); s != nil && r.now().Sub(s.read) < r.ttl() {
		return s, s.err // another request read them meanwhile
	}
	s, err := r.read(ctx, environment, endpoint)
	if err != nil {
		return nil, err // not kept: the next request reads again
	}
	c.snap.Store(s)
	return s, s.err
}

// read reads the endpoint's record and turns it into a snapshot; an
// endpoint that routes nothing is a snapshot with its error (kept for TTL
// like any other), a failed read an error.
func (r *Router) read(ctx context.Context, environment, endpoint string) (*routeSnapshot, error) {
	now := r.now()
	e, err := r.Endpoints.GetEndpoint(ctx, environment, endpoint)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &routeSnapshot{read: now, err: fmt.Errorf("endpoint %s does not exist in environment %s: %w", endpoint, environment, ErrNoEndpoint)}, nil
	case err != nil:
		return nil, fmt.Errorf("read the routes of endpoint %s in %s: %w", endpoint, environment, err)
	}
	if err := e.Check(); err != nil {
		return &routeSnapshot{read: now, err: fmt.Errorf("endpoint %s in %s: %v: %w", endpoint, environment, err, ErrRoutes)}, nil
	}
	if len(e.Routes) == 0 {
		return &routeSnapshot{read: now, err: fmt.Errorf("endpoint %s in %s has no model deployed: %w", endpoint, environment, ErrNothingDeployed)}, nil
	}
	s := &routeSnapshot{read: now}
	ids := make([]string, 0, len(e.Routes))
	for id := range e.Routes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	upTo := 0
	for _, id := range ids {
		upTo += e.Routes[id]
		wr := weightedRoute{modelID: id, upTo: upTo}
		if r.Traffic != nil {
			wr.series = r.Traffic.Series(environment, endpoint, id)
		}
		if r.Models != nil {
			r.Models.Warm(id)
		}
		s.routes = append(s.routes, wr)
	}
	return s, nil
}

package serving

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/store"
)

// ModelIDHeader is the response header naming the model version that
// answered a predict request.
const ModelIDHeader = "X-Orrery-Model-Id"

// DefaultTrafficWindow is the window of the traffic figures an endpoint's
// view shows.
const DefaultTrafficWindow = 5 * time.Minute

// ErrModelUnavailable is wrapped when the model a request was routed to
// cannot be loaded now (its files are missing, the store failed).
var ErrModelUnavailable = fault.New(fault.Unavailable, "serving: model unavailable")

// PredictResponse is the answer to a predict request.
type PredictResponse struct {
	Endpoint string `json:"endpoint"`
	// ModelID is the version that answered (also in ModelIDHeader).
	ModelID     string       `json:"model_id"`
	Predictions []Prediction `json:"predictions"`
}

// EndpointInfo is an endpoint as GET /ml/endpoints shows it, on either
// runtime.
type EndpointInfo struct {
	Endpoint    string `json:"endpoint"`
	Environment string `json:"environment"`
	// LiveModelID is the model promoted last (what a rollback returns to).
	LiveModelID string `json:"live_model_id,omitempty"`
	// Routes maps each routed model id to its percent of the requests
	// (summing to 100; empty while nothing is deployed).
	Routes map[string]int `json:"routes"`
	// Versions lists the routed versions, largest share first, then those
	// that served requests in the traffic window but are routed no more.
	Versions []VersionInfo `json:"versions"`
	// DeploymentID is the deployment now moving the endpoint's traffic.
	DeploymentID string `json:"deployment_id,omitempty"`
	// UpdatedAt is when the routes last changed (embedded runtime).
	UpdatedAt time.Time     `json:"updated_at,omitzero"`
	Links     EndpointLinks `json:"links"`
}

// EndpointLinks are where to go from an endpoint.
type EndpointLinks struct {
	Self    string `json:"self"`
	Predict string `json:"predict"`
}

// VersionInfo is one version of an endpoint.
type VersionInfo struct {
	ModelID string `json:"model_id"`
	// Weight is the version's percent of the endpoint's requests (0: it is
	// routed no more).
	Weight int `json:"weight"`
	// FunctionVersion is the predict function's version serving the model
	// (AWS only).
	FunctionVersion string `json:"function_version,omitempty"`
	// Traffic is the version's recent traffic; absent where the runtime
	// keeps none in process (on AWS the figures are CloudWatch metrics of
	// the namespace Orrery/Predict).
	Traffic *TrafficView `json:"traffic,omitempty"`
}

// TrafficView is a version's traffic over a window, with its rates (null
// when there is nothing to divide by).
type TrafficView struct {
	VersionStats
	ErrorRate           *float64 `json:"error_rate"`
	SchemaViolationRate *float64 `json:"schema_violation_rate"`
	PositiveRate        *float64 `json:"positive_rate"`
}

// NewTrafficView returns the view of st.
func NewTrafficView(st VersionStats) *TrafficView {
	v := &TrafficView{VersionStats: st}
	ptr := func(x float64, ok bool) *float64 {
		if !ok {
			return nil
		}
		return &x
	}
	v.ErrorRate = ptr(st.ErrorRate())
	v.SchemaViolationRate = ptr(st.SchemaViolationRate())
	v.PositiveRate = ptr(st.PositiveRate())
	return v
}

// EndpointPath is the path of an endpoint; the predict route is below it.
func EndpointPath(endpoint string) string { return "/ml/endpoints/" + endpoint }

// PredictPath is the path of an endpoint's predict route.
func PredictPath(endpoint string) string { return EndpointPath(endpoint) + "/predict" }

// Endpoints serves the endpoint routes on the embedded runtime: Router
// picks each request's version, Models holds the loaded models, Traffic
// counts every request per version. Router.Endpoints is the store the
// views are read from.
type Endpoints struct {
	Router  *Router
	Models  *Models
	Traffic *Traffic
	// TrafficWindow is the window of the views' traffic figures (default
	// DefaultTrafficWindow).
	TrafficWindow time.Duration
	// Now is the clock of request latencies (default time.Now).
	Now func() time.Time
}

func (s *Endpoints) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Predict answers one predict request to the endpoint of the environment:
// it routes the request to a version, decodes and validates body for that
// version's model, and predicts. Every request that reached a version is
// counted in Traffic with its outcome and latency. Errors: an *InputError
// for a bad environment or body, a *SchemaError for features that do not
// match, ErrNoEndpoint or ErrNothingDeployed (404), ErrModelRefused or
// ErrModelUnavailable (503), ErrPredict (500); once a version was chosen
// the error is a *RoutedError naming it.
func (s *Endpoints) Predict(ctx context.Context, environment, endpoint string, body []byte) (PredictResponse, error) {
	start := s.now()
	if err := CheckEnvironment(environment); err != nil {
		return PredictResponse{}, err
	}
	route, err := s.Router.Route(ctx, environment, endpoint)
	if err != nil {
		return PredictResponse{}, err
	}
	res, err := s.predict(ctx, route, body)
	if route.Series != nil {
		route.Series.Record(Observe(res, err, s.now().Sub(start)))
	}
	if err != nil {
		return PredictResponse{}, &RoutedError{Endpoint: endpoint, ModelID: route.ModelID, Err: err}
	}
	return PredictResponse{Endpoint: endpoint, ModelID: route.ModelID, Predictions: res.Predictions}, nil
}

func (s *Endpoints) predict(ctx context.Context, route Route, body []byte) (Result, error) {
	p, err := s.Models.Get(ctx, route.ModelID)
	if err != nil {
		return Result{}, ModelLoadError(route.Endpoint, route.ModelID, err)
	}
	return p.PredictBody(ctx, body)
}

// RoutedError is the error of a predict request that was routed to a
// version: the answer still names the version (ModelIDHeader). It unwraps
// to the error itself.
type RoutedError struct {
	Endpoint, ModelID string
	Err               error
}

func (e *RoutedError) Error() string { return e.Err.Error() }
func (e *RoutedError) Unwrap() error { return e.Err }

// ModelLoadError is the error of a request whose routed model could not be
// loaded: a refused model stays ErrModelRefused; a missing one is not the
// client's "not found" but ErrModelUnavailable, as is any store failure;
// a cancelled request stays cancelled.
func ModelLoadError(endpoint, modelID string, err error) error {
	switch {
	case errors.Is(err, ErrModelRefused), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("endpoint %s: %w", endpoint, err)
	}
	return fmt.Errorf("endpoint %s routes to model %s, which cannot be loaded: %v: %w", endpoint, modelID, err, ErrModelUnavailable)
}

// ListEndpoints returns the endpoints of the environment ("" for every
// environment), by environment and name.
func (s *Endpoints) ListEndpoints(ctx context.Context, environment string) ([]EndpointInfo, error) {
	if environment != "" {
		if err := CheckEnvironment(environment); err != nil {
			return nil, err
		}
	}
	eps, err := s.Router.Endpoints.ListEndpoints(ctx, environment)
	if err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	out := make([]EndpointInfo, 0, len(eps))
	for _, e := range eps {
		out = append(out, s.view(e))
	}
	return out, nil
}

// GetEndpoint returns one endpoint; ErrNoEndpoint when the environment has
// no such endpoint.
func (s *Endpoints) GetEndpoint(ctx context.Context, environment, endpoint string) (EndpointInfo, error) {
	if err := CheckEnvironment(environment); err != nil {
		return EndpointInfo{}, err
	}
	e, err := s.Router.Endpoints.GetEndpoint(ctx, environment, endpoint)
	if errors.Is(err, store.ErrNotFound) {
		return EndpointInfo{}, fmt.Errorf("endpoint %s does not exist in environment %s: %w", endpoint, environment, ErrNoEndpoint)
	}
	if err != nil {
		return EndpointInfo{}, fmt.Errorf("get endpoint %s in %s: %w", endpoint, environment, err)
	}
	return s.view(e), nil
}

// view is the endpoint with each version's recent traffic.
func (s *Endpoints) view(e store.Endpoint) EndpointInfo {
	info := EndpointInfo{Endpoint: e.Name, Environment: e.Environment, LiveModelID: e.LiveModelID,
		Routes: map[string]int{}, Versions: []VersionInfo{}, UpdatedAt: e.UpdatedAt,
		Links: EndpointLinks{Self: EndpointPath(e.Name) + "?environment=" + e.Environment,
			Predict: PredictPath(e.Name) + "?environment=" + e.Environment}}
	if e.Locked(s.now()) {
		info.DeploymentID = e.LockedBy
	}
	var (
		traffic map[string]VersionStats
		window  time.Duration
	)
	if s.Traffic != nil {
		window = s.TrafficWindow
		if window <= 0 {
			window = DefaultTrafficWindow
		}
		window = s.Traffic.Covered(window)
		traffic = s.Traffic.Snapshot(e.Environment, e.Name, window)
	}
	version := func(id string, weight int) VersionInfo {
		v := VersionInfo{ModelID: id, Weight: weight}
		if s.Traffic != nil {
			st, ok := traffic[id]
			if !ok {
				st = VersionStats{ModelID: id, Window: window, WindowSeconds: window.Seconds()}
			}
			v.Traffic = NewTrafficView(st)
		}
		return v
	}
	for _, id := range e.RouteModels() {
		info.Routes[id] = e.Routes[id]
		info.Versions = append(info.Versions, version(id, e.Routes[id]))
	}
	var gone []string
	for id := range traffic {
		if _, routed := e.Routes[id]; !routed {
			gone = append(gone, id)
		}
	}
	slices.Sort(gone)
	for _, id := range gone {
		info.Versions = append(info.Versions, version(id, 0))
	}
	return info
}

package lambdaalias

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/serving"
)

// API is the part of the Lambda API the adapter reads
// (shared/awsclient/lambdarest implements it over the service's REST API).
type API interface {
	// ListAliases returns every alias of function, all pages read.
	ListAliases(ctx context.Context, function string) ([]Alias, error)
	// GetAlias returns the alias name of function; an error wrapping
	// ErrNotFound when the function or the alias does not exist.
	GetAlias(ctx context.Context, function, name string) (Alias, error)
	// Variables returns the environment variables of one version of
	// function (none: an empty or nil map).
	Variables(ctx context.Context, function, version string) (map[string]string, error)
}

// Alias is what the adapter reads of a Lambda alias.
type Alias struct {
	Name string
	// FunctionVersion is the primary version, which takes the traffic the
	// additional versions leave.
	FunctionVersion string
	// AdditionalVersionWeights maps versions to their share, each in [0, 1].
	AdditionalVersionWeights map[string]float64
}

// ErrNotFound is wrapped by an API's error when the function, alias or
// version it was asked for does not exist (the Lambda API's
// ResourceNotFoundException).
var ErrNotFound = fault.New(fault.NotFound, "lambdaalias: no such function, alias or version")

// Endpoints reads the endpoints of one environment's stack from the aliases
// of its predict function. Versions are immutable, so the model id of each
// is read once and kept. It is safe for concurrent use.
type Endpoints struct {
	Client API
	// Function is the predict function's name.
	Function string
	// Environment is the environment the stack serves.
	Environment string

	mu     sync.Mutex
	models map[string]string // version -> model id ("" for none)
}

// NewEndpoints returns the adapter, or an error when a field is missing.
func NewEndpoints(client API, function, environment string) (*Endpoints, error) {
	if client == nil || function == "" {
		return nil, errors.New("lambdaalias: a client and the predict function's name are required")
	}
	if err := serving.CheckEnvironment(environment); err != nil {
		return nil, fmt.Errorf("lambdaalias: %w", err)
	}
	return &Endpoints{Client: client, Function: function, Environment: environment}, nil
}

// ListEndpoints returns the stack's endpoints when environment is "" or the
// stack's, by name; none for another environment.
func (e *Endpoints) ListEndpoints(ctx context.Context, environment string) ([]serving.EndpointInfo, error) {
	if environment != "" {
		if err := serving.CheckEnvironment(environment); err != nil {
			return nil, err
		}
		if environment != e.Environment {
			return []serving.EndpointInfo{}, nil
		}
	}
	aliases, err := e.Client.ListAliases(ctx, e.Function)
	if err != nil {
		return nil, fmt.Errorf("list the aliases of %s: %w", e.Function, unavailable(err))
	}
	slices.SortFunc(aliases, func(a, b Alias) int { return compare(a.Name, b.Name) })
	out := make([]serving.EndpointInfo, 0, len(aliases))
	for _, a := range aliases {
		info, err := e.view(ctx, a)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// GetEndpoint returns the endpoint of the alias named endpoint;
// serving.ErrNoEndpoint when the stack has no such alias or serves another
// environment.
func (e *Endpoints) GetEndpoint(ctx context.Context, environment, endpoint string) (serving.EndpointInfo, error) {
	if err := serving.CheckEnvironment(environment); err != nil {
		return serving.EndpointInfo{}, err
	}
	if environment != e.Environment {
		return serving.EndpointInfo{}, fmt.Errorf("endpoint %s does not exist in environment %s (this stack serves %s): %w",
			endpoint, environment, e.Environment, serving.ErrNoEndpoint)
	}
	alias, err := e.Client.GetAlias(ctx, e.Function, endpoint)
	if errors.Is(err, ErrNotFound) {
		return serving.EndpointInfo{}, fmt.Errorf("endpoint %s is not provisioned in environment %s (the serving stack's endpoints context lists them): %w",
			endpoint, environment, serving.ErrNoEndpoint)
	}
	if err != nil {
		return serving.EndpointInfo{}, fmt.Errorf("get alias %s of %s: %w", endpoint, e.Function, unavailable(err))
	}
	return e.view(ctx, alias)
}

// Predict refuses with serving.ErrNoEndpoint: on AWS the predict requests of
// a provisioned endpoint go from API Gateway to the predict function's
// alias, so one that reaches the api function names an endpoint whose alias
// and route the stack did not provision.
func (e *Endpoints) Predict(_ context.Context, environment, endpoint string, _ []byte) (serving.PredictResponse, error) {
	return serving.PredictResponse{}, fmt.Errorf("endpoint %s is not provisioned in environment %s: the stack routes POST %s to its predict function's alias of that name only for the endpoints of its endpoints context: %w",
		endpoint, environment, serving.PredictPath(endpoint), serving.ErrNoEndpoint)
}

// view turns an alias into the endpoint it routes.
func (e *Endpoints) view(ctx context.Context, a Alias) (serving.EndpointInfo, error) {
	name := a.Name
	percents := Percents(a.FunctionVersion, a.AdditionalVersionWeights)
	info := serving.EndpointInfo{Endpoint: name, Environment: e.Environment, Routes: map[string]int{}, Versions: []serving.VersionInfo{},
		Links: serving.EndpointLinks{Self: serving.EndpointPath(name) + "?environment=" + e.Environment,
			Predict: serving.PredictPath(name) + "?environment=" + e.Environment}}
	versions := make([]string, 0, len(percents))
	for v := range percents {
		versions = append(versions, v)
	}
	slices.SortFunc(versions, func(x, y string) int {
		if percents[x] != percents[y] {
			return percents[y] - percents[x]
		}
		return compare(x, y)
	})
	for _, v := range versions {
		model, err := e.modelOf(ctx, v)
		if err != nil {
			return serving.EndpointInfo{}, err
		}
		info.Versions = append(info.Versions, serving.VersionInfo{ModelID: model, Weight: percents[v], FunctionVersion: v})
		if model != "" {
			info.Routes[model] += percents[v]
		}
		if v == a.FunctionVersion {
			info.LiveModelID = model
		}
	}
	return info, nil
}

// modelOf returns the model id a version serves ("" for none), read once.
func (e *Endpoints) modelOf(ctx context.Context, version string) (string, error) {
	e.mu.Lock()
	model, ok := e.models[version]
	e.mu.Unlock()
	if ok {
		return model, nil
	}
	vars, err := e.Client.Variables(ctx, e.Function, version)
	if err != nil {
		return "", fmt.Errorf("get the configuration of %s version %s: %w", e.Function, version, unavailable(err))
	}
	model = vars[config.EnvModelID]
	if version != "$LATEST" {
		e.mu.Lock()
		if e.models == nil {
			e.models = map[string]string{}
		}
		e.models[version] = model
		e.mu.Unlock()
	}
	return model, nil
}

// Percents turns an alias' routing (the primary version takes what the
// additional weights, each in [0, 1], leave) into whole percents that sum
// to 100, by largest remainder; versions at 0 % are left out.
func Percents(primary string, additional map[string]float64) map[string]int {
	shares := map[string]float64{primary: 1}
	for v, w := range additional {
		shares[v] += w
		shares[primary] -= w
	}
	type part struct {
		v    string
		rem  float64
		base int
	}
	var parts []part
	total := 0
	for v, s := range shares {
		pct := math.Max(0, s*100)
		base := int(math.Floor(pct + 1e-9))
		parts = append(parts, part{v, pct - float64(base), base})
		total += base
	}
	slices.SortFunc(parts, func(a, b part) int {
		if a.rem != b.rem {
			if a.rem > b.rem {
				return -1
			}
			return 1
		}
		return compare(a.v, b.v)
	})
	for i := 0; total < 100 && i < len(parts); i++ {
		parts[i].base++
		total++
	}
	out := map[string]int{}
	for _, p := range parts {
		if p.base > 0 {
			out[p.v] = p.base
		}
	}
	return out
}

// unavailable marks a Lambda API failure as a backend failure (503).
func unavailable(err error) error {
	return fmt.Errorf("%w: %w", err, errLambda)
}

// errLambda is wrapped by every failed call of the Lambda API.
var errLambda = fault.New(fault.Unavailable, "lambdaalias: the Lambda API failed")

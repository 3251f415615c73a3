package api

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/orrery-ml/orrery/shared/serving"
	"github.com/orrery-ml/orrery/shared/store"
)

// Endpoints serves the model endpoints: their views and their predictions.
// On the embedded runtime it is serving.Endpoints (routes in the endpoint
// store, weighted choice, per-version traffic); in the `api` Lambda it reads
// the predict function's aliases (serving/lambdaalias), while the predict
// requests themselves go from API Gateway to the predict function.
type Endpoints interface {
	// ListEndpoints returns the endpoints of environment ("": every
	// environment the runtime serves), by environment and name.
	ListEndpoints(ctx context.Context, environment string) ([]serving.EndpointInfo, error)
	// GetEndpoint returns one endpoint, or an error wrapping
	// serving.ErrNoEndpoint when the environment has no such endpoint.
	GetEndpoint(ctx context.Context, environment, endpoint string) (serving.EndpointInfo, error)
	// Predict answers a predict request whose raw body is body: errors are
	// *serving.InputError and *serving.SchemaError (400/413),
	// serving.ErrNoEndpoint and ErrNothingDeployed (404), or the version's
	// failure (503, 500), wrapped in a *serving.RoutedError once a version
	// was chosen.
	Predict(ctx context.Context, environment, endpoint string, body []byte) (serving.PredictResponse, error)
}

// EndpointList is what GET /ml/endpoints returns.
type EndpointList struct {
	Endpoints []serving.EndpointInfo `json:"endpoints"`
}

// PredictRequest documents the body of POST
// /ml/endpoints/{endpoint}/predict; serving.Predictor decodes it.
type PredictRequest struct {
	// Instances are objects of feature: value, every feature of the model.
	Instances []map[string]*float64 `json:"instances,omitempty"`
	// Rows are arrays of values in the model's feature order.
	Rows [][]*float64 `json:"rows,omitempty"`
}

// predictAnswer is a prediction with the header naming its version.
type predictAnswer struct {
	serving.PredictResponse
}

func (a predictAnswer) answerHeaders() map[string]string {
	return map[string]string{serving.ModelIDHeader: a.ModelID}
}

// answerHeaders are the headers an answer (or the error of a failed one)
// adds to its response.
func answerHeaders(v any) map[string]string {
	if h, ok := v.(interface{ answerHeaders() map[string]string }); ok {
		return h.answerHeaders()
	}
	if err, ok := v.(error); ok {
		var routed *serving.RoutedError
		if errors.As(err, &routed) {
			return map[string]string{serving.ModelIDHeader: routed.ModelID}
		}
	}
	return nil
}

// environmentOf is the request's ?environment= (dev when absent or empty;
// list asks for "" then: every environment).
func environmentOf(r *http.Request, list bool) string {
	env := r.URL.Query().Get("environment")
	if env == "" && !list {
		return store.DefaultEnvironment
	}
	return env
}

// checkEndpointName refuses a path parameter that cannot name an endpoint.
func checkEndpointName(name string) error {
	if err := checkID("endpoint", name); err != nil {
		var re *RequestError
		if errors.As(err, &re) {
			re.Fields[0].Pointer = "" // a path parameter, not a body field
		}
		return err
	}
	return nil
}

// ListEndpoints returns the endpoints of environment ("" for every one).
func (s *Service) ListEndpoints(ctx context.Context, environment string) (EndpointList, error) {
	if s.Endpoints == nil {
		return EndpointList{}, notPlugged("model endpoints", "this runtime serves no endpoints")
	}
	eps, err := s.Endpoints.ListEndpoints(ctx, environment)
	if err != nil {
		return EndpointList{}, err
	}
	if eps == nil {
		eps = []serving.EndpointInfo{}
	}
	return EndpointList{Endpoints: eps}, nil
}

// GetEndpoint returns one endpoint of environment.
func (s *Service) GetEndpoint(ctx context.Context, environment, endpoint string) (serving.EndpointInfo, error) {
	if err := checkEndpointName(endpoint); err != nil {
		return serving.EndpointInfo{}, err
	}
	if s.Endpoints == nil {
		return serving.EndpointInfo{}, notPlugged("model endpoints", "this runtime serves no endpoints")
	}
	return s.Endpoints.GetEndpoint(ctx, environment, endpoint)
}

// Predict answers a predict request to the endpoint of environment.
func (s *Service) Predict(ctx context.Context, environment, endpoint string, body []byte) (serving.PredictResponse, error) {
	if s.Endpoints == nil {
		return serving.PredictResponse{}, notPlugged("predictions", "this runtime serves no endpoints")
	}
	if err := checkEndpointName(endpoint); err != nil {
		return serving.PredictResponse{}, err
	}
	return s.Endpoints.Predict(ctx, environment, endpoint, body)
}

// servingProblem is the problem of a predict body the serving package
// refused (names the wrong places), false for any other error.
func servingProblem(err error) (Problem, bool) {
	var (
		ie *serving.InputError
		se *serving.SchemaError
	)
	if !errors.As(err, &ie) && !errors.As(err, &se) {
		return Problem{}, false
	}
	sp := serving.ProblemFor(err)
	p := Problem{Type: sp.Type, Title: sp.Title, Status: sp.Status, Detail: sp.Detail}
	for _, is := range sp.Errors {
		p.Errors = append(p.Errors, FieldError{Field: is.Field, Pointer: is.Pointer, Detail: is.Detail})
	}
	return p, true
}

// predictExample is the request example of the predict route.
var predictExample = sync.OnceValue(func() map[string]any {
	return map[string]any{
		"instances": []map[string]any{{"meanprof": 140.5625, "sd-prof": 55.6838, "exk-prof": -0.2346, "skewness-prof": -0.6996,
			"meandmsnr": 3.1998, "sd-dmsnr": 19.1104, "exk-dmsnr": 7.9755, "skewness-dmsnr": 74.2422}},
	}
})

// environmentParam is the ?environment= query parameter.
func environmentParam(list bool) queryParam {
	desc := "The endpoint's environment: dev (the default), staging or prod."
	if list {
		desc = "Only the endpoints of this environment (dev, staging or prod); every environment when absent."
	}
	return queryParam{name: "environment", description: desc,
		schema: Schema{"type": "string", "enum": serving.Environments}}
}

// endpointRoutes are the model endpoints' operations.
var endpointRoutes = sync.OnceValue(func() []route {
	return []route{
		{
			method: http.MethodPost, path: "/ml/endpoints/{endpoint}/predict", operationID: "predict", tag: "endpoints",
			summary: "Predict with an endpoint's model",
			description: "Routes the request to one model version of the endpoint by its weights, checks the body against that model's features " +
				"and answers a prediction per instance: label and positive-class probability (binary, at the model's decision threshold) or " +
				"label and every class's probability (multi-class). Give instances (objects by feature name) or rows (arrays in the model's " +
				"feature order); null is a missing measurement. Missing, extra or non-numeric features answer 400 naming each one. " +
				"The header " + serving.ModelIDHeader + " names the version that answered (on errors too, once a version was chosen).",
			request: typeOf[PredictRequest](), example: predictExample(),
			query:   []queryParam{environmentParam(false)},
			headers: map[string]string{serving.ModelIDHeader: "The model id of the version that answered."},
			success: http.StatusOK, response: typeOf[serving.PredictResponse](),
			problems: []int{http.StatusNotFound, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity,
				http.StatusNotImplemented, http.StatusServiceUnavailable},
			handle: func(ctx context.Context, s *Service, r *http.Request, body []byte) (any, error) {
				resp, err := s.Predict(ctx, environmentOf(r, false), r.PathValue("endpoint"), body)
				if err != nil {
					return nil, err
				}
				return predictAnswer{resp}, nil
			},
		},
		{
			method: http.MethodGet, path: "/ml/endpoints", operationID: "listEndpoints", tag: "endpoints",
			summary:     "Model endpoints",
			description: "Every endpoint with its live model, its weights and each version's recent traffic (requests, errors, schema violations, latency quantiles, positive rate, score histogram).",
			query:       []queryParam{environmentParam(true)},
			success:     http.StatusOK, response: typeOf[EndpointList](),
			problems: []int{http.StatusNotImplemented, http.StatusServiceUnavailable},
			handle: func(ctx context.Context, s *Service, r *http.Request, _ []byte) (any, error) {
				return s.ListEndpoints(ctx, environmentOf(r, true))
			},
		},
		{
			method: http.MethodGet, path: "/ml/endpoints/{endpoint}", operationID: "getEndpoint", tag: "endpoints",
			summary:     "A model endpoint",
			description: "The endpoint's live model, its weights and each version's recent traffic.",
			query:       []queryParam{environmentParam(false)},
			success:     http.StatusOK, response: typeOf[serving.EndpointInfo](),
			problems: []int{http.StatusNotFound, http.StatusNotImplemented, http.StatusServiceUnavailable},
			handle: func(ctx context.Context, s *Service, r *http.Request, _ []byte) (any, error) {
				return s.GetEndpoint(ctx, environmentOf(r, false), r.PathValue("endpoint"))
			},
		},
	}
})

package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/orrery-ml/orrery/shared/serving"
	"github.com/orrery-ml/orrery/shared/serving/emf"
	"github.com/orrery-ml/orrery/shared/store"
)

// handler answers API Gateway HTTP API (payload 2.0) predict requests with
// the model of this version.
type handler struct {
	cfg     Config
	models  func() (*serving.Models, error)
	metrics *emf.Writer
	log     *slog.Logger
	now     func() time.Time
}

func (h *handler) clock() time.Time {
	if h.now != nil {
		return h.now()
	}
	return time.Now()
}

// warm starts loading the version's model in the background.
func (h *handler) warm() {
	if h.cfg.ModelID == "" {
		return
	}
	go func() {
		m, err := h.models()
		if err != nil {
			h.log.Error("model store", "error", err.Error())
			return
		}
		m.Warm(h.cfg.ModelID)
	}()
}

// Handle answers one request; every failure is a problem+json answer, never
// an invocation error (API Gateway would turn that into a bare 500).
func (h *handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	start := h.clock()
	endpoint := endpointOf(req)
	resp, reached, err := h.predict(ctx, req, endpoint)
	if reached {
		obs := serving.Observe(resp.result, err, h.clock().Sub(start))
		props := map[string]string{"FunctionVersion": h.cfg.FunctionVersion, "RequestId": req.RequestContext.RequestID}
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			props["InvokedFunctionArn"] = lc.InvokedFunctionArn
		}
		if werr := h.metrics.Write(h.cfg.Environment, endpoint, h.cfg.ModelID, obs, props); werr != nil {
			h.log.ErrorContext(ctx, "metrics", "error", werr.Error())
		}
	}
	header := map[string]string{}
	if reached {
		header[serving.ModelIDHeader] = h.cfg.ModelID
	}
	if err != nil {
		p := serving.ProblemFor(err)
		p.Instance = req.RawPath
		if p.Status >= 500 {
			h.log.ErrorContext(ctx, "request failed", "path", req.RawPath, "status", p.Status, "error", err.Error())
		}
		return answer(p.Status, serving.ProblemContentType, header, p), nil
	}
	return answer(http.StatusOK, "application/json", header, serving.PredictResponse{Endpoint: endpoint,
		ModelID: h.cfg.ModelID, Predictions: resp.result.Predictions}), nil
}

type prediction struct{ result serving.Result }

// predict checks the request and predicts it; reached reports that it got
// as far as the version's model (and so counts in the version's metrics).
func (h *handler) predict(ctx context.Context, req events.APIGatewayV2HTTPRequest, endpoint string) (prediction, bool, error) {
	if err := store.CheckID("endpoint", endpoint); err != nil {
		return prediction{}, false, &serving.InputError{Issues: []serving.Issue{{Field: "endpoint",
			Detail: fmt.Sprintf("%q is not an endpoint name (letters, digits, '.', '_' and '-')", endpoint)}}}
	}
	env := req.QueryStringParameters["environment"]
	if env == "" {
		env = h.cfg.Environment
	}
	if err := serving.CheckEnvironment(env); err != nil {
		return prediction{}, false, err
	}
	if env != h.cfg.Environment {
		return prediction{}, false, fmt.Errorf("endpoint %s does not exist in environment %s (this stack serves %s): %w",
			endpoint, env, h.cfg.Environment, serving.ErrNoEndpoint)
	}
	if h.cfg.ModelID == "" {
		return prediction{}, false, fmt.Errorf("endpoint %s in %s has no model deployed: %w", endpoint, env, serving.ErrNothingDeployed)
	}
	if ct := header(req, "content-type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			return prediction{}, false, serving.MediaTypeError(ct)
		}
	}
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
			return prediction{}, false, &serving.InputError{Issues: []serving.Issue{{Field: "body", Detail: "not valid base64"}}}
		}
	}
	models, err := h.models()
	if err != nil {
		return prediction{}, true, serving.ModelLoadError(endpoint, h.cfg.ModelID, err)
	}
	p, err := models.Get(ctx, h.cfg.ModelID)
	if err != nil {
		return prediction{}, true, serving.ModelLoadError(endpoint, h.cfg.ModelID, err)
	}
	res, err := p.PredictBody(ctx, body)
	return prediction{result: res}, true, err
}

// endpointOf is the {endpoint} path parameter, or the segment of the path
// that holds it.
func endpointOf(req events.APIGatewayV2HTTPRequest) string {
	if e := req.PathParameters["endpoint"]; e != "" {
		return e
	}
	rest, ok := strings.CutPrefix(req.RawPath, "/ml/endpoints/")
	if !ok {
		return ""
	}
	e, _, _ := strings.Cut(rest, "/")
	return e
}

// header returns a request header (API Gateway lower-cases their names).
func header(req events.APIGatewayV2HTTPRequest, name string) string {
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// answer encodes v as the response.
func answer(status int, contentType string, header map[string]string, v any) events.APIGatewayV2HTTPResponse {
	b, err := json.Marshal(v)
	if err != nil {
		status, contentType = http.StatusInternalServerError, serving.ProblemContentType
		b, _ = json.Marshal(serving.ProblemFor(fmt.Errorf("encode the answer: %w", err)))
	}
	header["Content-Type"] = contentType
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: header, Body: string(b)}
}

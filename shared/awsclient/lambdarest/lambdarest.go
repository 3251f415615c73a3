package lambdarest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/orrery-ml/orrery/shared/awsclient/envconfig"
	"github.com/orrery-ml/orrery/shared/awsclient/signedcall"
	"github.com/orrery-ml/orrery/shared/serving/lambdaalias"
)

// apiVersion is the path prefix of the Lambda API's operations.
const apiVersion = "/2015-03-31"

// Client reads aliases and function configurations from the Lambda API. It
// is safe for concurrent use.
type Client struct {
	// Endpoint is the service's base URL ("https://lambda.us-east-1.amazonaws.com").
	Endpoint string
	// Region is the region requests are signed for.
	Region string
	// Credentials sign the requests.
	Credentials aws.CredentialsProvider
	// HTTP sends them (nil: http.DefaultClient).
	HTTP *http.Client

	signer *v4.Signer // nil: a new one each request
}

var _ lambdaalias.API = (*Client)(nil)

// New returns a client for cfg's region and credentials, at the endpoint
// the SDK's Lambda client would use: AWS_ENDPOINT_URL_LAMBDA, then
// cfg.BaseEndpoint (envconfig.ServiceEndpoint, getenv reading the
// variables), else the region's public endpoint.
func New(cfg aws.Config, getenv func(string) string) *Client {
	ep := envconfig.ServiceEndpoint(cfg, getenv, "Lambda")
	if ep == "" {
		ep = signedcall.PublicEndpoint("lambda", cfg.Region)
	}
	return &Client{Endpoint: ep, Region: cfg.Region, Credentials: cfg.Credentials, signer: v4.NewSigner()}
}

// Error is the Lambda API's answer to a call it refused.
type Error struct {
	Status int
	// Code is the exception's name ("ResourceNotFoundException").
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

// Is makes a ResourceNotFoundException match lambdaalias.ErrNotFound.
func (e *Error) Is(target error) bool {
	return target == lambdaalias.ErrNotFound && e.Code == "ResourceNotFoundException"
}

// aliasConfiguration is the API's AliasConfiguration, the fields read.
type aliasConfiguration struct {
	Name            string
	FunctionVersion string
	RoutingConfig   *struct {
		AdditionalVersionWeights map[string]float64
	}
}

func (a aliasConfiguration) alias() lambdaalias.Alias {
	out := lambdaalias.Alias{Name: a.Name, FunctionVersion: a.FunctionVersion}
	if a.RoutingConfig != nil {
		out.AdditionalVersionWeights = a.RoutingConfig.AdditionalVersionWeights
	}
	return out
}

// ListAliases returns every alias of function (ListAliases, page after
// page).
func (c *Client) ListAliases(ctx context.Context, function string) ([]lambdaalias.Alias, error) {
	var out []lambdaalias.Alias
	marker := ""
	for {
		q := url.Values{}
		if marker != "" {
			q.Set("Marker", marker)
		}
		var page struct {
			Aliases    []aliasConfiguration
			NextMarker *string
		}
		if err := c.get(ctx, "ListAliases", "/functions/"+url.PathEscape(function)+"/aliases", q, &page); err != nil {
			return nil, err
		}
		for _, a := range page.Aliases {
			out = append(out, a.alias())
		}
		if page.NextMarker == nil || *page.NextMarker == "" || *page.NextMarker == marker {
			return out, nil
		}
		marker = *page.NextMarker
	}
}

// GetAlias returns the alias name of function (GetAlias); an *Error that
// matches lambdaalias.ErrNotFound when either does not exist.
func (c *Client) GetAlias(ctx context.Context, function, name string) (lambdaalias.Alias, error) {
	var a aliasConfiguration
	if err := c.get(ctx, "GetAlias", "/functions/"+url.PathEscape(function)+"/aliases/"+url.PathEscape(name), nil, &a); err != nil {
		return lambdaalias.Alias{}, err
	}
	return a.alias(), nil
}

// Variables returns the environment variables of version of function
// (GetFunctionConfiguration with the version as qualifier).
func (c *Client) Variables(ctx context.Context, function, version string) (map[string]string, error) {
	var conf struct {
		Environment *struct{ Variables map[string]string }
	}
	q := url.Values{"Qualifier": {version}}
	if err := c.get(ctx, "GetFunctionConfiguration", "/functions/"+url.PathEscape(function)+"/configuration", q, &conf); err != nil {
		return nil, err
	}
	if conf.Environment == nil {
		return nil, nil
	}
	return conf.Environment.Variables, nil
}

// get sends the operation op, a signed GET of path (under the API version)
// with query q, and decodes the JSON answer into out, retrying throttling,
// 5xx answers and failed connections. Its errors name op and the path (the
// callers, shared/serving/lambdaalias, add what they were doing).
func (c *Client) get(ctx context.Context, op, path string, q url.Values, out any) error {
	u := strings.TrimSuffix(c.Endpoint, "/") + apiVersion + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	api := signedcall.Client{Service: "lambda", Region: c.Region, Credentials: c.Credentials, HTTP: c.HTTP, Signer: c.signer}
	body, err := api.Do(ctx, http.MethodGet, u, http.Header{"Accept": {"application/json"}}, nil)
	if err == nil {
		if err = json.Unmarshal(body, out); err != nil {
			err = fmt.Errorf("decode the answer: %w", err)
		}
	}
	if err != nil {
		var refused *signedcall.Error
		if errors.As(err, &refused) {
			err = &Error{Status: refused.Status, Code: refused.Code, Message: refused.Message}
		}
		return fmt.Errorf("lambdarest: %s %s: %w", op, path, err)
	}
	return nil
}

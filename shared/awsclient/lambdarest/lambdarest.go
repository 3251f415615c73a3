package lambdarest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/orrery-ml/orrery/shared/awsclient/envconfig"
	"github.com/orrery-ml/orrery/shared/serving/lambdaalias"
)

// apiVersion is the path prefix of the Lambda API's operations.
const apiVersion = "/2015-03-31"

// emptyPayloadHash is the SHA-256 of an empty body, which SigV4 signs for
// a GET.
const emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// maxAttempts is how many times a call is sent when the service throttles
// it, answers 5xx or the connection fails, as the SDK's standard retryer
// does.
const maxAttempts = 3

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
		ep = "https://lambda." + cfg.Region + ".amazonaws.com"
		if strings.HasPrefix(cfg.Region, "cn-") {
			ep += ".cn"
		}
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
	for attempt := 1; ; attempt++ {
		retry, err := c.send(ctx, u, out)
		if err == nil {
			return nil
		}
		if !retry || attempt == maxAttempts || ctx.Err() != nil || wait(ctx, attempt) != nil {
			return fmt.Errorf("lambdarest: %s %s: %w", op, path, err)
		}
	}
}

// send makes one attempt; retry reports whether another may succeed.
func (c *Client) send(ctx context.Context, u string, out any) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "application/json")
	if c.Credentials == nil {
		return false, errors.New("no credentials")
	}
	creds, err := c.Credentials.Retrieve(ctx)
	if err != nil {
		return false, fmt.Errorf("retrieve credentials: %w", err)
	}
	signer := c.signer
	if signer == nil {
		signer = v4.NewSigner()
	}
	if err := signer.SignHTTP(ctx, creds, req, emptyPayloadHash, "lambda", c.Region, time.Now()); err != nil {
		return false, fmt.Errorf("sign: %w", err)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return true, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return true, fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		e := apiError(resp, body)
		return resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 || strings.Contains(e.Code, "Throttl"), e
	}
	if err := json.Unmarshal(body, out); err != nil {
		return false, fmt.Errorf("decode the answer: %w", err)
	}
	return false, nil
}

// apiError reads a refusal: the exception's name from X-Amzn-ErrorType
// (before any ':'), else the body's __type or code (after any '#'); the
// message from the body's Message or message. (The body's Type is the
// fault's side, "User" or "Service", not the exception.)
func apiError(resp *http.Response, body []byte) *Error {
	var fields map[string]any
	_ = json.Unmarshal(body, &fields)
	str := func(keys ...string) string {
		for _, k := range keys {
			if v, ok := fields[k].(string); ok && v != "" {
				return v
			}
		}
		return ""
	}
	code, _, _ := strings.Cut(resp.Header.Get("X-Amzn-ErrorType"), ":")
	if code == "" {
		code = str("__type", "code")
	}
	if i := strings.LastIndex(code, "#"); i >= 0 {
		code = code[i+1:]
	}
	if code == "" {
		code = http.StatusText(resp.StatusCode)
	}
	msg := str("Message", "message")
	if msg == "" {
		msg = strings.TrimSpace(string(body))
	}
	return &Error{Status: resp.StatusCode, Code: code, Message: msg}
}

// wait sleeps before attempt+1: a random time up to 50 ms × 2^attempt, as
// the SDK's exponential backoff with full jitter.
func wait(ctx context.Context, attempt int) error {
	var b [8]byte
	_, _ = rand.Read(b[:])
	max := time.Duration(50<<attempt) * time.Millisecond
	d := time.Duration(binary.LittleEndian.Uint64(b[:]) % uint64(max))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

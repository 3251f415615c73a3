package envconfig

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"

	"github.com/orrery-ml/orrery/shared/fault"
)

// The environment variables Load reads; shared/awsclient documents the
// endpoint variables.
const (
	// EnvEndpointURL points every service at one endpoint (an emulator).
	EnvEndpointURL = "AWS_ENDPOINT_URL"
	// EnvEndpointURLS3 points S3 alone at an endpoint.
	EnvEndpointURLS3 = "AWS_ENDPOINT_URL_S3"
	// EnvIgnoreEndpoints, when true, makes the SDK ignore the endpoint
	// variables.
	EnvIgnoreEndpoints = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"
	// EnvRegion is the region; EnvDefaultRegion, then DefaultRegion apply
	// when it is unset.
	EnvRegion        = "AWS_REGION"
	EnvDefaultRegion = "AWS_DEFAULT_REGION"
	// EnvAccessKeyID, EnvSecretAccessKey and EnvSessionToken are the
	// credentials (on Lambda, the execution role's).
	EnvAccessKeyID     = "AWS_ACCESS_KEY_ID"
	EnvSecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	EnvSessionToken    = "AWS_SESSION_TOKEN"
)

// DefaultRegion is the region used when no variable names one.
const DefaultRegion = "us-east-1"

// ErrEnvironment is returned (wrapped) when the environment does not hold a
// usable configuration: no credentials, or an endpoint that is not an
// http(s) URL.
var ErrEnvironment = fault.New(fault.Internal, "envconfig: bad AWS environment")

// Load returns the configuration for a Lambda function's AWS clients, read
// through getenv (os.Getenv in main): the region, the static credentials of
// the execution role (Lambda gives them for the life of the execution
// environment), AWS_ENDPOINT_URL and the per-service AWS_ENDPOINT_URL_<ID>
// variables as the SDK reads them (unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
// is true), and the request-body middleware (AddWithoutWriterTo). Retries,
// the HTTP client and the rest are the SDK clients' defaults. It fails with
// ErrEnvironment, naming the variables, when the credentials are missing or
// an endpoint is not an http(s) URL.
func Load(getenv func(string) string) (aws.Config, error) {
	env := environment{getenv: getenv}
	cfg := aws.Config{Region: getenv(EnvRegion), ConfigSources: []any{env},
		APIOptions: []func(*middleware.Stack) error{AddWithoutWriterTo}}
	if cfg.Region == "" {
		cfg.Region = getenv(EnvDefaultRegion)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	id, secret := getenv(EnvAccessKeyID), getenv(EnvSecretAccessKey)
	if id == "" || secret == "" {
		return aws.Config{}, fmt.Errorf("load aws config: %s and %s must both be set (a Lambda function's role gives them): %w",
			EnvAccessKeyID, EnvSecretAccessKey, ErrEnvironment)
	}
	creds := aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: getenv(EnvSessionToken),
		Source: "EnvConfigCredentials"}
	cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })
	if !env.ignoreEndpoints() {
		if ep := getenv(EnvEndpointURL); ep != "" {
			if err := checkEndpoint(EnvEndpointURL, ep); err != nil {
				return aws.Config{}, err
			}
			cfg.BaseEndpoint = aws.String(ep)
		}
	}
	return cfg, nil
}

// checkEndpoint refuses an endpoint that is not an http(s) URL.
func checkEndpoint(name, ep string) error {
	if !strings.HasPrefix(ep, "http://") && !strings.HasPrefix(ep, "https://") {
		return fmt.Errorf("load aws config: %s=%q is not an http(s) URL: %w", name, ep, ErrEnvironment)
	}
	return nil
}

// environment is Load's configuration source: the service clients ask it
// for their service's endpoint (AWS_ENDPOINT_URL_<ID>, the ID upper-cased
// with spaces as underscores, as the SDK's config module reads it) and
// whether configured endpoints are ignored.
type environment struct{ getenv func(string) string }

// GetServiceBaseEndpoint implements the SDK's service endpoint source.
func (e environment) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	name := EnvEndpointURL + "_" + strings.ReplaceAll(strings.ToUpper(sdkID), " ", "_")
	ep := e.getenv(name)
	if ep == "" {
		return "", false, nil
	}
	if err := checkEndpoint(name, ep); err != nil {
		return "", false, err
	}
	return ep, true, nil
}

// GetIgnoreConfiguredEndpoints implements the SDK's source of
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.
func (e environment) GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error) {
	v := e.getenv(EnvIgnoreEndpoints)
	if v == "" {
		return false, false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, false, fmt.Errorf("%s=%q: %w", EnvIgnoreEndpoints, v, err)
	}
	return b, true, nil
}

func (e environment) ignoreEndpoints() bool {
	ignore, found, err := e.GetIgnoreConfiguredEndpoints(context.Background())
	return found && err == nil && ignore
}

// ServiceEndpoint returns the endpoint configured for the service whose SDK
// ID is sdkID ("Lambda"), resolved as the SDK's clients resolve it: the
// service's own variable (AWS_ENDPOINT_URL_<ID>, passed over when it is not
// an http(s) URL, as the clients do), then cfg.BaseEndpoint
// (AWS_ENDPOINT_URL in Load's configuration); "" when neither applies.
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true leaves the service's variable
// out. A client that does not come from the SDK
// (shared/awsclient/lambdarest) reads its endpoint here.
func ServiceEndpoint(cfg aws.Config, getenv func(string) string, sdkID string) string {
	env := environment{getenv: getenv}
	if !env.ignoreEndpoints() {
		if ep, found, err := env.GetServiceBaseEndpoint(context.Background(), sdkID); found && err == nil {
			return ep
		}
	}
	return aws.ToString(cfg.BaseEndpoint)
}

// CustomEndpoint reports whether a service's clients go to an endpoint set in
// cfg (BaseEndpoint), in AWS_ENDPOINT_URL or in the service's own variable
// serviceVar (AWS_ENDPOINT_URL_S3, ...), unless
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true; getenv reads the variables.
func CustomEndpoint(cfg aws.Config, getenv func(string) string, serviceVar string) bool {
	if cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != "" {
		return true
	}
	if (environment{getenv: getenv}).ignoreEndpoints() {
		return false
	}
	return getenv(EnvEndpointURL) != "" || getenv(serviceVar) != ""
}

// S3Options returns the option for s3.NewFromConfig(cfg, ...) that addresses
// buckets path-style (http://host/bucket/key) when an emulator endpoint is
// configured (CustomEndpoint with AWS_ENDPOINT_URL_S3), as moto and
// LocalStack expect; against AWS it changes nothing.
func S3Options(cfg aws.Config, getenv func(string) string) func(*s3.Options) {
	pathStyle := CustomEndpoint(cfg, getenv, EnvEndpointURLS3)
	return func(o *s3.Options) {
		if pathStyle {
			o.UsePathStyle = true
		}
	}
}

package awsclient

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/orrery-ml/orrery/shared/awsclient/envconfig"
	"github.com/orrery-ml/orrery/shared/fault"
)

// Environment variables read by Load and S3Options (the SDK reads more: the
// credential chain, AWS_PROFILE, ...).
const (
	// EnvEndpointURL points every service at one endpoint (an emulator).
	EnvEndpointURL = envconfig.EnvEndpointURL
	// EnvEndpointURLS3 points S3 alone at an endpoint.
	EnvEndpointURLS3 = envconfig.EnvEndpointURLS3
	// EnvEndpointURLCloudWatch points CloudWatch alone at an endpoint.
	EnvEndpointURLCloudWatch = "AWS_ENDPOINT_URL_CLOUDWATCH"
	// EnvIgnoreEndpoints, when true, makes the SDK ignore both variables above.
	EnvIgnoreEndpoints = envconfig.EnvIgnoreEndpoints
	// EnvRegion is the region; DefaultRegion applies when no source names one.
	EnvRegion = envconfig.EnvRegion
)

// DefaultRegion is the region used when neither the environment nor the
// shared configuration names one.
const DefaultRegion = envconfig.DefaultRegion

// ErrConfig is returned (wrapped) when the AWS configuration cannot be built
// from the environment or the options.
var ErrConfig = fault.New(fault.Internal, "awsclient: bad configuration")

// Options adjust Load. The zero value reads everything from the environment.
type Options struct {
	// Endpoint, when set, is used for every service instead of what the
	// environment says (tests point it at moto). It must be an absolute
	// http or https URL.
	Endpoint string
	// Region, when set, wins over the environment.
	Region string
	// AccessKeyID and SecretAccessKey, when both set, are used as static
	// credentials instead of the SDK's credential chain (emulators accept any).
	AccessKeyID     string
	SecretAccessKey string
}

// Load returns the configuration for Orrery's AWS clients: the SDK's default
// chain (environment, shared files, container or instance role) adjusted by
// opts, with one middleware on every operation that keeps the SDK from
// resending a request the service has answered (see withoutWriterTo). It
// fails with ErrConfig for an endpoint that is not an http(s) URL.
func Load(ctx context.Context, opts Options) (aws.Config, error) {
	var loaders []func(*config.LoadOptions) error
	if opts.Endpoint != "" {
		if !strings.HasPrefix(opts.Endpoint, "http://") && !strings.HasPrefix(opts.Endpoint, "https://") {
			return aws.Config{}, fmt.Errorf("load aws config: endpoint %q is not an http(s) URL: %w", opts.Endpoint, ErrConfig)
		}
		loaders = append(loaders, config.WithBaseEndpoint(opts.Endpoint))
	}
	if opts.Region != "" {
		loaders = append(loaders, config.WithRegion(opts.Region))
	}
	if (opts.AccessKeyID == "") != (opts.SecretAccessKey == "") {
		return aws.Config{}, fmt.Errorf("load aws config: access key id and secret access key go together: %w", ErrConfig)
	}
	if opts.AccessKeyID != "" {
		loaders = append(loaders, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(opts.AccessKeyID, opts.SecretAccessKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loaders...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load aws config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	cfg.APIOptions = append(cfg.APIOptions, envconfig.AddWithoutWriterTo)
	return cfg, nil
}

// CustomS3Endpoint reports whether S3 clients made from cfg go to an endpoint
// other than AWS's own: one set in cfg (Options.Endpoint), or through
// AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_S3 unless
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true.
func CustomS3Endpoint(cfg aws.Config) bool { return CustomEndpoint(cfg, EnvEndpointURLS3) }

// CustomEndpoint reports whether a service's clients go to an endpoint set in
// cfg, in AWS_ENDPOINT_URL or in the service's own variable serviceVar
// (AWS_ENDPOINT_URL_S3, ...), unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is
// true.
func CustomEndpoint(cfg aws.Config, serviceVar string) bool {
	return envconfig.CustomEndpoint(cfg, os.Getenv, serviceVar)
}

// S3Options returns the option for s3.NewFromConfig(cfg, ...) that addresses
// buckets path-style (http://host/bucket/key) when an emulator endpoint is
// configured, as moto and LocalStack expect; against AWS it changes nothing.
func S3Options(cfg aws.Config) func(*s3.Options) { return envconfig.S3Options(cfg, os.Getenv) }

package stacks

import (
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
)

// Context keys read by FromContext (`cdk synth -c env=prod -c alertEmail=ops@example.org`).
const (
	// ContextEnv names the environment: dev, staging or prod.
	ContextEnv = "env"
	// ContextAlertEmail, when set, subscribes that address to the alert topic.
	ContextAlertEmail = "alertEmail"
	// ContextJWTIssuer and ContextJWTAudience, when both set, put a JWT authorizer in front of the API
	// instead of IAM authorization.
	ContextJWTIssuer   = "jwtIssuer"
	ContextJWTAudience = "jwtAudience"
	// ContextRequireBuiltAssets set to "true" refuses to synthesize with placeholders for the function zips or the
	// trainer's Dockerfile: deploys and diffs set it so that only what `make functions` built, and the real
	// trainer image, can reach AWS.
	ContextRequireBuiltAssets = "requireBuiltAssets"
)

// Environment is everything that differs between dev, staging and prod: names, sizes, retention and what happens
// to stateful resources when their stack is deleted.
type Environment struct {
	// Name is dev, staging or prod; it prefixes stack and physical resource names.
	Name string
	// RemovalPolicy applies to buckets, tables, keys and log groups.
	RemovalPolicy awscdk.RemovalPolicy
	// DeletionProtection guards DynamoDB tables.
	DeletionProtection bool
	// LogRetention is how long Lambda, state-machine, Batch and API logs are kept.
	LogRetention awslogs.RetentionDays
	// NoncurrentVersionDays is how long overwritten or deleted S3 object versions are kept.
	NoncurrentVersionDays int
	// CheckpointDays is how long training checkpoints are kept before they expire.
	CheckpointDays int
	// NATGateways is the number of NAT gateways of the Batch VPC (one per AZ in prod).
	NATGateways int
	// GPUMaxVCPUs and CPUMaxVCPUs cap the Batch compute environments.
	GPUMaxVCPUs, CPUMaxVCPUs int
	// GPUInstanceTypes are the instance types of the GPU compute environments.
	GPUInstanceTypes []string
	// CPUInstanceClasses are the instance classes of the CPU compute environment.
	CPUInstanceClasses []string
	// TrainingTimeoutHours bounds one Batch training attempt; at most the training state machine's Train timeout
	// (6 hours, shared/pipeline), which bounds all attempts together.
	TrainingTimeoutHours int
	// FunctionMemoryMB is the memory of the backbone functions; PredictMemoryMB that of predict.
	FunctionMemoryMB, PredictMemoryMB int
	// APIRateLimit (requests per second) and APIBurstLimit throttle the HTTP API's default stage.
	APIRateLimit, APIBurstLimit int
	// PredictLatencyP99Ms is the p99 duration above which the predict alarm fires.
	PredictLatencyP99Ms int
	// APILatencyP99Ms is the p99 integration latency above which the API alarm fires.
	APILatencyP99Ms int
	// AlertEmail, when not empty, is subscribed to the alert topic.
	AlertEmail string
	// JWTIssuer and JWTAudience configure the optional JWT authorizer; empty means IAM authorization.
	JWTIssuer   string
	JWTAudience []string
	// RequireBuiltAssets refuses placeholder function code and a placeholder trainer image (set for diff and
	// deploy).
	RequireBuiltAssets bool
}

// Names of the environments Named knows.
const (
	EnvDev     = "dev"
	EnvStaging = "staging"
	EnvProd    = "prod"
)

var environments = map[string]Environment{
	EnvDev: {
		Name: EnvDev, RemovalPolicy: awscdk.RemovalPolicy_DESTROY, DeletionProtection: false,
		LogRetention: awslogs.RetentionDays_TWO_WEEKS, NoncurrentVersionDays: 7, CheckpointDays: 7,
		NATGateways: 1, GPUMaxVCPUs: 16, CPUMaxVCPUs: 16,
		GPUInstanceTypes: []string{"g5.xlarge", "g5.2xlarge", "g4dn.xlarge"}, CPUInstanceClasses: []string{"c6i", "m6i"},
		TrainingTimeoutHours: 2, FunctionMemoryMB: 512, PredictMemoryMB: 1024,
		APIRateLimit: 50, APIBurstLimit: 100, PredictLatencyP99Ms: 1000, APILatencyP99Ms: 2000,
	},
	EnvStaging: {
		Name: EnvStaging, RemovalPolicy: awscdk.RemovalPolicy_RETAIN, DeletionProtection: false,
		LogRetention: awslogs.RetentionDays_ONE_MONTH, NoncurrentVersionDays: 30, CheckpointDays: 14,
		NATGateways: 1, GPUMaxVCPUs: 32, CPUMaxVCPUs: 32,
		GPUInstanceTypes: []string{"g5.xlarge", "g5.2xlarge", "g4dn.xlarge"}, CPUInstanceClasses: []string{"c6i", "m6i"},
		TrainingTimeoutHours: 4, FunctionMemoryMB: 512, PredictMemoryMB: 1024,
		APIRateLimit: 100, APIBurstLimit: 200, PredictLatencyP99Ms: 750, APILatencyP99Ms: 1500,
	},
	EnvProd: {
		Name: EnvProd, RemovalPolicy: awscdk.RemovalPolicy_RETAIN, DeletionProtection: true,
		LogRetention: awslogs.RetentionDays_ONE_YEAR, NoncurrentVersionDays: 90, CheckpointDays: 30,
		NATGateways: 2, GPUMaxVCPUs: 128, CPUMaxVCPUs: 64,
		GPUInstanceTypes:     []string{"g5.xlarge", "g5.2xlarge", "g5.4xlarge", "g4dn.xlarge", "g4dn.2xlarge"},
		CPUInstanceClasses:   []string{"c6i", "c7i", "m6i"},
		TrainingTimeoutHours: 6, FunctionMemoryMB: 1024, PredictMemoryMB: 2048,
		APIRateLimit: 500, APIBurstLimit: 1000, PredictLatencyP99Ms: 500, APILatencyP99Ms: 1000,
	},
}

// EnvironmentNames lists the environments Named knows, sorted.
func EnvironmentNames() []string {
	names := make([]string, 0, len(environments))
	for n := range environments {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Named returns the settings of the environment called name, or an error wrapping ErrUnknownEnvironment.
func Named(name string) (Environment, error) {
	env, ok := environments[name]
	if !ok {
		return Environment{}, fmt.Errorf("environment %q (want one of %s): %w",
			name, strings.Join(EnvironmentNames(), ", "), ErrUnknownEnvironment)
	}
	env.GPUInstanceTypes = append([]string(nil), env.GPUInstanceTypes...)
	env.CPUInstanceClasses = append([]string(nil), env.CPUInstanceClasses...)
	return env, nil
}

// ContextReader is the part of a construct node FromContext needs; constructs.Node satisfies it.
type ContextReader interface {
	TryGetContext(key *string) interface{}
}

// FromContext builds the Environment from CDK context: `env` (default dev), `alertEmail`, `jwtIssuer`,
// `jwtAudience` (comma-separated) and `requireBuiltAssets`. A value of the wrong kind is an error naming the key.
func FromContext(ctx ContextReader) (Environment, error) {
	get := func(key string) (string, error) {
		v := ctx.TryGetContext(&key)
		switch v := v.(type) {
		case nil:
			return "", nil
		case string:
			return strings.TrimSpace(v), nil
		case bool:
			return fmt.Sprint(v), nil
		default:
			return "", fmt.Errorf("context %q is %T, want a string: %w", key, v, ErrInvalidContext)
		}
	}
	name, err := get(ContextEnv)
	if err != nil {
		return Environment{}, err
	}
	if name == "" {
		name = EnvDev
	}
	env, err := Named(name)
	if err != nil {
		return Environment{}, fmt.Errorf("context %q: %w", ContextEnv, err)
	}
	if env.AlertEmail, err = get(ContextAlertEmail); err != nil {
		return Environment{}, err
	}
	if env.AlertEmail != "" && !strings.Contains(env.AlertEmail, "@") {
		return Environment{}, fmt.Errorf("context %q: %q is not an e-mail address: %w",
			ContextAlertEmail, env.AlertEmail, ErrInvalidContext)
	}
	if env.JWTIssuer, err = get(ContextJWTIssuer); err != nil {
		return Environment{}, err
	}
	audience, err := get(ContextJWTAudience)
	if err != nil {
		return Environment{}, err
	}
	for _, a := range strings.Split(audience, ",") {
		if a = strings.TrimSpace(a); a != "" {
			env.JWTAudience = append(env.JWTAudience, a)
		}
	}
	if (env.JWTIssuer == "") != (len(env.JWTAudience) == 0) {
		return Environment{}, fmt.Errorf("context %q and %q must be given together: %w",
			ContextJWTIssuer, ContextJWTAudience, ErrInvalidContext)
	}
	if env.JWTIssuer != "" {
		u, perr := url.Parse(env.JWTIssuer)
		if perr != nil || u.Scheme != "https" || u.Host == "" {
			return Environment{}, fmt.Errorf("context %q: %q is not an https URL: %w",
				ContextJWTIssuer, env.JWTIssuer, ErrInvalidContext)
		}
	}
	require, err := get(ContextRequireBuiltAssets)
	if err != nil {
		return Environment{}, err
	}
	switch require {
	case "", "false":
	case "true":
		env.RequireBuiltAssets = true
	default:
		return Environment{}, fmt.Errorf("context %q: %q, want true or false: %w",
			ContextRequireBuiltAssets, require, ErrInvalidContext)
	}
	return env, nil
}

// Prefix returns "orrery-<env>-", the prefix of stack names and physical resource names.
func (e Environment) Prefix() string { return "orrery-" + e.Name + "-" }

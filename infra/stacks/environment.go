package stacks

import (
	"fmt"
	"net/url"
	"regexp"
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
	// ContextJWTScopePrefix is put before each route's scope (config.ScopeRead, ...) in the JWT authorizer's
	// AuthorizationScopes: a Cognito resource server's identifier and a slash ("orrery-api/"), empty for an
	// issuer that grants the bare names.
	ContextJWTScopePrefix = "jwtScopePrefix"
	// ContextRequireBuiltAssets set to "true" refuses to synthesize with placeholders for the function zips or the
	// trainer's Dockerfile: deploys and diffs set it so that only what `make functions` built, and the real
	// trainer image, can reach AWS. Staging and prod then also need an alert e-mail address.
	ContextRequireBuiltAssets = "requireBuiltAssets"
	// ContextTrainerImage, when set, is the trainer image the job definition runs, by digest
	// (<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<digest>), instead of an image built from
	// trainer/Dockerfile: CI builds the image once and promotes that digest dev -> staging -> prod.
	ContextTrainerImage = "trainerImage"
	// ContextTrainerCPUImage, when set, is the CPU trainer image (trainer/Dockerfile.cpu) the fold jobs' job
	// definition runs, by digest as ContextTrainerImage: CI builds it beside the trainer image and promotes both.
	ContextTrainerCPUImage = "trainerCpuImage"
	// ContextGitHubRepo (owner/name), when set, adds the CI stack: the GitHub OIDC provider and the roles the
	// workflows of that repository assume (see NewCIStack).
	ContextGitHubRepo = "githubRepo"
	// ContextGitHubOIDCProvider, when set, is the ARN of an existing GitHub OIDC provider for the CI stack to use
	// instead of creating one (an account has at most one per URL, so the second environment sharing an
	// account names the first's).
	ContextGitHubOIDCProvider = "githubOidcProviderArn"
	// ContextCommit, when set, is the git commit being deployed (40 hex digits): the api stack records it in its
	// DeployedCommit output, where a failed smoke test finds what to roll back to.
	ContextCommit = "commit"
	// ContextTrainerPullAccounts (comma-separated account ids) may pull from this environment's trainer
	// repository: the accounts of the environments the image is promoted to.
	ContextTrainerPullAccounts = "trainerPullAccounts"
	// ContextEndpoints (comma-separated endpoint names, default "live") are the model endpoints the serving stack
	// provisions: an alias of the predict function and a POST /ml/endpoints/<name>/predict route each. A deployment
	// to an endpoint not listed fails at validation.
	ContextEndpoints = "endpoints"
)

// DefaultEndpoints are the endpoints provisioned when ContextEndpoints is not given.
var DefaultEndpoints = []string{LiveAlias}

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
	// CheckpointDays is how long training checkpoints are kept before they expire: longer than a study may run
	// (the optimization machine's timeout, 8 days), so a trial resumed late in a study finds its checkpoint.
	CheckpointDays int
	// NATGateways is the number of NAT gateways of the Batch VPC (one per AZ in prod).
	NATGateways int
	// GPUOnDemandMaxVCPUs caps the on-demand GPU compute environment, the baseline the GPU queue fills first;
	// GPUMaxVCPUs caps the Spot one it spills to.
	GPUOnDemandMaxVCPUs, GPUMaxVCPUs int
	// GPUInstanceTypes are the instance types of the GPU compute environments.
	GPUInstanceTypes []string
	// CPUOnDemandMaxVCPUs and CPUMaxVCPUs cap the on-demand and Spot CPU compute environments of the CPU queue,
	// where heavy evaluations' fold jobs run; CPUInstanceTypes are their instance types.
	CPUOnDemandMaxVCPUs, CPUMaxVCPUs int
	CPUInstanceTypes                 []string
	// TrainingTimeoutHours bounds one Batch training attempt; at most the training state machine's Train timeout
	// (6 hours, shared/pipeline), which bounds all attempts together.
	TrainingTimeoutHours int
	// FunctionMemoryMB is the memory of the backbone functions; PredictMemoryMB that of predict.
	FunctionMemoryMB, PredictMemoryMB int
	// Concurrency is the reserved concurrency of each function.
	Concurrency FunctionConcurrency
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
	// JWTScopePrefix is put before each route's scope (ContextJWTScopePrefix).
	JWTScopePrefix string
	// RequireBuiltAssets refuses placeholder function code and a placeholder trainer image (set for diff and
	// deploy).
	RequireBuiltAssets bool
	// TrainerImage, when not empty, is the trainer image by digest (ContextTrainerImage).
	TrainerImage string
	// TrainerCPUImage, when not empty, is the CPU trainer image by digest (ContextTrainerCPUImage).
	TrainerCPUImage string
	// Commit, when not empty, is the git commit being deployed (ContextCommit).
	Commit string
	// GitHubRepo, when not empty, adds the CI stack for that repository (ContextGitHubRepo);
	// GitHubOIDCProviderARN names an existing provider; TrainerPullAccounts may pull the trainer image.
	GitHubRepo            string
	GitHubOIDCProviderARN string
	TrainerPullAccounts   []string
	// Endpoints are the model endpoints the serving stack provisions (ContextEndpoints), in order; each is an
	// alias of the predict function of the same name.
	Endpoints []string
	// MLflowTrackingURI, when not empty, turns the MLflow mirror on (ContextMLflowTrackingURI; tracking.go);
	// MLflowTokenSecret names the token's secret, MLflowExperiment the experiment.
	MLflowTrackingURI, MLflowTokenSecret, MLflowExperiment string
}

// PredictFunctionName is the physical name of the environment's predict function, which the serving stack creates
// and the api function (and the deployment machine) address by name.
func (e Environment) PredictFunctionName() string { return e.Prefix() + "predict" }

// FunctionConcurrency is the reserved concurrency of each function: it caps what one function can take
// from the account's pool (so a burst of uploads cannot starve the API) and guarantees it that much. An
// account keeps at least 100 unreserved (Lambda quotas); the three environments together reserve well below
// the default 1,000.
type FunctionConcurrency struct {
	Stages, Trigger, Events, API, Predict int
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
		LogRetention: awslogs.RetentionDays_TWO_WEEKS, NoncurrentVersionDays: 7, CheckpointDays: 9,
		NATGateways: 1, GPUOnDemandMaxVCPUs: 4, GPUMaxVCPUs: 16,
		GPUInstanceTypes:    []string{"g5.xlarge", "g5.2xlarge", "g4dn.xlarge"},
		CPUOnDemandMaxVCPUs: 8, CPUMaxVCPUs: 32, CPUInstanceTypes: []string{"c6i.xlarge", "c6i.2xlarge", "m6i.xlarge", "m6i.2xlarge"},
		TrainingTimeoutHours: 2, FunctionMemoryMB: 512, PredictMemoryMB: 1024,
		Concurrency:  FunctionConcurrency{Stages: 10, Trigger: 2, Events: 2, API: 10, Predict: 10},
		APIRateLimit: 50, APIBurstLimit: 100, PredictLatencyP99Ms: 1000, APILatencyP99Ms: 2000,
	},
	EnvStaging: {
		Name: EnvStaging, RemovalPolicy: awscdk.RemovalPolicy_RETAIN, DeletionProtection: false,
		LogRetention: awslogs.RetentionDays_ONE_MONTH, NoncurrentVersionDays: 30, CheckpointDays: 14,
		NATGateways: 1, GPUOnDemandMaxVCPUs: 8, GPUMaxVCPUs: 32,
		GPUInstanceTypes:    []string{"g5.xlarge", "g5.2xlarge", "g4dn.xlarge"},
		CPUOnDemandMaxVCPUs: 16, CPUMaxVCPUs: 64, CPUInstanceTypes: []string{"c6i.xlarge", "c6i.2xlarge", "m6i.xlarge", "m6i.2xlarge"},
		TrainingTimeoutHours: 4, FunctionMemoryMB: 512, PredictMemoryMB: 1024,
		Concurrency:  FunctionConcurrency{Stages: 20, Trigger: 5, Events: 5, API: 20, Predict: 20},
		APIRateLimit: 100, APIBurstLimit: 200, PredictLatencyP99Ms: 750, APILatencyP99Ms: 1500,
	},
	EnvProd: {
		Name: EnvProd, RemovalPolicy: awscdk.RemovalPolicy_RETAIN, DeletionProtection: true,
		LogRetention: awslogs.RetentionDays_ONE_YEAR, NoncurrentVersionDays: 90, CheckpointDays: 30,
		NATGateways: 2, GPUOnDemandMaxVCPUs: 16, GPUMaxVCPUs: 128,
		GPUInstanceTypes:    []string{"g5.xlarge", "g5.2xlarge", "g5.4xlarge", "g4dn.xlarge", "g4dn.2xlarge"},
		CPUOnDemandMaxVCPUs: 32, CPUMaxVCPUs: 256, CPUInstanceTypes: []string{"c6i.xlarge", "c6i.2xlarge", "c6i.4xlarge", "m6i.xlarge", "m6i.2xlarge", "m6i.4xlarge"},
		TrainingTimeoutHours: 6, FunctionMemoryMB: 1024, PredictMemoryMB: 2048,
		Concurrency:  FunctionConcurrency{Stages: 100, Trigger: 20, Events: 20, API: 100, Predict: 250},
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
	env.CPUInstanceTypes = append([]string(nil), env.CPUInstanceTypes...)
	env.Endpoints = append([]string(nil), DefaultEndpoints...)
	return env, nil
}

// ContextReader is the part of a construct node FromContext needs; constructs.Node satisfies it.
type ContextReader interface {
	TryGetContext(key *string) interface{}
}

// FromContext builds the Environment from CDK context: `env` (default dev), `alertEmail`, `jwtIssuer`,
// `jwtAudience` (comma-separated), `requireBuiltAssets`, `trainerImage`, `trainerCpuImage`, `githubRepo`, `githubOidcProviderArn`
// `trainerPullAccounts` (comma-separated), `commit`, `endpoints` (comma-separated, default live) and the MLflow
// mirror's `mlflowTrackingUri`, `mlflowTokenSecret`, `mlflowExperiment` (tracking.go). A value of the wrong kind is an error naming the key, and so is
// a deploy (requireBuiltAssets) of staging or prod without an alert e-mail address: its alarms would reach
// only the alert queue.
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
	if env.JWTScopePrefix, err = get(ContextJWTScopePrefix); err != nil {
		return Environment{}, err
	}
	if env.JWTScopePrefix != "" && env.JWTIssuer == "" {
		return Environment{}, fmt.Errorf("context %q needs %q (scopes are checked by the JWT authorizer only): %w",
			ContextJWTScopePrefix, ContextJWTIssuer, ErrInvalidContext)
	}
	if strings.ContainsAny(env.JWTScopePrefix, " \t\n\"") {
		return Environment{}, fmt.Errorf("context %q: %q holds a space or quote, which no scope may: %w",
			ContextJWTScopePrefix, env.JWTScopePrefix, ErrInvalidContext)
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
	if env.RequireBuiltAssets && env.Name != EnvDev && env.AlertEmail == "" {
		return Environment{}, fmt.Errorf("context %q is required to deploy %s (make deploy ALERT_EMAIL=...): %w",
			ContextAlertEmail, env.Name, ErrInvalidContext)
	}
	for _, image := range []struct {
		key   string
		value *string
	}{{ContextTrainerImage, &env.TrainerImage}, {ContextTrainerCPUImage, &env.TrainerCPUImage}} {
		if *image.value, err = get(image.key); err != nil {
			return Environment{}, err
		}
		if *image.value != "" && !trainerImagePattern.MatchString(*image.value) {
			return Environment{}, fmt.Errorf("context %q: %q is not <account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<digest>: %w",
				image.key, *image.value, ErrInvalidContext)
		}
	}
	if env.Commit, err = get(ContextCommit); err != nil {
		return Environment{}, err
	}
	if env.Commit != "" && !commitPattern.MatchString(env.Commit) {
		return Environment{}, fmt.Errorf("context %q: %q is not a 40-digit commit id: %w", ContextCommit, env.Commit, ErrInvalidContext)
	}
	if env.GitHubRepo, err = get(ContextGitHubRepo); err != nil {
		return Environment{}, err
	}
	if env.GitHubRepo != "" && !githubRepoPattern.MatchString(env.GitHubRepo) {
		return Environment{}, fmt.Errorf("context %q: %q is not owner/name: %w", ContextGitHubRepo, env.GitHubRepo, ErrInvalidContext)
	}
	if env.GitHubOIDCProviderARN, err = get(ContextGitHubOIDCProvider); err != nil {
		return Environment{}, err
	}
	if env.GitHubOIDCProviderARN != "" && !strings.HasPrefix(env.GitHubOIDCProviderARN, "arn:") {
		return Environment{}, fmt.Errorf("context %q: %q is not an ARN: %w", ContextGitHubOIDCProvider, env.GitHubOIDCProviderARN, ErrInvalidContext)
	}
	accounts, err := get(ContextTrainerPullAccounts)
	if err != nil {
		return Environment{}, err
	}
	for _, a := range strings.Split(accounts, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		if !accountPattern.MatchString(a) {
			return Environment{}, fmt.Errorf("context %q: %q is not a 12-digit account id: %w", ContextTrainerPullAccounts, a, ErrInvalidContext)
		}
		env.TrainerPullAccounts = append(env.TrainerPullAccounts, a)
	}
	endpoints, err := get(ContextEndpoints)
	if err != nil {
		return Environment{}, err
	}
	if endpoints != "" {
		env.Endpoints = nil
		seen := map[string]bool{}
		for _, e := range strings.Split(endpoints, ",") {
			if e = strings.TrimSpace(e); e == "" {
				continue
			}
			if !endpointPattern.MatchString(e) || allDigits.MatchString(e) {
				return Environment{}, fmt.Errorf("context %q: %q is not an endpoint name (letters, digits, '-' and '_', "+
					"at most 64, starting with a letter or digit, not only digits: a Lambda alias name): %w", ContextEndpoints, e, ErrInvalidContext)
			}
			if seen[e] {
				return Environment{}, fmt.Errorf("context %q: %q is listed twice: %w", ContextEndpoints, e, ErrInvalidContext)
			}
			seen[e] = true
			env.Endpoints = append(env.Endpoints, e)
		}
		if len(env.Endpoints) == 0 {
			return Environment{}, fmt.Errorf("context %q names no endpoint: %w", ContextEndpoints, ErrInvalidContext)
		}
	}
	if err := readTracking(&env, get); err != nil {
		return Environment{}, err
	}
	return env, nil
}

var (
	trainerImagePattern = regexp.MustCompile(`^([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/([a-z0-9][a-z0-9._/-]*)@(sha256:[0-9a-f]{64})$`)
	githubRepoPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$`)
	accountPattern      = regexp.MustCompile(`^[0-9]{12}$`)
	commitPattern       = regexp.MustCompile(`^[0-9a-f]{40}$`)
	endpointPattern     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	allDigits           = regexp.MustCompile(`^[0-9]+$`)
)

// trainerImageParts splits a TrainerImage into its registry's account and region, the repository name and the
// digest.
func trainerImageParts(image string) (account, region, repository, digest string, ok bool) {
	m := trainerImagePattern.FindStringSubmatch(image)
	if m == nil {
		return "", "", "", "", false
	}
	return m[1], m[2], m[3], m[4], true
}

// Prefix returns "orrery-<env>-", the prefix of stack names and physical resource names.
func (e Environment) Prefix() string { return "orrery-" + e.Name + "-" }

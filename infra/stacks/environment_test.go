package stacks

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/pipeline"
)

// mapContext is a ContextReader over a map.
type mapContext map[string]any

func (m mapContext) TryGetContext(key *string) interface{} { return m[*key] }

func TestFromContext(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ctx     mapContext
		want    func(t *testing.T, e Environment)
		wantErr error
	}{
		{"default is dev", mapContext{}, func(t *testing.T, e Environment) {
			assert.Equal(t, EnvDev, e.Name)
			assert.Equal(t, "orrery-dev-", e.Prefix())
			assert.False(t, e.RequireBuiltAssets)
		}, nil},
		{"prod", mapContext{"env": "prod", "requireBuiltAssets": "true", "alertEmail": "ops@example.org"}, func(t *testing.T, e Environment) {
			assert.Equal(t, EnvProd, e.Name)
			assert.Equal(t, awscdk.RemovalPolicy_RETAIN, e.RemovalPolicy)
			assert.True(t, e.DeletionProtection)
			assert.True(t, e.RequireBuiltAssets)
		}, nil},
		{"boolean context from the command line", mapContext{"env": "staging", "requireBuiltAssets": true, "alertEmail": "ops@example.org"}, func(t *testing.T, e Environment) {
			assert.True(t, e.RequireBuiltAssets)
		}, nil},
		{"jwt", mapContext{"jwtIssuer": "https://id.example.org/", "jwtAudience": "a, b"}, func(t *testing.T, e Environment) {
			assert.Equal(t, []string{"a", "b"}, e.JWTAudience)
			assert.Empty(t, e.JWTScopePrefix)
		}, nil},
		{"jwt scope prefix", mapContext{"jwtIssuer": "https://id.example.org/", "jwtAudience": "a", "jwtScopePrefix": "orrery-api/"},
			func(t *testing.T, e Environment) {
				assert.Equal(t, "orrery-api/", e.JWTScopePrefix)
			}, nil},
		{"alert e-mail", mapContext{"alertEmail": "ops@example.org"}, func(t *testing.T, e Environment) {
			assert.Equal(t, "ops@example.org", e.AlertEmail)
		}, nil},
		{"dev deploys without an alert e-mail", mapContext{"requireBuiltAssets": "true"}, func(t *testing.T, e Environment) {
			assert.True(t, e.RequireBuiltAssets)
			assert.Empty(t, e.AlertEmail)
		}, nil},
		{"promoted trainer image", mapContext{"trainerImage": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orrery-dev-trainer@sha256:" + strings.Repeat("ab", 32)},
			func(t *testing.T, e Environment) {
				account, region, repo, digest, ok := trainerImageParts(e.TrainerImage)
				require.True(t, ok)
				assert.Equal(t, []string{"123456789012", "eu-west-1", "orrery-dev-trainer", "sha256:" + strings.Repeat("ab", 32)},
					[]string{account, region, repo, digest})
			}, nil},
		{"promoted CPU trainer image", mapContext{"trainerCpuImage": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orrery-dev-trainer@sha256:" + strings.Repeat("cd", 32)},
			func(t *testing.T, e Environment) {
				assert.Empty(t, e.TrainerImage, "each image is promoted on its own")
				_, _, repo, digest, ok := trainerImageParts(e.TrainerCPUImage)
				require.True(t, ok)
				assert.Equal(t, []string{"orrery-dev-trainer", "sha256:" + strings.Repeat("cd", 32)}, []string{repo, digest})
			}, nil},
		{"ci stack", mapContext{"githubRepo": "orrery-ml/orrery", "trainerPullAccounts": "111111111111, 222222222222"}, func(t *testing.T, e Environment) {
			assert.Equal(t, "orrery-ml/orrery", e.GitHubRepo)
			assert.Equal(t, []string{"111111111111", "222222222222"}, e.TrainerPullAccounts)
		}, nil},
		{"staging deploy without an alert e-mail", mapContext{"env": "staging", "requireBuiltAssets": "true"}, nil, ErrInvalidContext},
		{"trainer image by tag", mapContext{"trainerImage": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orrery-dev-trainer:latest"}, nil, ErrInvalidContext},
		{"CPU trainer image by tag", mapContext{"trainerCpuImage": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orrery-dev-trainer:cpu-latest"}, nil, ErrInvalidContext},
		{"repository not owner/name", mapContext{"githubRepo": "orrery"}, nil, ErrInvalidContext},
		{"bad pull account", mapContext{"trainerPullAccounts": "12345"}, nil, ErrInvalidContext},
		{"oidc provider not an arn", mapContext{"githubOidcProviderArn": "token.actions"}, nil, ErrInvalidContext},
		{"unknown environment", mapContext{"env": "qa"}, nil, ErrUnknownEnvironment},
		{"issuer without audience", mapContext{"jwtIssuer": "https://id.example.org/"}, nil, ErrInvalidContext},
		{"scope prefix without issuer", mapContext{"jwtScopePrefix": "orrery-api/"}, nil, ErrInvalidContext},
		{"scope prefix with a space", mapContext{"jwtIssuer": "https://id.example.org/", "jwtAudience": "a", "jwtScopePrefix": "orrery api/"}, nil, ErrInvalidContext},
		{"issuer not https", mapContext{"jwtIssuer": "http://id.example.org/", "jwtAudience": "a"}, nil, ErrInvalidContext},
		{"bad e-mail", mapContext{"alertEmail": "ops"}, nil, ErrInvalidContext},
		{"bad flag", mapContext{"requireBuiltAssets": "yes"}, nil, ErrInvalidContext},
		{"not a string", mapContext{"env": 3.0}, nil, ErrInvalidContext},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, err := FromContext(tc.ctx)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.want(t, env)
		})
	}
}

func TestEnvironmentsGrowTowardProd(t *testing.T) {
	dev, err := Named(EnvDev)
	require.NoError(t, err)
	staging, err := Named(EnvStaging)
	require.NoError(t, err)
	prod, err := Named(EnvProd)
	require.NoError(t, err)
	assert.Equal(t, []string{"dev", "prod", "staging"}, EnvironmentNames())
	for _, pair := range [][2]Environment{{dev, staging}, {staging, prod}} {
		lo, hi := pair[0], pair[1]
		assert.LessOrEqual(t, lo.GPUMaxVCPUs, hi.GPUMaxVCPUs, "%s -> %s", lo.Name, hi.Name)
		assert.LessOrEqual(t, lo.APIRateLimit, hi.APIRateLimit, "%s -> %s", lo.Name, hi.Name)
		assert.LessOrEqual(t, lo.NoncurrentVersionDays, hi.NoncurrentVersionDays, "%s -> %s", lo.Name, hi.Name)
		assert.LessOrEqual(t, lo.TrainingTimeoutHours, hi.TrainingTimeoutHours, "%s -> %s", lo.Name, hi.Name)
	}
	study, err := pipeline.Optimization(pipeline.OptimizationPlaceholders())
	require.NoError(t, err)
	reserved := 0
	for _, e := range []Environment{dev, staging, prod} {
		// One Batch attempt must fit in the Train state's timeout (6 hours, shared/pipeline).
		assert.LessOrEqual(t, e.TrainingTimeoutHours, 6, e.Name)
		// A trial resumed at the end of a study finds its checkpoint.
		assert.Greater(t, e.CheckpointDays*24*3600, study.TimeoutSeconds, "%s: checkpoints outlive a study", e.Name)
		assert.Less(t, e.GPUOnDemandMaxVCPUs, e.GPUMaxVCPUs, "%s: on-demand is the baseline, Spot the bulk", e.Name)
		c := e.Concurrency
		for name, n := range map[string]int{"stages": c.Stages, "trigger": c.Trigger, "events": c.Events, "api": c.API, "predict": c.Predict} {
			assert.GreaterOrEqual(t, n, 2, "%s %s: reserved concurrency (at least the SQS event source's minimum)", e.Name, name)
			reserved += n
		}
		assert.Less(t, e.PredictLatencyP99Ms, predictTimeoutSeconds*1000, e.Name)
	}
	assert.LessOrEqual(t, reserved, 900, "all three environments in one account leave 100 of the default 1,000 unreserved")
	assert.Equal(t, awscdk.RemovalPolicy_DESTROY, dev.RemovalPolicy)
	// Named hands out copies: changing one does not change the table.
	dev.GPUInstanceTypes[0] = "changed"
	again, _ := Named(EnvDev)
	assert.NotEqual(t, "changed", again.GPUInstanceTypes[0])
}

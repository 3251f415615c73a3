package stacks

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		{"prod", mapContext{"env": "prod", "requireBuiltAssets": "true"}, func(t *testing.T, e Environment) {
			assert.Equal(t, EnvProd, e.Name)
			assert.Equal(t, awscdk.RemovalPolicy_RETAIN, e.RemovalPolicy)
			assert.True(t, e.DeletionProtection)
			assert.True(t, e.RequireBuiltAssets)
		}, nil},
		{"boolean context from the command line", mapContext{"env": "staging", "requireBuiltAssets": true}, func(t *testing.T, e Environment) {
			assert.True(t, e.RequireBuiltAssets)
		}, nil},
		{"jwt", mapContext{"jwtIssuer": "https://id.example.org/", "jwtAudience": "a, b"}, func(t *testing.T, e Environment) {
			assert.Equal(t, []string{"a", "b"}, e.JWTAudience)
		}, nil},
		{"alert e-mail", mapContext{"alertEmail": "ops@example.org"}, func(t *testing.T, e Environment) {
			assert.Equal(t, "ops@example.org", e.AlertEmail)
		}, nil},
		{"unknown environment", mapContext{"env": "qa"}, nil, ErrUnknownEnvironment},
		{"issuer without audience", mapContext{"jwtIssuer": "https://id.example.org/"}, nil, ErrInvalidContext},
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
	for _, e := range []Environment{dev, staging, prod} {
		// One Batch attempt must fit in the Train state's timeout (6 hours, shared/pipeline).
		assert.LessOrEqual(t, e.TrainingTimeoutHours, 6, e.Name)
		assert.Less(t, e.PredictLatencyP99Ms, predictTimeoutSeconds*1000, e.Name)
	}
	assert.Equal(t, awscdk.RemovalPolicy_DESTROY, dev.RemovalPolicy)
	// Named hands out copies: changing one does not change the table.
	dev.GPUInstanceTypes[0] = "changed"
	again, _ := Named(EnvDev)
	assert.NotEqual(t, "changed", again.GPUInstanceTypes[0])
}

package envconfig_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
	"github.com/orrery-ml/orrery/shared/awsclient/envconfig"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

var lambdaCreds = map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token"}

func with(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range lambdaCreds {
		out[k] = v
	}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name         string
		env          map[string]string
		wantRegion   string
		wantEndpoint string
		wantErr      string
	}{
		{name: "lambda environment", env: with(map[string]string{"AWS_REGION": "eu-west-1"}), wantRegion: "eu-west-1"},
		{name: "default region variable", env: with(map[string]string{"AWS_DEFAULT_REGION": "ap-south-1"}), wantRegion: "ap-south-1"},
		{name: "no region", env: with(nil), wantRegion: envconfig.DefaultRegion},
		{name: "endpoint", env: with(map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}),
			wantRegion: envconfig.DefaultRegion, wantEndpoint: "http://127.0.0.1:5000"},
		{name: "ignored endpoint", env: with(map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
			"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}), wantRegion: envconfig.DefaultRegion},
		{name: "endpoint not a URL", env: with(map[string]string{"AWS_ENDPOINT_URL": "127.0.0.1:5000"}),
			wantErr: "AWS_ENDPOINT_URL=\"127.0.0.1:5000\" is not an http(s) URL"},
		{name: "no credentials", env: map[string]string{"AWS_REGION": "eu-west-1"},
			wantErr: "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set"},
		{name: "half the credentials", env: map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE"},
			wantErr: "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := envconfig.Load(envOf(tt.env))
			if tt.wantErr != "" {
				require.ErrorIs(t, err, envconfig.ErrEnvironment)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantRegion, cfg.Region)
			assert.Equal(t, tt.wantEndpoint, aws.ToString(cfg.BaseEndpoint))
			creds, err := cfg.Credentials.Retrieve(t.Context())
			require.NoError(t, err)
			assert.Equal(t, "AKIDEXAMPLE", creds.AccessKeyID)
			assert.Equal(t, "secret", creds.SecretAccessKey)
			assert.Equal(t, "token", creds.SessionToken)
			assert.Len(t, cfg.APIOptions, 1, "the request-body middleware")
		})
	}
}

func TestS3OptionsPathStyle(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"aws", with(nil), false},
		{"every service at an emulator", with(map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}), true},
		{"s3 alone at an emulator", with(map[string]string{"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:5000"}), true},
		{"emulator ignored", with(map[string]string{"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:5000",
			"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := envconfig.Load(envOf(tt.env))
			require.NoError(t, err)
			var o s3.Options
			envconfig.S3Options(cfg, envOf(tt.env))(&o)
			assert.Equal(t, tt.want, o.UsePathStyle)
		})
	}
}

// TestServiceEndpointsReachTheEmulator makes real calls to moto through
// clients built from Load: DynamoDB through its own variable
// (AWS_ENDPOINT_URL_DYNAMODB, with no AWS_ENDPOINT_URL), S3 through
// AWS_ENDPOINT_URL_S3, so the per-service endpoint source is the one the
// SDK's clients read.
func TestServiceEndpointsReachTheEmulator(t *testing.T) {
	ep := awstest.Endpoint(t)
	env := map[string]string{"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": awstest.Region,
		"AWS_ENDPOINT_URL_DYNAMODB": ep, "AWS_ENDPOINT_URL_S3": ep}
	cfg, err := envconfig.Load(envOf(env))
	require.NoError(t, err)
	require.Nil(t, cfg.BaseEndpoint)
	_, err = dynamodb.NewFromConfig(cfg).ListTables(t.Context(), &dynamodb.ListTablesInput{})
	require.NoError(t, err)
	bucket := awstest.Name(t, "envcfg")
	client := s3.NewFromConfig(cfg, envconfig.S3Options(cfg, envOf(env)))
	_, err = client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	_, err = client.HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
}

func TestServiceEndpoint(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"none: the client's default", with(nil), ""},
		{"AWS_ENDPOINT_URL", with(map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}), "http://127.0.0.1:5000"},
		{"the service's own variable first", with(map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
			"AWS_ENDPOINT_URL_LAMBDA": "http://127.0.0.1:6000"}), "http://127.0.0.1:6000"},
		{"another service's variable does not apply", with(map[string]string{"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:6000"}), ""},
		{"a service variable that is no URL is passed over, as the SDK's clients do",
			with(map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_ENDPOINT_URL_LAMBDA": "localhost:6000"}), "http://127.0.0.1:5000"},
		{"ignored", with(map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_ENDPOINT_URL_LAMBDA": "http://127.0.0.1:6000",
			"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := envconfig.Load(envOf(tc.env))
			require.NoError(t, err)
			assert.Equal(t, tc.want, envconfig.ServiceEndpoint(cfg, envOf(tc.env), "Lambda"))
		})
	}
}

package awsclient_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name         string
		env          map[string]string
		opts         awsclient.Options
		wantRegion   string
		wantEndpoint string // "" = none set in the config
		wantErr      error
	}{
		{
			name:       "region from the environment",
			env:        map[string]string{"AWS_REGION": "eu-west-1"},
			wantRegion: "eu-west-1",
		},
		{
			name:       "default region",
			env:        map[string]string{"AWS_REGION": "", "AWS_DEFAULT_REGION": ""},
			wantRegion: awsclient.DefaultRegion,
		},
		{
			name:         "options win",
			env:          map[string]string{"AWS_REGION": "eu-west-1"},
			opts:         awsclient.Options{Region: "ap-south-1", Endpoint: "http://127.0.0.1:4566"},
			wantRegion:   "ap-south-1",
			wantEndpoint: "http://127.0.0.1:4566",
		},
		{
			name:    "endpoint not a URL",
			opts:    awsclient.Options{Endpoint: "127.0.0.1:4566"},
			wantErr: awsclient.ErrConfig,
		},
		{
			name:    "half a key pair",
			opts:    awsclient.Options{AccessKeyID: "test"},
			wantErr: awsclient.ErrConfig,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			isolate(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cfg, err := awsclient.Load(t.Context(), tc.opts)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantRegion, cfg.Region)
			if tc.wantEndpoint == "" {
				assert.Nil(t, cfg.BaseEndpoint)
			} else {
				require.NotNil(t, cfg.BaseEndpoint)
				assert.Equal(t, tc.wantEndpoint, *cfg.BaseEndpoint)
			}
		})
	}
}

func TestStaticCredentials(t *testing.T) {
	isolate(t)
	cfg, err := awsclient.Load(t.Context(), awsclient.Options{AccessKeyID: "AKID", SecretAccessKey: "SECRET"})
	require.NoError(t, err)
	creds, err := cfg.Credentials.Retrieve(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "AKID", creds.AccessKeyID)
	assert.Equal(t, "SECRET", creds.SecretAccessKey)
}

// TestEndpointsFromEnvironment checks the SDK resolution the package relies
// on: AWS_ENDPOINT_URL for every service, AWS_ENDPOINT_URL_S3 for S3 alone,
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS to switch both off; path-style follows.
func TestEndpointsFromEnvironment(t *testing.T) {
	tests := []struct {
		name          string
		env           map[string]string
		opts          awsclient.Options
		wantS3        string // "" = the SDK's AWS endpoint resolution
		wantPathStyle bool
	}{
		{"nothing set", nil, awsclient.Options{}, "", false},
		{"global endpoint", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}, awsclient.Options{},
			"http://127.0.0.1:5000", true},
		{"s3 override", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000"},
			awsclient.Options{}, "http://127.0.0.1:9000", true},
		{"s3 only", map[string]string{"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000"}, awsclient.Options{},
			"http://127.0.0.1:9000", true},
		{"ignored", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"},
			awsclient.Options{}, "", false},
		{"option", nil, awsclient.Options{Endpoint: "http://127.0.0.1:7000"}, "http://127.0.0.1:7000", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			isolate(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cfg, err := awsclient.Load(t.Context(), tc.opts)
			require.NoError(t, err)
			assert.Equal(t, tc.wantPathStyle, awsclient.CustomS3Endpoint(cfg))
			client := s3.NewFromConfig(cfg, awsclient.S3Options(cfg))
			o := client.Options()
			assert.Equal(t, tc.wantPathStyle, o.UsePathStyle)
			if tc.wantS3 == "" {
				assert.Nil(t, o.BaseEndpoint)
				return
			}
			require.NotNil(t, o.BaseEndpoint)
			assert.Equal(t, tc.wantS3, *o.BaseEndpoint)
		})
	}
}

// isolate clears the variables that would leak the machine's AWS setup into
// a test.
func isolate(t *testing.T) {
	t.Helper()
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
		"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

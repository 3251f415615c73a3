package constructs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	if os.Getenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION") == "" {
		os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	}
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

func TestFunctionCode(t *testing.T) {
	for _, tc := range []struct {
		name            string
		withZip         bool
		requireZip      bool
		wantPlaceholder bool
		wantErr         error
	}{
		{"built zip", true, true, false, nil},
		{"built zip, placeholders allowed", true, false, false, nil},
		{"no zip, placeholder", false, false, true, nil},
		{"no zip, zips required", false, true, false, ErrMissingFunctionZip},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if tc.withZip {
				require.NoError(t, os.MkdirAll(filepath.Join(root, FunctionZipDir), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(root, FunctionZipDir, "api.zip"), []byte("PK\x05\x06"+string(make([]byte, 18))), 0o644))
			}
			code, placeholder, err := FunctionCode(root, "api", tc.requireZip)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.NoFileExists(t, filepath.Join(root, placeholderDir, "bootstrap"), "nothing written on error")
				return
			}
			require.NoError(t, err)
			assert.NotNil(t, code)
			assert.Equal(t, tc.wantPlaceholder, placeholder)
			if tc.wantPlaceholder {
				info, err := os.Stat(filepath.Join(root, placeholderDir, "bootstrap"))
				require.NoError(t, err)
				assert.NotZero(t, info.Mode()&0o100, "the placeholder bootstrap is executable")
			}
		})
	}
}

func TestSuppressRefusesVagueReasons(t *testing.T) {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("s"), nil)
	err := Suppress(stack, Suppression{Rule: "AwsSolutions-IAM5", Reason: "needed"})
	require.ErrorIs(t, err, ErrVagueReason)
	require.NoError(t, Suppress(stack, Suppression{
		Rule: "AwsSolutions-IAM5", Reason: "A reason long enough to say which finding and why it is acceptable.",
		AppliesTo: []string{"Resource::*"}, AppliesToRegex: []string{"/^Action::s3:.*$/"},
	}))
}

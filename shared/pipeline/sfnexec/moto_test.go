package sfnexec_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient/sfnrest"
	"github.com/orrery-ml/orrery/shared/pipeline/sfnexec"
)

// envEndpoint names the variable with moto's endpoint, exported by
// scripts/test.d/20-moto.sh.
const envEndpoint = "ORRERY_TEST_AWS_ENDPOINT"

const (
	region       = "us-east-1"
	account      = "123456789012"
	roleName     = "orrery-sfn-conformance"
	echoFunction = "arn:aws:lambda:us-east-1:123456789012:function:orrery-echo"
)

type motoEnv struct {
	endpoint string
	cfg      aws.Config
	runner   *sfnexec.Runner
	roleARN  string
}

var setupOnce sync.Once

// newMotoEnv connects to moto, enables Step Functions execution and
// Docker-less Lambda and Batch (moto's "simple" backends), and creates the
// execution role and the echo function the corpus uses. It skips the test
// when the endpoint variable is unset.
func newMotoEnv(t *testing.T) *motoEnv {
	t.Helper()
	ep := strings.TrimSpace(os.Getenv(envEndpoint))
	if ep == "" {
		t.Skipf("%s is unset: this test needs moto in server mode (run `make test`, or `scripts/moto.sh start` and export %s)", envEndpoint, envEndpoint)
	}
	cfg, err := config.LoadDefaultConfig(t.Context(), config.WithBaseEndpoint(ep), config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")))
	require.NoError(t, err)
	env := &motoEnv{endpoint: ep, cfg: cfg}
	setupOnce.Do(func() {
		body := `{"stepfunctions": {"execute_state_machine": true}, "batch": {"use_docker": false}, "lambda": {"use_docker": false}}`
		resp, err := http.Post(ep+"/moto-api/config", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		require.Less(t, resp.StatusCode, 300, "configure moto")
	})
	env.roleARN = ensureRole(t, cfg)
	ensureEchoFunction(t, cfg, env.roleARN)
	env.runner = &sfnexec.Runner{Client: sfnrest.New(cfg, os.Getenv), RoleARN: env.roleARN}
	return env
}

func ensureRole(t *testing.T, cfg aws.Config) string {
	t.Helper()
	c := iam.NewFromConfig(cfg)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["states.amazonaws.com","lambda.amazonaws.com"]},"Action":"sts:AssumeRole"}]}`
	out, err := c.CreateRole(t.Context(), &iam.CreateRoleInput{RoleName: aws.String(roleName), AssumeRolePolicyDocument: aws.String(trust)})
	if err == nil {
		return aws.ToString(out.Role.Arn)
	}
	got, gerr := c.GetRole(t.Context(), &iam.GetRoleInput{RoleName: aws.String(roleName)})
	require.NoError(t, gerr, "create role: %v", err)
	return aws.ToString(got.Role.Arn)
}

func ensureEchoFunction(t *testing.T, cfg aws.Config, roleARN string) {
	t.Helper()
	var zipped bytes.Buffer
	z := zip.NewWriter(&zipped)
	w, err := z.Create("bootstrap")
	require.NoError(t, err)
	_, err = w.Write([]byte("#!/bin/sh\n"))
	require.NoError(t, err)
	require.NoError(t, z.Close())
	c := lambda.NewFromConfig(cfg)
	_, err = c.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
		FunctionName: aws.String("orrery-echo"), Role: aws.String(roleARN), Runtime: lambdatypes.RuntimeProvidedal2023,
		Handler: aws.String("bootstrap"), Code: &lambdatypes.FunctionCode{ZipFile: zipped.Bytes()},
	})
	var conflict *lambdatypes.ResourceConflictException
	if err != nil && !errors.As(err, &conflict) {
		require.NoError(t, err, "create echo function")
	}
}

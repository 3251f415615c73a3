package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient"
	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
)

// envRIE names the variable holding the path of aws-lambda-rie, exported by
// scripts/test.d/40-lambda-smoke.sh.
const envRIE = "ORRERY_TEST_LAMBDA_RIE"

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// TestBootstrapUnderRIE builds the function as a linux/amd64 bootstrap with
// -tags lambda.norpc, runs it under the Lambda Runtime Interface Emulator
// against moto, and checks that a failed stage reaches the caller with the
// Orrery.* error type — what Step Functions' Retry and Catch match — not
// the Go type name aws-lambda-go reports for other errors.
func TestBootstrapUnderRIE(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a bootstrap and runs the Lambda Runtime Interface Emulator")
	}
	rie := os.Getenv(envRIE)
	if rie == "" {
		t.Skipf("%s is unset: this smoke test needs aws-lambda-rie (run `make test`, which installs it)", envRIE)
	}
	endpoint := awstest.Endpoint(t)

	dir := t.TempDir()
	bootstrap := filepath.Join(dir, "bootstrap")
	build := exec.CommandContext(t.Context(), "go", "build", "-tags", "lambda.norpc", "-o", bootstrap, ".")
	build.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64")
	if os.Getenv("ORRERY_TEST_LAMBDA_STATIC") == "1" {
		build.Env = append(build.Env, "CGO_ENABLED=0")
	}
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build bootstrap: %s", out)

	cfg := awstest.Config(t)
	ddb := dynamodb.NewFromConfig(cfg, awsclient.DynamoDBOptions(cfg))
	table := awstest.Name(t, "stages-rie")
	require.NoError(t, dynamostore.CreateTable(t.Context(), ddb, table))
	t.Cleanup(func() {
		_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table})
	})

	invokePort, apiPort := freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(t.Context())
	cmd := exec.CommandContext(ctx, rie,
		"--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", invokePort),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort),
		bootstrap)
	cmd.Env = append(os.Environ(),
		config.EnvJobsTable+"="+table, config.EnvModelsTable+"="+table, config.EnvArtifactsBucket+"=orrery-artifacts-unused",
		"AWS_ENDPOINT_URL="+endpoint,
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION="+awstest.Region,
		"AWS_EC2_METADATA_DISABLED=true")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("emulator and function output:\n%s", logs.String())
		}
	})
	url := fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", invokePort)
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", invokePort))
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	}, 20*time.Second, 50*time.Millisecond, "the emulator listens")

	tests := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"unknown stage", []byte(`{"stage": "deploy", "refs": {"job_id": "trn-1"}}`), training.ErrorNameInvalidInput},
		{"the validate fixture, job never submitted", fixture(t, "stages-validate.json"), training.ErrorNameNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(url, "application/json", bytes.NewReader(tc.payload))
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, resp.Body.Close())
			require.NoError(t, err)
			var answer struct {
				ErrorType    string `json:"errorType"`
				ErrorMessage string `json:"errorMessage"`
			}
			require.NoError(t, json.Unmarshal(body, &answer), "%s", body)
			assert.Equal(t, tc.want, answer.ErrorType, "%s", body)
			assert.NotEmpty(t, answer.ErrorMessage)
		})
	}
}

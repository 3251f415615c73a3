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
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
)

// envRIE names the variable holding the path of aws-lambda-rie, exported by
// scripts/test.d/40-lambda-smoke.sh.
const envRIE = "ORRERY_TEST_LAMBDA_RIE"

// freePort returns a free TCP port on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// TestBootstrapUnderRIE is the Lambda smoke test: it builds this function as
// a linux/amd64 bootstrap with -tags lambda.norpc (as `make functions` does
// for arm64), runs it under the AWS Lambda Runtime Interface Emulator with a
// job table in moto, and invokes it with events/aws/sqs-job-events.json.
//
// It keeps the host's cgo setting so that the build reuses the test build
// cache (CGO_ENABLED=0 recompiles every dependency: minutes on two cores);
// ORRERY_TEST_LAMBDA_STATIC=1 builds with CGO_ENABLED=0 exactly as shipped.
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
	table := awstest.Name(t, "orrery-jobs")
	require.NoError(t, dynamostore.CreateTable(t.Context(), ddb, table))
	t.Cleanup(func() {
		_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table})
	})
	db, err := dynamostore.New(ddb, dynamostore.Tables{Jobs: table})
	require.NoError(t, err)
	require.NoError(t, db.CreateJob(t.Context(), store.Job{ID: sampleJob, Kind: "training", Status: store.Queued}))

	invokePort, apiPort := freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(t.Context())
	cmd := exec.CommandContext(ctx, rie,
		"--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", invokePort),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort),
		bootstrap)
	cmd.Env = append(os.Environ(),
		"ORRERY_JOBS_TABLE="+table,
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

	payload := fixture(t, "sqs-job-events.json")
	for range 2 { // the second invocation replays the batch: nothing changes
		resp, err := http.Post(url, "application/json", bytes.NewReader(payload))
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, resp.Body.Close())
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
		var answer struct {
			BatchItemFailures []map[string]string `json:"batchItemFailures"`
		}
		require.NoError(t, json.Unmarshal(body, &answer), "%s", body)
		assert.Empty(t, answer.BatchItemFailures, "%s", body)

		job, err := db.GetJob(t.Context(), sampleJob)
		require.NoError(t, err)
		assert.Equal(t, store.Failed, job.Status)
		assert.Equal(t, "train", job.Stage)
	}
}

package rietest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
)

// EnvRIE names the variable holding the path of aws-lambda-rie, exported by
// scripts/test.d/40-lambda-smoke.sh.
const EnvRIE = "ORRERY_TEST_LAMBDA_RIE"

// Start builds the package in the test's working directory, runs it under
// the emulator with env added to the AWS settings of the moto endpoint, and
// returns the URL to POST events to. It skips the test under -short, or when
// the emulator or the moto endpoint is not there. The build keeps the host's
// cgo setting so it reuses the test build cache (CGO_ENABLED=0 recompiles
// every dependency: minutes on two cores); ORRERY_TEST_LAMBDA_STATIC=1 builds
// with CGO_ENABLED=0 exactly as shipped. The emulator's output is logged when
// the test fails.
func Start(t *testing.T, env ...string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a bootstrap and runs the Lambda Runtime Interface Emulator")
	}
	rie := os.Getenv(EnvRIE)
	if rie == "" {
		t.Skipf("%s is unset: this smoke test needs aws-lambda-rie (run `make test`, which installs it)", EnvRIE)
	}
	endpoint := awstest.Endpoint(t)

	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.CommandContext(t.Context(), "go", "build", "-tags", "lambda.norpc", "-o", bootstrap, ".")
	build.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64")
	if os.Getenv("ORRERY_TEST_LAMBDA_STATIC") == "1" {
		build.Env = append(build.Env, "CGO_ENABLED=0")
	}
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build bootstrap: %s", out)

	invokePort, apiPort := freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, rie,
		"--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", invokePort),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort),
		bootstrap)
	cmd.Env = append(append(os.Environ(),
		"AWS_ENDPOINT_URL="+endpoint,
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION="+awstest.Region,
		"AWS_EC2_METADATA_DISABLED=true"), env...)
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
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", invokePort))
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	}, 2*time.Minute, 50*time.Millisecond, "the emulator listens")
	return fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", invokePort)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

package awstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/orrery-ml/orrery/shared/awsclient"
)

// EnvEndpoint names the variable holding the emulator's endpoint
// (http://127.0.0.1:PORT), exported by scripts/test.d/20-moto.sh.
const EnvEndpoint = "ORRERY_TEST_AWS_ENDPOINT"

// Region is the region the tests use.
const Region = "us-east-1"

// Endpoint returns the emulator's endpoint, or skips t with a message naming
// EnvEndpoint when it is unset.
func Endpoint(t testing.TB) string {
	t.Helper()
	ep := strings.TrimSpace(os.Getenv(EnvEndpoint))
	if ep == "" {
		t.Skipf("%s is unset: this test needs an AWS emulator (run `make test`, or `scripts/moto.sh start` and export %s=<its endpoint>)",
			EnvEndpoint, EnvEndpoint)
	}
	return ep
}

// Config returns an AWS configuration for the emulator with static test
// credentials, or skips t as Endpoint does.
func Config(t testing.TB) aws.Config {
	t.Helper()
	ep := Endpoint(t)
	cfg, err := awsclient.Load(t.Context(), awsclient.Options{
		Endpoint:        ep,
		Region:          Region,
		AccessKeyID:     "test",
		SecretAccessKey: "test",
	})
	if err != nil {
		t.Fatalf("aws config for %s: %v", ep, err)
	}
	return cfg
}

// UseEmulator points this process's AWS environment at the emulator, as a
// deployed function's environment points it at AWS, for tests that build
// their clients the way main does (awsclient.Load with no options):
// AWS_ENDPOINT_URL, static test credentials and the region, each set with
// t.Setenv, so neither t nor its parents may be parallel. It returns the
// endpoint, or skips t as Endpoint does.
func UseEmulator(t testing.TB) string {
	t.Helper()
	ep := Endpoint(t)
	t.Setenv(awsclient.EnvEndpointURL, ep)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv(awsclient.EnvRegion, Region)
	return ep
}

// Name returns a fresh resource name, prefix followed by a random suffix,
// made of lowercase letters, digits and hyphens: valid as an S3 bucket, a
// DynamoDB table, an SQS queue or a state machine name (prefix must be short
// and itself valid).
func Name(t testing.TB, prefix string) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random name: %v", err)
	}
	return prefix + "-" + hex.EncodeToString(b)
}

// Bucket creates a fresh bucket named prefix-<random> through client and
// returns its name; when t ends, RemoveBucket takes it away again.
func Bucket(t testing.TB, client *s3.Client, prefix string) string {
	t.Helper()
	name := Name(t, prefix)
	if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	t.Cleanup(func() { RemoveBucket(client, name) })
	return name
}

// RemoveBucket deletes every object of bucket and then the bucket. It is a
// cleanup: errors are ignored, and it runs on a fresh context because the
// test's own is cancelled by then.
func RemoveBucket(client *s3.Client, bucket string) {
	ctx := context.Background()
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			break
		}
		for _, o := range page.Contents {
			_, _ = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key})
		}
	}
	_, _ = client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
}

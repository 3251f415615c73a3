package s3store_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient"
	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/s3store"
	"github.com/orrery-ml/orrery/shared/store/storetest"
)

// newClient returns an S3 client for the emulator, or skips the test.
func newClient(t *testing.T) *s3.Client {
	t.Helper()
	cfg := awstest.Config(t)
	return s3.NewFromConfig(cfg, awsclient.S3Options(cfg))
}

// newBucket creates a fresh bucket and empties and removes it when the test
// ends.
func newBucket(t *testing.T, client *s3.Client) string {
	t.Helper()
	return awstest.Bucket(t, client, "orrery-test")
}

func TestArtifactStore(t *testing.T) {
	client := newClient(t)
	tests := []struct {
		name string
		root string
	}{
		{"whole bucket", ""},
		{"under a root", "tenant-a/artifacts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			storetest.TestArtifactStore(t, func(t *testing.T) store.ArtifactStore {
				s, err := s3store.New(client, newBucket(t, client), tc.root)
				require.NoError(t, err)
				return s
			})
		})
	}
}

func TestNewRefuses(t *testing.T) {
	client := s3.New(s3.Options{Region: "us-east-1"})
	tests := []struct {
		name, bucket, root string
	}{
		{"empty bucket", "", ""},
		{"bucket with slash", "a/b", ""},
		{"absolute root", "bucket", "/artifacts"},
		{"root with parent", "bucket", "a/../../b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s3store.New(client, tc.bucket, tc.root)
			require.ErrorIs(t, err, store.ErrInvalid)
		})
	}
	_, err := s3store.New(nil, "bucket", "")
	require.ErrorIs(t, err, store.ErrInvalid)
}

func TestURI(t *testing.T) {
	client := s3.New(s3.Options{Region: "us-east-1"})
	s, err := s3store.New(client, "orrery-artifacts", "prod/")
	require.NoError(t, err)
	assert.Equal(t, "s3://orrery-artifacts/prod/models/m1/manifest.json", s.URI("models/m1/manifest.json"))
	assert.Empty(t, s.URI("../escape"))
}

// TestPaging lists across several ListObjectsV2 pages and deletes in
// several DeleteObjects batches, with the page and batch sizes made small.
func TestPaging(t *testing.T) {
	client := newClient(t)
	tests := []struct {
		name        string
		pageSize    int32
		deleteBatch int
	}{
		{"pages of 7, batches of 5", 7, 5},
		{"page size equal to the count", 23, 23},
		{"pages of 1, batches of 1", 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := s3store.New(client, newBucket(t, client), "root")
			require.NoError(t, err)
			s3store.SetPaging(s, tc.pageSize, tc.deleteBatch)
			const n = 23
			want := make([]string, n)
			for i := range n {
				want[i] = fmt.Sprintf("checkpoints/job-1/epoch-%03d.ckpt", i)
				require.NoError(t, s.Put(t.Context(), want[i], strings.NewReader("x")))
			}
			require.NoError(t, s.Put(t.Context(), "models/m1/manifest.json", strings.NewReader("{}")))
			keys, err := s.List(t.Context(), "checkpoints/")
			require.NoError(t, err)
			assert.Equal(t, want, keys)

			require.NoError(t, s.DeletePrefix(t.Context(), "checkpoints/job-1/"))
			keys, err = s.List(t.Context(), "")
			require.NoError(t, err)
			assert.Equal(t, []string{"models/m1/manifest.json"}, keys)
		})
	}
}

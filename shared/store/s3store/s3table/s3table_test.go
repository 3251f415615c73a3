package s3table_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient"
	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/s3store/s3table"
)

// newClient returns an S3 client for the emulator, or skips the test.
func newClient(t *testing.T) *s3.Client {
	t.Helper()
	cfg := awstest.Config(t)
	return s3.NewFromConfig(cfg, awsclient.S3Options(cfg))
}

// newBucket creates a fresh bucket and removes its objects and itself when
// the test ends.
func newBucket(t *testing.T, client *s3.Client) string {
	t.Helper()
	return awstest.Bucket(t, client, "orrery-test")
}

func TestReadTableRefusesBeforeAnyRequest(t *testing.T) {
	client := s3.New(s3.Options{Region: "us-east-1"}) // no endpoint is ever reached
	tests := []struct {
		uri  string
		want error
	}{
		{"data/htru2.csv", store.ErrInvalid},
		{"s3://bucket/", store.ErrInvalid},
		{"s3://bucket/htru2.xlsx", dataset.ErrUnsupported},
		{"s3://bucket/htru2", dataset.ErrUnsupported},
		{"s3://bucket/htru2.csv[1]", dataset.ErrUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.uri, func(t *testing.T) {
			_, err := s3table.ReadTable(t.Context(), client, tc.uri)
			require.ErrorIs(t, err, tc.want)
		})
	}
}

type star struct {
	Name  string   `parquet:"name"`
	Flux  *float64 `parquet:"flux,optional"`
	Class string   `parquet:"class"`
}

// TestReadTable reads the same files from moto's S3 and from disk: the
// tables, hashes included, are the same; only Source differs.
func TestReadTable(t *testing.T) {
	client := newClient(t)
	bucket := newBucket(t, client)
	dir := t.TempDir()

	htru2, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "events", "data", "htru2.csv"))
	require.NoError(t, err)
	flux := 1.5
	var pq bytes.Buffer
	w := parquet.NewGenericWriter[star](&pq)
	_, err = w.Write([]star{{"J0437", &flux, "pulsar"}, {"B1919", nil, "rfi"}})
	require.NoError(t, err)
	require.NoError(t, w.Close())

	sampleFITS, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "events", "data", "htru2-sample.fits"))
	require.NoError(t, err)
	sampleVOT, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "events", "data", "htru2-sample.vot"))
	require.NoError(t, err)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err = zw.Write(sampleFITS)
	require.NoError(t, err)
	require.NoError(t, zw.Close())

	files := map[string][]byte{
		"incoming/htru2.csv":             htru2,
		"incoming/htru2-sample.fits":     sampleFITS,
		"incoming/htru2-sample.fits.gz":  gz.Bytes(),
		"incoming/cone/htru2-sample.vot": sampleVOT,
		"incoming/stars.tsv":             []byte("name\tflux\tclass\nJ0437\t1.5\tpulsar\nB1919\tNA\trfi\n"),
		"incoming/STARS.PARQUET":         pq.Bytes(),
	}
	for key, body := range files {
		_, err := client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
		require.NoError(t, err)
		local := filepath.Join(dir, filepath.Base(key))
		require.NoError(t, os.WriteFile(local, body, 0o600))

		t.Run(key, func(t *testing.T) {
			uri := "s3://" + bucket + "/" + key
			got, err := s3table.ReadTable(t.Context(), client, uri)
			require.NoError(t, err)
			want, err := dataset.Read(t.Context(), local)
			require.NoError(t, err)
			assert.Equal(t, uri, got.Source)
			assert.Equal(t, want.Hash, got.Hash, "the same bytes hash the same wherever they lie")
			assert.Equal(t, want.Rows, got.Rows)
			// %v prints NaN (a missing number) as NaN on both sides, where
			// Equal would find NaN != NaN.
			assert.Equal(t, fmt.Sprintf("%v", want.Columns), fmt.Sprintf("%v", got.Columns))
		})
	}

	t.Run("a FITS HDU selector", func(t *testing.T) {
		uri := "s3://" + bucket + "/incoming/htru2-sample.fits.gz[SUMMARY]"
		got, err := s3table.ReadTable(t.Context(), client, uri)
		require.NoError(t, err)
		assert.Equal(t, uri, got.Source)
		assert.Equal(t, "2 SUMMARY", got.HDU)
		assert.Equal(t, []string{"class", "rows"}, got.Names())
	})

	t.Run("as the pipeline's hook", func(t *testing.T) {
		got, err := s3table.TableReader(client)(t.Context(), "s3://"+bucket+"/incoming/htru2.csv")
		require.NoError(t, err)
		assert.Equal(t, 17898, got.Rows)
	})

	missing := []struct{ name, uri string }{
		{"no such object", "s3://" + bucket + "/incoming/absent.csv"},
		{"no such bucket", "s3://" + bucket + "-absent/htru2.csv"},
	}
	for _, tc := range missing {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s3table.ReadTable(t.Context(), client, tc.uri)
			require.ErrorIs(t, err, store.ErrNotFound)
			assert.Contains(t, err.Error(), tc.uri)
		})
	}

	t.Run("broken file", func(t *testing.T) {
		key := "incoming/ragged.csv"
		_, err := client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
			Body: bytes.NewReader([]byte("a,b\n1,2\n3\n"))})
		require.NoError(t, err)
		_, err = s3table.ReadTable(t.Context(), client, "s3://"+bucket+"/"+key)
		require.ErrorIs(t, err, dataset.ErrRaggedRow)
	})
}

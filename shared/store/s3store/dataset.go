package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/store"
)

// ParseURI splits s3://bucket/key. Anything else — another scheme, no
// bucket, no key, a key ending in "/" — is store.ErrInvalid (wrapped).
func ParseURI(uri string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(uri), "s3://")
	if !ok {
		return "", "", fmt.Errorf("%q is not an s3://bucket/key URI: %w", uri, store.ErrInvalid)
	}
	bucket, key, _ = strings.Cut(rest, "/")
	switch {
	case bucket == "" || strings.ContainsAny(bucket, " \\"):
		return "", "", fmt.Errorf("%q names no valid bucket: %w", uri, store.ErrInvalid)
	case key == "" || strings.HasSuffix(key, "/"):
		return "", "", fmt.Errorf("%q names no object (want s3://bucket/key): %w", uri, store.ErrInvalid)
	}
	return bucket, key, nil
}

// ReadTable reads the data set at uri (s3://bucket/key) into a table,
// choosing the reader by the key's extension as dataset.Read does (see
// dataset.FormatOf: CSV, TSV, Parquet, FITS and VOTable, FITS and VOTable
// optionally gzip-compressed). A FITS or VOTable URI may end in a table
// selector, s3://bucket/catalog.fits[EVENTS] (dataset.SplitHDU); the object
// read is the key without it. The table's Source is uri and its Hash the
// SHA-256 of the object's bytes, the same hash dataset.Read gives the same
// file on disk.
//
// Errors: store.ErrInvalid for a malformed URI, dataset.ErrUnsupported for
// an unknown extension (both before any request), store.ErrNotFound when
// the bucket or the object does not exist, and the dataset errors for a
// broken file; each names the URI.
func ReadTable(ctx context.Context, client API, uri string) (*dataset.Table, error) {
	object, hdu := dataset.SplitHDU(strings.TrimSpace(uri))
	bucket, key, err := ParseURI(object)
	if err != nil {
		return nil, fmt.Errorf("read data set: %w", err)
	}
	object = "s3://" + bucket + "/" + key
	uri = dataset.WithHDU(object, hdu)
	format, err := dataset.FormatOf(key)
	if err != nil {
		return nil, fmt.Errorf("read data set %s: %w", uri, err)
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		if isNotFound(err) || isNoSuchBucket(err) {
			return nil, fmt.Errorf("read data set %s: %w", uri, store.ErrNotFound)
		}
		return nil, fmt.Errorf("read data set %s: %w", uri, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(contextReader{ctx, out.Body})
	if err != nil {
		return nil, fmt.Errorf("read data set %s: %w", uri, err)
	}
	return dataset.ReadBytes(ctx, b, uri, format, dataset.ReadOptions{HDU: hdu})
}

// TableReader returns ReadTable over client as a function of a path, the
// shape of training.TrainingPipeline's ReadTable hook.
func TableReader(client API) func(ctx context.Context, uri string) (*dataset.Table, error) {
	return func(ctx context.Context, uri string) (*dataset.Table, error) {
		return ReadTable(ctx, client, uri)
	}
}

// isNoSuchBucket reports whether err says the bucket does not exist.
func isNoSuchBucket(err error) bool {
	var nsb *s3types.NoSuchBucket
	if errors.As(err, &nsb) {
		return true
	}
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchBucket"
}

package s3table

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/s3store"

	// The Parquet and FITS readers of dataset.ReadBytes: whatever reads
	// tables from S3 reads every format.
	_ "github.com/orrery-ml/orrery/shared/dataset/parquetfits"
)

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
func ReadTable(ctx context.Context, client s3store.API, uri string) (*dataset.Table, error) {
	object, hdu := dataset.SplitHDU(strings.TrimSpace(uri))
	bucket, key, err := s3store.ParseURI(object)
	if err != nil {
		return nil, fmt.Errorf("read data set: %w", err)
	}
	object = "s3://" + bucket + "/" + key
	uri = dataset.WithHDU(object, hdu)
	format, err := dataset.FormatOf(key)
	if err != nil {
		return nil, fmt.Errorf("read data set %s: %w", uri, err)
	}
	b, err := s3store.ReadObject(ctx, client, bucket, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("read data set %s: %w", uri, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read data set %s: %w", uri, err)
	}
	return dataset.ReadBytes(ctx, b, uri, format, dataset.ReadOptions{HDU: hdu})
}

// TableReader returns ReadTable over client as a function of a path, the
// shape of training.TrainingPipeline's ReadTable hook.
func TableReader(client s3store.API) func(ctx context.Context, uri string) (*dataset.Table, error) {
	return func(ctx context.Context, uri string) (*dataset.Table, error) {
		return ReadTable(ctx, client, uri)
	}
}

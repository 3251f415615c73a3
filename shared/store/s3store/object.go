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

// ReadObject returns the whole body of the object s3://bucket/key, reading
// while ctx lasts. Returns store.ErrNotFound (wrapped) when the bucket or
// the object does not exist.
func ReadObject(ctx context.Context, client API, bucket, key string) ([]byte, error) {
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		if isNotFound(err) || isNoSuchBucket(err) {
			return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, store.ErrNotFound)
		}
		return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(contextReader{ctx, out.Body})
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	return b, nil
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

package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/orrery-ml/orrery/shared/store"
)

// maxDeleteBatch is the most keys one DeleteObjects call accepts.
const maxDeleteBatch = 1000

// memoryLimit is the largest body a Put buffers in memory; larger bodies are
// spooled to a temporary file first.
const memoryLimit = 32 << 20

// API is the part of the S3 client the store uses (*s3.Client has it).
type API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
}

// Store is an artifact store in an S3 bucket. It is safe for concurrent use.
type Store struct {
	client API
	bucket string
	root   string // "" or a clean prefix ending in "/"
	// pageSize is ListObjectsV2's MaxKeys (0: S3's default of 1,000) and
	// deleteBatch the keys per DeleteObjects call; tests make both small.
	pageSize    int32
	deleteBatch int
}

var _ store.ArtifactStore = (*Store)(nil)

// New returns a store of the objects under root ("" for the whole bucket;
// "artifacts" keeps them under artifacts/) in bucket. Returns store.ErrInvalid
// for an empty bucket name or a root that is not a valid key.
func New(client API, bucket, root string) (*Store, error) {
	if client == nil {
		return nil, fmt.Errorf("new s3 store: nil client: %w", store.ErrInvalid)
	}
	if bucket == "" || strings.ContainsAny(bucket, "/ ") {
		return nil, fmt.Errorf("new s3 store: bucket name %q: %w", bucket, store.ErrInvalid)
	}
	root = strings.TrimSuffix(root, "/")
	if root != "" {
		if err := validateKey(root); err != nil {
			return nil, fmt.Errorf("new s3 store s3://%s: root: %w", bucket, err)
		}
		root += "/"
	}
	return &Store{client: client, bucket: bucket, root: root, deleteBatch: maxDeleteBatch}, nil
}

// Bucket returns the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// validateKey accepts a store.CheckKey key of at most S3's 1024 bytes.
func validateKey(key string) error {
	if len(key) > 1024 {
		return fmt.Errorf("artifact key of %d bytes is longer than S3's 1024: %w", len(key), store.ErrInvalid)
	}
	return store.CheckKey(key)
}

func validatePrefix(prefix string) error { return store.CheckPrefix(prefix, validateKey) }

// URI returns s3://bucket/key for a valid key, "" otherwise.
func (s *Store) URI(key string) string {
	if validateKey(key) != nil {
		return ""
	}
	return "s3://" + s.bucket + "/" + s.root + key
}

// Put uploads the whole of r as key. The body is read completely before the
// upload starts, so a reader that fails stores nothing; S3 replaces an
// existing object atomically. Returns store.ErrInvalid for a bad key and the
// reader's or the context's error when reading fails.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) error {
	if err := validateKey(key); err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", s.bucket, key, err)
	}
	body, size, release, err := spool(ctx, r)
	if err != nil {
		return fmt.Errorf("put s3://%s/%s%s: read body: %w", s.bucket, s.root, key, err)
	}
	defer release()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put s3://%s/%s%s: %w", s.bucket, s.root, key, err)
	}
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(s.root + key),
		Body:          body,
		ContentLength: aws.Int64(size),
	})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s%s: %w", s.bucket, s.root, key, err)
	}
	return nil
}

// spool reads r into memory, or into a temporary file past memoryLimit, and
// returns a seekable body of known size; release frees what it used.
func spool(ctx context.Context, r io.Reader) (io.ReadSeeker, int64, func(), error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(contextReader{ctx, r}, memoryLimit+1))
	if err != nil {
		return nil, 0, nil, err
	}
	if n <= memoryLimit {
		return bytes.NewReader(buf.Bytes()), n, func() {}, nil
	}
	f, err := os.CreateTemp("", "orrery-s3-put-*")
	if err != nil {
		return nil, 0, nil, err
	}
	release := func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		release()
		return nil, 0, nil, err
	}
	rest, err := io.Copy(f, contextReader{ctx, r})
	if err != nil {
		release()
		return nil, 0, nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		release()
		return nil, 0, nil, err
	}
	return f, n + rest, release, nil
}

// contextReader stops reading once its context is done.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Get returns the object's body; the caller closes it. Returns
// store.ErrNotFound when the key does not exist, store.ErrInvalid for a bad
// key.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := validateKey(key); err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", s.bucket, key, err)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.root + key)})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("get s3://%s/%s%s: %w", s.bucket, s.root, key, store.ErrNotFound)
		}
		return nil, fmt.Errorf("get s3://%s/%s%s: %w", s.bucket, s.root, key, err)
	}
	return out.Body, nil
}

// isNotFound reports whether err says the key (NoSuchKey) or the object
// (NotFound, as HEAD answers) does not exist.
func isNotFound(err error) bool {
	var nsk *s3types.NoSuchKey
	var nf *s3types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode() == "NoSuchKey" || apiErr.ErrorCode() == "NotFound")
}

// List returns the keys under prefix (a plain string prefix, as in S3),
// sorted, following every page of ListObjectsV2. Returns store.ErrInvalid for
// a prefix that is not "" or a valid key with an optional trailing slash.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	if err := validatePrefix(prefix); err != nil {
		return nil, fmt.Errorf("list s3://%s/%s: %w", s.bucket, prefix, err)
	}
	keys, err := s.list(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("list s3://%s/%s%s: %w", s.bucket, s.root, prefix, err)
	}
	return keys, nil
}

// list pages through the objects under root+prefix and returns their keys
// relative to root, sorted.
func (s *Store) list(ctx context.Context, prefix string) ([]string, error) {
	keys := []string{}
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(s.root + prefix)}
	if s.pageSize > 0 {
		in.MaxKeys = aws.Int32(s.pageSize)
	}
	p := s3.NewListObjectsV2Paginator(s.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			keys = append(keys, strings.TrimPrefix(aws.ToString(o.Key), s.root))
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// DeletePrefix removes every object under prefix in batches of DeleteObjects.
// Removing nothing is not an error. Returns store.ErrInvalid for an empty or
// bad prefix, and an error naming the first key S3 refused to delete.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) error {
	if prefix == "" {
		return fmt.Errorf("delete s3://%s/%s: empty prefix: %w", s.bucket, s.root, store.ErrInvalid)
	}
	if err := validatePrefix(prefix); err != nil {
		return fmt.Errorf("delete s3://%s/%s: %w", s.bucket, prefix, err)
	}
	keys, err := s.list(ctx, prefix)
	if err != nil {
		return fmt.Errorf("delete s3://%s/%s%s: %w", s.bucket, s.root, prefix, err)
	}
	for batch := range slices.Chunk(keys, s.deleteBatch) {
		ids := make([]s3types.ObjectIdentifier, len(batch))
		for i, k := range batch {
			ids[i] = s3types.ObjectIdentifier{Key: aws.String(s.root + k)}
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(s.bucket),
			Delete: &s3types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return fmt.Errorf("delete s3://%s/%s%s: %w", s.bucket, s.root, prefix, err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return fmt.Errorf("delete s3://%s/%s: %d of %d keys refused, first %s: %s %s", s.bucket, s.root+prefix,
				len(out.Errors), len(batch), aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
		}
	}
	return nil
}

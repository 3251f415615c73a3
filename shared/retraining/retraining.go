package retraining

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
)

// DefaultIncomingPrefix is the datasets-bucket prefix whose uploads retrain.
const DefaultIncomingPrefix = "incoming/"

// Errors of Handle. Each is permanent: the same object will fail the same
// way, so the caller lets its message go to the dead-letter queue.
var (
	// ErrInvalidObject: the event lacks the bucket, key or ETag.
	ErrInvalidObject = fault.New(fault.Invalid, "retraining: invalid object event")
	// ErrNoPolicy: no retraining policy covers the object's key.
	ErrNoPolicy = fault.New(fault.NotFound, "retraining: no retraining policy")
	// ErrBadPolicy: the policy's TrainingConfig is not valid.
	ErrBadPolicy = fault.New(fault.Invalid, "retraining: invalid retraining policy")
)

// Executions starts the execution of a QUEUED training job. Starting a job
// that already has an execution must start nothing and is not an error (on
// AWS shared/pipeline/sfnexec names executions after their jobs).
type Executions interface {
	StartTraining(ctx context.Context, jobID string) error
}

// ObjectCreated is an uploaded object, as its S3 event describes it.
type ObjectCreated struct {
	Bucket string
	// Key is the object key, already URL-decoded.
	Key  string
	ETag string
	Size int64
}

// URI returns s3://bucket/key.
func (o ObjectCreated) URI() string { return "s3://" + o.Bucket + "/" + o.Key }

// Outcome says what Handle did with an object.
type Outcome string

// Outcomes of Handle.
const (
	// Started: a new job was created and its execution started.
	Started Outcome = "started"
	// Restarted: the job existed, still QUEUED, and its start was repeated.
	Restarted Outcome = "restarted"
	// Duplicate: the job existed and had started; nothing was done.
	Duplicate Outcome = "duplicate"
	// Ignored: the object is not under the incoming prefix, is a folder
	// marker, or is no data file the readers know (Result.Reason says
	// which).
	Ignored Outcome = "ignored"
	// Paused: the object's policy is paused.
	Paused Outcome = "paused"
)

// Result is what Handle did.
type Result struct {
	Outcome Outcome
	// JobID is the job of the object (empty when Ignored or Paused).
	JobID string
	// Policy is the prefix of the policy that applied.
	Policy string
	// Reason says why an object was Ignored.
	Reason string
}

// Policies finds the retraining policy of a prefix: the read side of
// store.RetrainingPolicyStore.
type Policies interface {
	// GetRetrainingPolicy returns the policy with exactly that prefix, or
	// store.ErrNotFound.
	GetRetrainingPolicy(ctx context.Context, prefix string) (store.RetrainingPolicy, error)
}

// Service handles uploaded objects.
type Service struct {
	Jobs       store.JobStore
	Policies   Policies
	Executions Executions
	// IncomingPrefix is the prefix whose uploads retrain (default
	// DefaultIncomingPrefix).
	IncomingPrefix string
}

// JobID returns the id of the job an object starts: "retrain-" and 32 hex
// digits of SHA-256 over bucket, key and ETag, so every delivery of one
// upload names the same job, and a new version of the object (a new ETag)
// another one.
func JobID(o ObjectCreated) string {
	h := sha256.New()
	for _, part := range []string{o.Bucket, o.Key, strings.Trim(o.ETag, `"`)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return "retrain-" + hex.EncodeToString(h.Sum(nil))[:32]
}

// Handle starts the retraining job of o once, however often it is delivered.
// Errors wrapping ErrInvalidObject, ErrNoPolicy or ErrBadPolicy are
// permanent; any other error (the store, the execution service) is worth a
// retry, and a retry is safe.
func (s *Service) Handle(ctx context.Context, o ObjectCreated) (Result, error) {
	if o.Bucket == "" || o.Key == "" || strings.Trim(o.ETag, `"`) == "" {
		return Result{}, fmt.Errorf("handle object %q in bucket %q (etag %q): bucket, key and etag are required: %w",
			o.Key, o.Bucket, o.ETag, ErrInvalidObject)
	}
	incoming := s.IncomingPrefix
	if incoming == "" {
		incoming = DefaultIncomingPrefix
	}
	if !strings.HasPrefix(o.Key, incoming) || strings.HasSuffix(o.Key, "/") {
		return Result{Outcome: Ignored, Reason: "not under " + incoming}, nil
	}
	// Only data files retrain: CSV, TSV, Parquet, FITS (.fits, .fits.gz,
	// ...) and VOTable (.vot, .xml); a checksum or README uploaded beside
	// them starts nothing.
	if _, err := dataset.FormatOf(o.Key); err != nil {
		return Result{Outcome: Ignored, Reason: err.Error()}, nil
	}
	policy, err := s.policyFor(ctx, o.Key, incoming)
	if err != nil {
		return Result{}, fmt.Errorf("handle %s: %w", o.URI(), err)
	}
	if policy.Paused {
		return Result{Outcome: Paused, Policy: policy.Prefix}, nil
	}
	job, err := newJob(policy, o)
	if err != nil {
		return Result{}, fmt.Errorf("handle %s: %w", o.URI(), err)
	}
	id := job.ID
	res := Result{Outcome: Started, JobID: id, Policy: policy.Prefix}
	err = s.Jobs.CreateJob(ctx, job)
	if errors.Is(err, store.ErrConflict) {
		existing, getErr := s.Jobs.GetJob(ctx, id)
		if getErr != nil {
			return Result{}, fmt.Errorf("handle %s: job %s: %w", o.URI(), id, getErr)
		}
		if existing.Status != store.Queued {
			res.Outcome = Duplicate
			return res, nil
		}
		res.Outcome = Restarted
	} else if err != nil {
		return Result{}, fmt.Errorf("handle %s: create job %s: %w", o.URI(), id, err)
	}
	if err := s.Executions.StartTraining(ctx, id); err != nil {
		return Result{}, fmt.Errorf("handle %s: start job %s: %w", o.URI(), id, err)
	}
	return res, nil
}

// policyFor returns the policy of the longest prefix of key, ending in "/"
// and no shorter than incoming, that has one: a point lookup per directory
// level, deepest first.
func (s *Service) policyFor(ctx context.Context, key, incoming string) (store.RetrainingPolicy, error) {
	for end := strings.LastIndex(key, "/"); end+1 >= len(incoming); end = strings.LastIndex(key[:end], "/") {
		prefix := key[:end+1]
		p, err := s.Policies.GetRetrainingPolicy(ctx, prefix)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return store.RetrainingPolicy{}, fmt.Errorf("retraining policy %s: %w", prefix, err)
		}
		if end <= 0 {
			break
		}
	}
	return store.RetrainingPolicy{}, fmt.Errorf("no policy for any prefix of %s under %s: %w", key, incoming, ErrNoPolicy)
}

// newJob is the QUEUED training job JobID(o) of the policy's
// TrainingConfig with dataset_path set to the object, normalised and checked
// by training.NewJob; the name defaults to the model name.
func newJob(p store.RetrainingPolicy, o ObjectCreated) (store.Job, error) {
	c, err := training.DecodeConfig(bytes.NewReader(p.Config))
	if err != nil {
		return store.Job{}, fmt.Errorf("policy %s: %w: %w", p.Prefix, ErrBadPolicy, err)
	}
	c.DatasetPath = o.URI()
	if c.Name == "" {
		c.Name = p.ModelName
	}
	job, err := training.NewJob(JobID(o), c, time.Now().Truncate(time.Millisecond))
	if err != nil {
		return store.Job{}, fmt.Errorf("policy %s: %w: %w", p.Prefix, ErrBadPolicy, err)
	}
	return job, nil
}

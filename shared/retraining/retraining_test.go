package retraining_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/retraining"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
)

// policies is an in-memory store.RetrainingPolicyStore.
type policies map[string]store.RetrainingPolicy

func (p policies) PutRetrainingPolicy(_ context.Context, rp store.RetrainingPolicy) error {
	p[rp.Prefix] = rp
	return nil
}

func (p policies) GetRetrainingPolicy(_ context.Context, prefix string) (store.RetrainingPolicy, error) {
	rp, ok := p[prefix]
	if !ok {
		return store.RetrainingPolicy{}, fmt.Errorf("policy %s: %w", prefix, store.ErrNotFound)
	}
	return rp, nil
}

// executions records the jobs started, failing while fail is set.
type executions struct {
	mu      sync.Mutex
	started []string
	fail    error
}

func (e *executions) StartTraining(_ context.Context, jobID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fail != nil {
		return e.fail
	}
	e.started = append(e.started, jobID)
	return nil
}

func newService(t *testing.T) (*retraining.Service, *sqlitestore.DB, *executions) {
	t.Helper()
	db, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "orrery.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	pol := policies{
		"incoming/": {Prefix: "incoming/", ModelName: "catch-all",
			Config: json.RawMessage(`{"target_column":"label"}`)},
		"incoming/htru2/": {Prefix: "incoming/htru2/", ModelName: "htru2-mlp",
			Config: json.RawMessage(`{"target_column":"class","positive_class":"1","epochs":5}`)},
		"incoming/paused/": {Prefix: "incoming/paused/", ModelName: "paused", Paused: true,
			Config: json.RawMessage(`{"target_column":"class"}`)},
		"incoming/broken/": {Prefix: "incoming/broken/", ModelName: "broken",
			Config: json.RawMessage(`{"target_column":"class","epochz":5}`)},
		"incoming/untargeted/": {Prefix: "incoming/untargeted/", ModelName: "untargeted",
			Config: json.RawMessage(`{"epochs":5}`)},
	}
	ex := &executions{}
	return &retraining.Service{Jobs: db, Policies: pol, Executions: ex}, db, ex
}

func TestHandle(t *testing.T) {
	obj := func(key string) retraining.ObjectCreated {
		return retraining.ObjectCreated{Bucket: "datasets", Key: key, ETag: `"9b2cf535f27731c974343645a3985328"`, Size: 1024}
	}
	tests := []struct {
		name       string
		object     retraining.ObjectCreated
		want       retraining.Outcome
		wantPolicy string
		wantModel  string
		wantErr    error
	}{
		{"deepest policy", obj("incoming/htru2/2026/03/batch.csv"), retraining.Started, "incoming/htru2/", "htru2-mlp", nil},
		{"catch-all policy", obj("incoming/other/batch.csv"), retraining.Started, "incoming/", "catch-all", nil},
		{"directly under incoming", obj("incoming/batch.csv"), retraining.Started, "incoming/", "catch-all", nil},
		{"outside incoming", obj("datasets/batch.csv"), retraining.Ignored, "", "", nil},
		{"folder marker", obj("incoming/htru2/"), retraining.Ignored, "", "", nil},
		{"FITS table", obj("incoming/htru2/2026/candidates.fits"), retraining.Started, "incoming/htru2/", "htru2-mlp", nil},
		{"gzip-compressed FITS", obj("incoming/htru2/candidates.FITS.gz"), retraining.Started, "incoming/htru2/", "htru2-mlp", nil},
		{"VOTable", obj("incoming/htru2/cone.vot"), retraining.Started, "incoming/htru2/", "htru2-mlp", nil},
		{"VOTable as XML", obj("incoming/htru2/cone.xml"), retraining.Started, "incoming/htru2/", "htru2-mlp", nil},
		{"Parquet", obj("incoming/htru2/batch.parquet"), retraining.Started, "incoming/htru2/", "htru2-mlp", nil},
		{"a checksum beside the data", obj("incoming/htru2/candidates.fits.md5"), retraining.Ignored, "", "", nil},
		{"a README", obj("incoming/htru2/README"), retraining.Ignored, "", "", nil},
		{"paused policy", obj("incoming/paused/x.csv"), retraining.Paused, "incoming/paused/", "", nil},
		{"policy with unknown field", obj("incoming/broken/x.csv"), "", "", "", retraining.ErrBadPolicy},
		{"policy without target_column", obj("incoming/untargeted/x.csv"), "", "", "", retraining.ErrBadPolicy},
		{"no etag", retraining.ObjectCreated{Bucket: "datasets", Key: "incoming/a.csv"}, "", "", "", retraining.ErrInvalidObject},
		{"no bucket", retraining.ObjectCreated{Key: "incoming/a.csv", ETag: "e"}, "", "", "", retraining.ErrInvalidObject},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc, db, ex := newService(t)
			res, err := svc.Handle(t.Context(), tc.object)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.Empty(t, ex.started)
				jobs, err := db.ListJobs(t.Context(), 0)
				require.NoError(t, err)
				assert.Empty(t, jobs, "a refused object creates no job")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, res.Outcome)
			assert.Equal(t, tc.wantPolicy, res.Policy)
			if tc.want == retraining.Ignored {
				assert.NotEmpty(t, res.Reason, "an ignored object says why")
			}
			if tc.want != retraining.Started {
				assert.Empty(t, ex.started)
				return
			}
			assert.Equal(t, []string{res.JobID}, ex.started)
			job, err := db.GetJob(t.Context(), res.JobID)
			require.NoError(t, err)
			assert.Equal(t, store.Queued, job.Status)
			assert.Equal(t, training.JobKindTraining, job.Kind)
			var cfg struct {
				DatasetPath string `json:"dataset_path"`
				Name        string `json:"name"`
				Epochs      int    `json:"epochs"`
			}
			require.NoError(t, json.Unmarshal(job.Config, &cfg))
			assert.Equal(t, "s3://datasets/"+tc.object.Key, cfg.DatasetPath)
			assert.Equal(t, tc.wantModel, cfg.Name)
			assert.Positive(t, cfg.Epochs, "the config is normalised")
		})
	}
}

func TestNoPolicy(t *testing.T) {
	svc, _, _ := newService(t)
	svc.Policies = policies{"incoming/htru2/": {Prefix: "incoming/htru2/", Config: json.RawMessage(`{}`)}}
	_, err := svc.Handle(t.Context(), retraining.ObjectCreated{Bucket: "b", Key: "incoming/gamma/x.csv", ETag: "e"})
	require.ErrorIs(t, err, retraining.ErrNoPolicy)
}

// TestDuplicates delivers every object many times: one job and one start
// per object, a repeated start while the job is QUEUED, nothing once it runs.
func TestDuplicates(t *testing.T) {
	svc, db, ex := newService(t)
	o := retraining.ObjectCreated{Bucket: "datasets", Key: "incoming/htru2/a.csv", ETag: "etag-1"}
	first, err := svc.Handle(t.Context(), o)
	require.NoError(t, err)
	require.Equal(t, retraining.Started, first.Outcome)

	again, err := svc.Handle(t.Context(), o)
	require.NoError(t, err)
	assert.Equal(t, retraining.Restarted, again.Outcome, "a QUEUED job is started again (idempotent)")
	assert.Equal(t, first.JobID, again.JobID)

	_, err = db.UpdateJob(t.Context(), first.JobID, store.JobUpdate{Status: store.Running})
	require.NoError(t, err)
	for range 5 {
		dup, err := svc.Handle(t.Context(), o)
		require.NoError(t, err)
		assert.Equal(t, retraining.Duplicate, dup.Outcome)
	}
	assert.Equal(t, []string{first.JobID, first.JobID}, ex.started)

	newVersion := o
	newVersion.ETag = "etag-2"
	next, err := svc.Handle(t.Context(), newVersion)
	require.NoError(t, err)
	assert.Equal(t, retraining.Started, next.Outcome)
	assert.NotEqual(t, first.JobID, next.JobID, "a new version of the object is a new job")
	jobs, err := db.ListJobs(t.Context(), 0)
	require.NoError(t, err)
	assert.Len(t, jobs, 2)
}

// TestStartFailureIsRetried: a failed start leaves the job QUEUED and the
// next delivery starts it.
func TestStartFailureIsRetried(t *testing.T) {
	svc, db, ex := newService(t)
	o := retraining.ObjectCreated{Bucket: "datasets", Key: "incoming/htru2/a.csv", ETag: "etag-1"}
	unavailable := errors.New("service unavailable")
	ex.fail = unavailable
	_, err := svc.Handle(t.Context(), o)
	require.ErrorIs(t, err, unavailable)
	job, err := db.GetJob(t.Context(), retraining.JobID(o))
	require.NoError(t, err)
	assert.Equal(t, store.Queued, job.Status)

	ex.fail = nil
	res, err := svc.Handle(t.Context(), o)
	require.NoError(t, err)
	assert.Equal(t, retraining.Restarted, res.Outcome)
	assert.Equal(t, []string{job.ID}, ex.started)
}

func TestJobID(t *testing.T) {
	a := retraining.ObjectCreated{Bucket: "b", Key: "incoming/x.csv", ETag: `"abc"`}
	b := a
	b.ETag = "abc"
	assert.Equal(t, retraining.JobID(a), retraining.JobID(b), "quotes around the ETag do not matter")
	c := a
	c.Key = "incoming/y.csv"
	assert.NotEqual(t, retraining.JobID(a), retraining.JobID(c))
	d := retraining.ObjectCreated{Bucket: "bincoming", Key: "/x.csv", ETag: "abc"}
	assert.NotEqual(t, retraining.JobID(retraining.ObjectCreated{Bucket: "b", Key: "incoming/x.csv", ETag: "abc"}), retraining.JobID(d),
		"fields are separated, not concatenated")
	assert.Regexp(t, `^retrain-[0-9a-f]{32}$`, retraining.JobID(a))
}

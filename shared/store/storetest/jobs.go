package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
)

// baseTime is the creation time of fixture records: millisecond precision, so
// that adapters storing milliseconds compare equal too.
var baseTime = time.Date(2026, time.March, 1, 12, 0, 0, 123_000_000, time.UTC)

var allStatuses = []store.Status{store.Queued, store.Running, store.Succeeded, store.Failed, store.Cancelled}

// allowedTransition is the job lifecycle written out by hand, so the suite
// does not take its expectations from the code under test.
func allowedTransition(from, to store.Status) bool {
	switch from {
	case store.Queued:
		return to == store.Running || to == store.Failed || to == store.Cancelled
	case store.Running:
		return to == store.Succeeded || to == store.Failed || to == store.Cancelled
	}
	return false
}

// concurrentWriters is how many goroutines race in the concurrency tests.
const concurrentWriters = 20

// fixtureJob is a training job in the given status with Kind, Stage and
// Config set and the other optional fields empty.
func fixtureJob(id string, status store.Status, created time.Time) store.Job {
	return store.Job{
		ID:        id,
		Kind:      "training",
		Status:    status,
		Stage:     "validate",
		Config:    json.RawMessage(`{"model_type":"mlp","dataset_path":"events/data/htru2.csv","epochs":60}`),
		CreatedAt: created,
		UpdatedAt: created,
	}
}

// assertRaw compares two JSON fields by meaning; both empty counts as equal.
func assertRaw(t *testing.T, field string, want, got json.RawMessage) {
	t.Helper()
	if len(want) == 0 {
		assert.Empty(t, got, field)
		return
	}
	require.NotEmpty(t, got, field)
	assert.JSONEq(t, string(want), string(got), field)
}

// assertJob compares every field but UpdatedAt.
func assertJob(t *testing.T, want, got store.Job) {
	t.Helper()
	assert.Equal(t, want.ID, got.ID, "id")
	assert.Equal(t, want.Kind, got.Kind, "kind")
	assert.Equal(t, want.Status, got.Status, "status")
	assert.Equal(t, want.Stage, got.Stage, "stage")
	assertRaw(t, "config", want.Config, got.Config)
	assertRaw(t, "progress", want.Progress, got.Progress)
	assertRaw(t, "result", want.Result, got.Result)
	assert.Equal(t, want.Error, got.Error, "error")
	assert.Equal(t, want.ModelID, got.ModelID, "model_id")
	assert.Equal(t, want.Attempts, got.Attempts, "attempts")
	assert.Equal(t, want.ResumedFrom, got.ResumedFrom, "resumed_from")
	assert.Truef(t, want.CreatedAt.Equal(got.CreatedAt), "created_at: want %s, got %s", want.CreatedAt, got.CreatedAt)
}

// TestJobStore runs the store.JobStore contract against stores made by
// newStore. Each subtest calls newStore once and expects an empty store.
func TestJobStore(t *testing.T, newStore func(t *testing.T) store.JobStore) {
	t.Run("create and get", func(t *testing.T) { testCreateGetJob(t, newStore) })
	t.Run("create refuses", func(t *testing.T) { testCreateJobRefuses(t, newStore) })
	t.Run("get missing", func(t *testing.T) {
		s := newStore(t)
		_, err := s.GetJob(t.Context(), "no-such-job")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("transitions", func(t *testing.T) { testTransitions(t, newStore) })
	t.Run("update refuses", func(t *testing.T) { testUpdateRefuses(t, newStore) })
	t.Run("finished job never moves", func(t *testing.T) { testFinishedJobFrozen(t, newStore) })
	t.Run("field updates", func(t *testing.T) { testFieldUpdates(t, newStore) })
	t.Run("concurrent transitions", func(t *testing.T) { testConcurrentTransitions(t, newStore) })
	t.Run("concurrent attempts", func(t *testing.T) { testConcurrentAttempts(t, newStore) })
	t.Run("list", func(t *testing.T) { testListJobs(t, newStore) })
}

func testCreateGetJob(t *testing.T, newStore func(t *testing.T) store.JobStore) {
	full := fixtureJob("job-full", store.Running, baseTime)
	full.Stage = "train"
	full.Progress = json.RawMessage(`{"kind":"progress","stage":"train","step":12,"total":60,"metrics":{"loss":0.123}}`)
	full.Result = json.RawMessage(`{"metrics":{"auc_pr":0.91}}`)
	full.Error = "retrying after spot reclaim"
	full.ModelID = "model-1"
	full.Attempts = 2
	full.ResumedFrom = "checkpoint of epoch 12"
	full.UpdatedAt = baseTime.Add(time.Minute)

	tests := []struct {
		name string
		job  store.Job
	}{
		{"every field", full},
		{"fixture", fixtureJob("job-fixture", store.Queued, baseTime)},
		{"id and status only", store.Job{ID: "job-minimal", Status: store.Queued}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			before := time.Now().Add(-time.Second)
			require.NoError(t, s.CreateJob(t.Context(), tc.job))
			got, err := s.GetJob(t.Context(), tc.job.ID)
			require.NoError(t, err)
			want := tc.job
			if want.CreatedAt.IsZero() {
				assert.True(t, got.CreatedAt.After(before), "zero created_at is set to now, got %s", got.CreatedAt)
				want.CreatedAt = got.CreatedAt
			}
			assertJob(t, want, got)
			assert.False(t, got.UpdatedAt.Before(got.CreatedAt), "updated_at %s before created_at %s", got.UpdatedAt, got.CreatedAt)
			if !tc.job.UpdatedAt.IsZero() {
				assert.Truef(t, tc.job.UpdatedAt.Equal(got.UpdatedAt), "updated_at: want %s, got %s", tc.job.UpdatedAt, got.UpdatedAt)
			}
		})
	}
}

func testCreateJobRefuses(t *testing.T, newStore func(t *testing.T) store.JobStore) {
	existing := fixtureJob("job-1", store.Queued, baseTime)
	duplicate := fixtureJob("job-1", store.Running, baseTime.Add(time.Hour))
	duplicate.Stage = "train"
	notJSON := fixtureJob("job-2", store.Queued, baseTime)
	notJSON.Config = json.RawMessage(`{"epochs":`)

	tests := []struct {
		name string
		job  store.Job
		want error
	}{
		{"empty id", fixtureJob("", store.Queued, baseTime), store.ErrInvalid},
		{"empty status", fixtureJob("job-2", "", baseTime), store.ErrInvalid},
		{"unknown status", fixtureJob("job-2", "DONE", baseTime), store.ErrInvalid},
		{"config not JSON", notJSON, store.ErrInvalid},
		{"duplicate id", duplicate, store.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			require.NoError(t, s.CreateJob(t.Context(), existing))
			err := s.CreateJob(t.Context(), tc.job)
			require.ErrorIs(t, err, tc.want)

			got, err := s.GetJob(t.Context(), existing.ID)
			require.NoError(t, err)
			assertJob(t, existing, got)
			jobs, err := s.ListJobs(t.Context(), 0)
			require.NoError(t, err)
			assert.Len(t, jobs, 1, "a refused create stores nothing")
		})
	}
}

func testTransitions(t *testing.T, newStore func(t *testing.T) store.JobStore) {
	for _, from := range allStatuses {
		for _, to := range allStatuses {
			allowed := allowedTransition(from, to)
			t.Run(fmt.Sprintf("%s to %s", from, to), func(t *testing.T) {
				assert.Equal(t, allowed, from.CanTransition(to), "store.Status.CanTransition")

				s := newStore(t)
				job := fixtureJob("job-1", from, baseTime)
				require.NoError(t, s.CreateJob(t.Context(), job))
				got, err := s.UpdateJob(t.Context(), job.ID, store.JobUpdate{Status: to})
				stored, getErr := s.GetJob(t.Context(), job.ID)
				require.NoError(t, getErr)
				if allowed {
					require.NoError(t, err)
					assert.Equal(t, to, got.Status)
					assert.Equal(t, to, stored.Status)
					assert.False(t, stored.UpdatedAt.Before(baseTime), "updated_at moves forward")
					return
				}
				require.ErrorIs(t, err, store.ErrConflict)
				assertJob(t, job, stored)
				assert.Truef(t, job.UpdatedAt.Equal(stored.UpdatedAt), "a refused update leaves updated_at at %s, got %s",
					job.UpdatedAt, stored.UpdatedAt)
			})
		}
	}
}

func testUpdateRefuses(t *testing.T, newStore func(t *testing.T) store.JobStore) {
	tests := []struct {
		name   string
		id     string
		update store.JobUpdate
		want   error
	}{
		{"unknown status", "job-1", store.JobUpdate{Status: "DONE"}, store.ErrInvalid},
		{"progress not JSON", "job-1", store.JobUpdate{Progress: json.RawMessage(`{"step":`)}, store.ErrInvalid},
		{"result not JSON", "job-1", store.JobUpdate{Status: store.Succeeded, Result: json.RawMessage(`nope`)}, store.ErrInvalid},
		{"empty id", "", store.JobUpdate{Stage: "train"}, store.ErrInvalid},
		{"missing job, status change", "no-such-job", store.JobUpdate{Status: store.Succeeded}, store.ErrNotFound},
		{"missing job, field change", "no-such-job", store.JobUpdate{Stage: "train"}, store.ErrNotFound},
		{"missing job, to QUEUED", "no-such-job", store.JobUpdate{Status: store.Queued}, store.ErrNotFound},
		{"back to QUEUED", "job-1", store.JobUpdate{Status: store.Queued}, store.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			job := fixtureJob("job-1", store.Running, baseTime)
			require.NoError(t, s.CreateJob(t.Context(), job))
			_, err := s.UpdateJob(t.Context(), tc.id, tc.update)
			require.ErrorIs(t, err, tc.want)
			got, err := s.GetJob(t.Context(), job.ID)
			require.NoError(t, err)
			assertJob(t, job, got)
		})
	}
}

func testFinishedJobFrozen(t *testing.T, newStore func(t *testing.T) store.JobStore) {
	late := []struct {
		name   string
		update store.JobUpdate
	}{
		{"duplicated RUNNING", store.JobUpdate{Status: store.Running, Stage: "train"}},
		{"SUCCEEDED again", store.JobUpdate{Status: store.Succeeded}},
		{"FAILED", store.JobUpdate{Status: store.Failed, Error: "late failure"}},
		{"CANCELLED", store.JobUpdate{Status: store.Cancelled}},
		{"QUEUED", store.JobUpdate{Status: store.Queued}},
		{"stage", store.JobUpdate{Stage: "evaluate"}},
		{"progress", store.JobUpdate{Progress: json.RawMessage(`{"kind":"progress","stage":"train","step":59}`)}},
		{"result", store.JobUpdate{Result: json.RawMessage(`{"overwritten":true}`)}},
		{"error", store.JobUpdate{Error: "late error"}},
		{"model id", store.JobUpdate{ModelID: "other-model"}},
		{"attempt", store.JobUpdate{AddAttempt: true}},
		{"nothing", store.JobUpdate{}},
	}
	for _, final := range []store.Status{store.Succeeded, store.Failed, store.Cancelled} {
		for _, tc := range late {
			t.Run(fmt.Sprintf("%s then %s", final, tc.name), func(t *testing.T) {
				s := newStore(t)
				job := fixtureJob("job-1", store.Running, baseTime)
				require.NoError(t, s.CreateJob(t.Context(), job))
				finished, err := s.UpdateJob(t.Context(), job.ID, store.JobUpdate{
					Status:  final,
					Stage:   "register",
					Result:  json.RawMessage(`{"metrics":{"auc_pr":0.9}}`),
					Error:   "reason " + string(final),
					ModelID: "model-1",
				})
				require.NoError(t, err)

				_, err = s.UpdateJob(t.Context(), job.ID, tc.update)
				require.ErrorIs(t, err, store.ErrConflict)

				got, err := s.GetJob(t.Context(), job.ID)
				require.NoError(t, err)
				assertJob(t, finished, got)
				assert.Truef(t, finished.UpdatedAt.Equal(got.UpdatedAt), "updated_at: want %s, got %s", finished.UpdatedAt, got.UpdatedAt)
			})
		}
	}
}

func testFieldUpdates(t *testing.T, newStore func(t *testing.T) store.JobStore) {
	s := newStore(t)
	job := fixtureJob("job-1", store.Queued, baseTime)
	require.NoError(t, s.CreateJob(t.Context(), job))

	progress1 := json.RawMessage(`{"kind":"progress","stage":"train","step":1,"total":60}`)
	progress2 := json.RawMessage(`{"kind":"progress","stage":"train","step":2,"total":60,"metrics":{"loss":0.5}}`)
	result := json.RawMessage(`{"metrics":{"auc_pr":0.91},"artifacts":["models/model-1/manifest.json"]}`)
	// Each step applies update to what the previous steps left; want is the
	// job after it, where nil and empty fields of the update change nothing.
	want := job
	steps := []struct {
		name   string
		update store.JobUpdate
		apply  func(j *store.Job)
	}{
		{"stage and attempt while queued", store.JobUpdate{Stage: "preprocess", AddAttempt: true},
			func(j *store.Job) { j.Stage = "preprocess"; j.Attempts = 1 }},
		{"start with stage", store.JobUpdate{Status: store.Running, Stage: "train"},
			func(j *store.Job) { j.Status = store.Running; j.Stage = "train" }},
		{"progress only", store.JobUpdate{Progress: progress1},
			func(j *store.Job) { j.Progress = progress1 }},
		{"progress replaced, attempt added", store.JobUpdate{Progress: progress2, AddAttempt: true},
			func(j *store.Job) { j.Progress = progress2; j.Attempts = 2 }},
		{"resumed", store.JobUpdate{AddAttempt: true, ResumedFrom: "checkpoint of epoch 2"},
			func(j *store.Job) { j.Attempts = 3; j.ResumedFrom = "checkpoint of epoch 2" }},
		{"empty update", store.JobUpdate{}, func(*store.Job) {}},
		{"finish with result and model", store.JobUpdate{Status: store.Succeeded, Stage: "register", Result: result, ModelID: "model-1"},
			func(j *store.Job) {
				j.Status = store.Succeeded
				j.Stage = "register"
				j.Result = result
				j.ModelID = "model-1"
			}},
	}
	last := job.UpdatedAt
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			step.apply(&want)
			got, err := s.UpdateJob(t.Context(), job.ID, step.update)
			require.NoError(t, err)
			assertJob(t, want, got)
			assert.False(t, got.UpdatedAt.Before(last), "updated_at went back from %s to %s", last, got.UpdatedAt)
			last = got.UpdatedAt

			stored, err := s.GetJob(t.Context(), job.ID)
			require.NoError(t, err)
			assertJob(t, got, stored)
			assert.Truef(t, got.UpdatedAt.Equal(stored.UpdatedAt), "returned and stored updated_at differ: %s vs %s",
				got.UpdatedAt, stored.UpdatedAt)
		})
	}

	t.Run("failure keeps its reason", func(t *testing.T) {
		failing := fixtureJob("job-2", store.Running, baseTime)
		require.NoError(t, s.CreateJob(t.Context(), failing))
		got, err := s.UpdateJob(t.Context(), failing.ID, store.JobUpdate{Status: store.Failed, Error: "train: loss is NaN"})
		require.NoError(t, err)
		assert.Equal(t, store.Failed, got.Status)
		assert.Equal(t, "train: loss is NaN", got.Error)
		assert.Equal(t, "validate", got.Stage, "an empty stage in the update leaves the stage")
	})
}

func testConcurrentTransitions(t *testing.T, newStore func(t *testing.T) store.JobStore) {
	tests := []struct {
		name    string
		from    store.Status
		targets []store.Status
	}{
		{"finish a running job", store.Running, []store.Status{store.Succeeded, store.Failed, store.Cancelled}},
		{"start a queued job", store.Queued, []store.Status{store.Running}},
		{"end a queued job", store.Queued, []store.Status{store.Failed, store.Cancelled}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			job := fixtureJob("job-1", tc.from, baseTime)
			require.NoError(t, s.CreateJob(t.Context(), job))

			errs := make([]error, concurrentWriters)
			updates := make([]store.JobUpdate, concurrentWriters)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range concurrentWriters {
				updates[i] = store.JobUpdate{
					Status: tc.targets[i%len(tc.targets)],
					Result: json.RawMessage(fmt.Sprintf(`{"writer":%d}`, i)),
				}
				wg.Go(func() {
					<-start
					_, errs[i] = s.UpdateJob(t.Context(), job.ID, updates[i])
				})
			}
			close(start)
			wg.Wait()

			winner := -1
			for i, err := range errs {
				if err == nil {
					require.Equal(t, -1, winner, "writers %d and %d both won", winner, i)
					winner = i
					continue
				}
				require.ErrorIs(t, err, store.ErrConflict, "writer %d", i)
			}
			require.NotEqual(t, -1, winner, "no writer won")

			got, err := s.GetJob(t.Context(), job.ID)
			require.NoError(t, err)
			assert.Equal(t, updates[winner].Status, got.Status)
			assert.JSONEq(t, string(updates[winner].Result), string(got.Result))
		})
	}
}

func testConcurrentAttempts(t *testing.T, newStore func(t *testing.T) store.JobStore) {
	s := newStore(t)
	job := fixtureJob("job-1", store.Running, baseTime)
	require.NoError(t, s.CreateJob(t.Context(), job))
	var wg sync.WaitGroup
	errs := make([]error, concurrentWriters)
	for i := range concurrentWriters {
		wg.Go(func() {
			_, errs[i] = s.UpdateJob(t.Context(), job.ID, store.JobUpdate{AddAttempt: true})
		})
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "writer %d", i)
	}
	got, err := s.GetJob(t.Context(), job.ID)
	require.NoError(t, err)
	assert.Equal(t, concurrentWriters, got.Attempts, "no increment is lost")
}

func testListJobs(t *testing.T, newStore func(t *testing.T) store.JobStore) {
	t.Run("empty store", func(t *testing.T) {
		s := newStore(t)
		jobs, err := s.ListJobs(t.Context(), 0)
		require.NoError(t, err)
		assert.Empty(t, jobs)
	})

	tests := []struct {
		name  string
		limit int
		want  []string
		err   error
	}{
		{"all", 0, []string{"job-c", "job-b", "job-a"}, nil},
		{"limit below count", 2, []string{"job-c", "job-b"}, nil},
		{"limit one", 1, []string{"job-c"}, nil},
		{"limit above count", 10, []string{"job-c", "job-b", "job-a"}, nil},
		{"negative limit", -1, nil, store.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			// Inserted out of time order: the list follows CreatedAt.
			for _, j := range []store.Job{
				fixtureJob("job-b", store.Queued, baseTime.Add(2*time.Second)),
				fixtureJob("job-a", store.Running, baseTime.Add(1*time.Second)),
				fixtureJob("job-c", store.Succeeded, baseTime.Add(3*time.Second+500*time.Millisecond)),
			} {
				require.NoError(t, s.CreateJob(t.Context(), j))
			}
			jobs, err := s.ListJobs(t.Context(), tc.limit)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			ids := make([]string, len(jobs))
			for i, j := range jobs {
				ids[i] = j.ID
			}
			assert.Equal(t, tc.want, ids)
			for _, j := range jobs {
				assert.NotEmpty(t, j.Config, "listed jobs carry their fields")
			}
		})
	}
}

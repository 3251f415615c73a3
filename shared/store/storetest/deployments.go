package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
)

// DeploymentRecords is what a deployment adapter implements.
type DeploymentRecords interface {
	store.DeploymentStore
	store.LiveDeployments
}

var allDeploymentStatuses = []store.DeploymentStatus{
	store.DeploymentPending, store.DeploymentInProgress, store.DeploymentSucceeded,
	store.DeploymentFailed, store.DeploymentRollingBack, store.DeploymentRolledBack,
}

// allowedDeploymentTransition is the deployment lifecycle written out by
// hand, so the suite does not take its expectations from the code under test.
func allowedDeploymentTransition(from, to store.DeploymentStatus) bool {
	switch from {
	case store.DeploymentPending:
		return to == store.DeploymentInProgress || to == store.DeploymentFailed
	case store.DeploymentInProgress:
		return to == store.DeploymentSucceeded || to == store.DeploymentFailed || to == store.DeploymentRollingBack
	case store.DeploymentRollingBack:
		return to == store.DeploymentRolledBack || to == store.DeploymentFailed
	}
	return false
}

// fixtureTraffic is a plausible traffic percent for a deployment in status:
// what the status fixes, else a canary's 10.
func fixtureTraffic(status store.DeploymentStatus) int {
	switch status {
	case store.DeploymentPending, store.DeploymentRolledBack:
		return 0
	case store.DeploymentSucceeded:
		return 100
	}
	return 10
}

// fixtureDeployment is a canary deployment of model to the live alias in
// the given status, replacing model-0.
func fixtureDeployment(id, model string, status store.DeploymentStatus, created time.Time) store.Deployment {
	d := store.Deployment{
		ID:              id,
		ModelID:         model,
		PreviousModelID: "model-0",
		Alias:           store.LiveAlias,
		Environment:     store.DefaultEnvironment,
		Endpoint:        "pulsars",
		Strategy:        store.StrategyCanary,
		PreviousVersion: "6",
		TrafficPercent:  fixtureTraffic(status),
		Status:          status,
		Stage:           "validate",
		Config:          json.RawMessage(`{"canary_percent":10,"bake_seconds":300,"alarms":["predict-errors"]}`),
		CreatedAt:       created,
		UpdatedAt:       created,
	}
	if status != store.DeploymentPending {
		d.Version = "7"
		d.Stage = "shift"
	}
	return d
}

// assertDeployment compares every field but UpdatedAt.
func assertDeployment(t *testing.T, want, got store.Deployment) {
	t.Helper()
	assert.Equal(t, want.ID, got.ID, "deployment_id")
	assert.Equal(t, want.ModelID, got.ModelID, "model_id")
	assert.Equal(t, want.PreviousModelID, got.PreviousModelID, "previous_model_id")
	assert.Equal(t, want.Alias, got.Alias, "alias")
	assert.Equal(t, want.Environment, got.Environment, "environment")
	assert.Equal(t, want.Endpoint, got.Endpoint, "endpoint")
	assert.Equal(t, want.Strategy, got.Strategy, "strategy")
	assert.Equal(t, want.Version, got.Version, "version")
	assert.Equal(t, want.PreviousVersion, got.PreviousVersion, "previous_version")
	assert.Equal(t, want.TrafficPercent, got.TrafficPercent, "traffic_percent")
	assert.Equal(t, want.Status, got.Status, "status")
	assert.Equal(t, want.Stage, got.Stage, "stage")
	assertRaw(t, "config", want.Config, got.Config)
	assertRaw(t, "gates", want.Gates, got.Gates)
	assertRaw(t, "result", want.Result, got.Result)
	assertRaw(t, "alarms", want.Alarms, got.Alarms)
	assertEvents(t, want.Events, got.Events)
	assert.Equal(t, want.Error, got.Error, "error")
	assert.Truef(t, want.CreatedAt.Equal(got.CreatedAt), "created_at: want %s, got %s", want.CreatedAt, got.CreatedAt)
}

// assertUnchanged checks that the stored deployment is still want,
// UpdatedAt included.
func assertUnchanged(t *testing.T, s DeploymentRecords, want store.Deployment) {
	t.Helper()
	got, err := s.GetDeployment(t.Context(), want.ID)
	require.NoError(t, err)
	assertDeployment(t, want, got)
	assert.Truef(t, want.UpdatedAt.Equal(got.UpdatedAt), "updated_at: want %s, got %s", want.UpdatedAt, got.UpdatedAt)
}

func percent(p int) *int { return &p }

// assertEvents compares two timelines, times by instant.
func assertEvents(t *testing.T, want, got []store.DeploymentEvent) {
	t.Helper()
	require.Len(t, got, len(want), "events")
	for i := range want {
		assert.Equal(t, want[i].Kind, got[i].Kind, "event %d kind", i)
		assert.Equal(t, want[i].Message, got[i].Message, "event %d message", i)
		assert.Equal(t, want[i].Traffic, got[i].Traffic, "event %d traffic", i)
		assert.Truef(t, want[i].Time.Equal(got[i].Time), "event %d time: want %s, got %s", i, want[i].Time, got[i].Time)
	}
}

// TestDeploymentStore runs the store.DeploymentStore and
// store.LiveDeployments contracts against stores made by newStore. Each
// subtest calls newStore once and expects an empty store.
func TestDeploymentStore(t *testing.T, newStore func(t *testing.T) DeploymentRecords) {
	t.Run("create and get", func(t *testing.T) { testCreateGetDeployment(t, newStore) })
	t.Run("create refuses", func(t *testing.T) { testCreateDeploymentRefuses(t, newStore) })
	t.Run("get missing", func(t *testing.T) {
		s := newStore(t)
		_, err := s.GetDeployment(t.Context(), "no-such-deployment")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("transitions", func(t *testing.T) { testDeploymentTransitions(t, newStore) })
	t.Run("traffic", func(t *testing.T) { testDeploymentTraffic(t, newStore) })
	t.Run("update refuses", func(t *testing.T) { testUpdateDeploymentRefuses(t, newStore) })
	t.Run("finished deployment never moves", func(t *testing.T) { testFinishedDeploymentFrozen(t, newStore) })
	t.Run("a deployment's life", func(t *testing.T) { testDeploymentLife(t, newStore) })
	t.Run("concurrent transitions", func(t *testing.T) { testConcurrentDeploymentTransitions(t, newStore) })
	t.Run("traffic shifts racing a promotion", func(t *testing.T) { testTrafficRacingPromotion(t, newStore) })
	t.Run("list", func(t *testing.T) { testListDeployments(t, newStore) })
	t.Run("live deployment", func(t *testing.T) { testLiveDeployment(t, newStore) })
	t.Run("concurrent events", func(t *testing.T) { testConcurrentEvents(t, newStore) })
}

func testCreateGetDeployment(t *testing.T, newStore func(t *testing.T) DeploymentRecords) {
	full := fixtureDeployment("dep-full", "model-1", store.DeploymentFailed, baseTime)
	full.TrafficPercent = 35
	full.Strategy = store.StrategyLinear
	full.Stage = "bake"
	full.Gates = json.RawMessage(`{"min_auc_roc":{"want":0.9,"got":0.95,"passed":true}}`)
	full.Result = json.RawMessage(`{"alarm":"predict-errors","alarm_state":"ALARM"}`)
	full.Alarms = json.RawMessage(`[{"name":"score_psi","value":3.1,"threshold":0.2,"state":"ALARM"}]`)
	full.Events = []store.DeploymentEvent{
		{Time: baseTime, Kind: "validated", Message: "every gate passed"},
		{Time: baseTime.Add(time.Second), Kind: "shifted", Message: "35 % to model-1", Traffic: percent(35)},
	}
	full.Environment, full.Endpoint = "prod", "real-bogus"
	full.Error = "alarm predict-errors fired while baking"
	full.UpdatedAt = baseTime.Add(time.Minute)

	tests := []struct {
		name string
		d    store.Deployment
	}{
		{"every field", full},
		{"fixture", fixtureDeployment("dep-fixture", "model-1", store.DeploymentInProgress, baseTime)},
		{"required fields only", store.Deployment{ID: "dep-minimal", ModelID: "model-1", Alias: store.LiveAlias,
			Environment: "dev", Endpoint: "e", Strategy: store.StrategyAllAtOnce, Status: store.DeploymentPending}},
		{"succeeded, first of its alias", store.Deployment{ID: "dep.first_1", ModelID: "model-1", Alias: "staging",
			Environment: "staging", Endpoint: "pulsars", Strategy: store.StrategyAllAtOnce, Status: store.DeploymentSucceeded,
			TrafficPercent: 100, CreatedAt: baseTime}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			before := time.Now().Add(-time.Second)
			require.NoError(t, s.CreateDeployment(t.Context(), tc.d))
			got, err := s.GetDeployment(t.Context(), tc.d.ID)
			require.NoError(t, err)
			want := tc.d
			if want.CreatedAt.IsZero() {
				assert.True(t, got.CreatedAt.After(before), "zero created_at is set to now, got %s", got.CreatedAt)
				want.CreatedAt = got.CreatedAt
			}
			assertDeployment(t, want, got)
			if tc.d.UpdatedAt.IsZero() {
				assert.Truef(t, got.UpdatedAt.Equal(got.CreatedAt), "zero updated_at is set to created_at %s, got %s",
					got.CreatedAt, got.UpdatedAt)
			} else {
				assert.Truef(t, tc.d.UpdatedAt.Equal(got.UpdatedAt), "updated_at: want %s, got %s", tc.d.UpdatedAt, got.UpdatedAt)
			}
		})
	}
}

func testCreateDeploymentRefuses(t *testing.T, newStore func(t *testing.T) DeploymentRecords) {
	existing := fixtureDeployment("dep-1", "model-1", store.DeploymentPending, baseTime)
	with := func(change func(d *store.Deployment)) store.Deployment {
		d := fixtureDeployment("dep-2", "model-2", store.DeploymentInProgress, baseTime)
		change(&d)
		return d
	}
	duplicate := fixtureDeployment("dep-1", "model-9", store.DeploymentInProgress, baseTime.Add(time.Hour))

	tests := []struct {
		name string
		d    store.Deployment
		want error
	}{
		{"empty id", with(func(d *store.Deployment) { d.ID = "" }), store.ErrInvalid},
		{"id with a slash", with(func(d *store.Deployment) { d.ID = "dep/2" }), store.ErrInvalid},
		{"id with a space", with(func(d *store.Deployment) { d.ID = "dep 2" }), store.ErrInvalid},
		{"id starting with a dash", with(func(d *store.Deployment) { d.ID = "-dep-2" }), store.ErrInvalid},
		{"id of 129 bytes", with(func(d *store.Deployment) { d.ID = strings.Repeat("d", 129) }), store.ErrInvalid},
		{"empty model id", with(func(d *store.Deployment) { d.ModelID = "" }), store.ErrInvalid},
		{"bad model id", with(func(d *store.Deployment) { d.ModelID = "../model-2" }), store.ErrInvalid},
		{"bad previous model id", with(func(d *store.Deployment) { d.PreviousModelID = "model 0" }), store.ErrInvalid},
		{"empty alias", with(func(d *store.Deployment) { d.Alias = "" }), store.ErrInvalid},
		{"bad alias", with(func(d *store.Deployment) { d.Alias = "live#1" }), store.ErrInvalid},
		{"empty environment", with(func(d *store.Deployment) { d.Environment = "" }), store.ErrInvalid},
		{"bad environment", with(func(d *store.Deployment) { d.Environment = "pr od" }), store.ErrInvalid},
		{"empty endpoint", with(func(d *store.Deployment) { d.Endpoint = "" }), store.ErrInvalid},
		{"bad endpoint", with(func(d *store.Deployment) { d.Endpoint = "a/b" }), store.ErrInvalid},
		{"event without a kind", with(func(d *store.Deployment) { d.Events = []store.DeploymentEvent{{Message: "?"}} }), store.ErrInvalid},
		{"alarms not JSON", with(func(d *store.Deployment) { d.Alarms = json.RawMessage(`[`) }), store.ErrInvalid},
		{"empty strategy", with(func(d *store.Deployment) { d.Strategy = "" }), store.ErrInvalid},
		{"unknown strategy", with(func(d *store.Deployment) { d.Strategy = "blue_green" }), store.ErrInvalid},
		{"empty status", with(func(d *store.Deployment) { d.Status = "" }), store.ErrInvalid},
		{"unknown status", with(func(d *store.Deployment) { d.Status = "DONE" }), store.ErrInvalid},
		{"job status", with(func(d *store.Deployment) { d.Status = store.DeploymentStatus(store.Running) }), store.ErrInvalid},
		{"traffic below 0", with(func(d *store.Deployment) { d.TrafficPercent = -1 }), store.ErrInvalid},
		{"traffic above 100", with(func(d *store.Deployment) { d.TrafficPercent = 101 }), store.ErrInvalid},
		{"pending with traffic", with(func(d *store.Deployment) {
			d.Status, d.TrafficPercent = store.DeploymentPending, 10
		}), store.ErrInvalid},
		{"succeeded below 100", with(func(d *store.Deployment) {
			d.Status, d.TrafficPercent = store.DeploymentSucceeded, 50
		}), store.ErrInvalid},
		{"rolled back with traffic", with(func(d *store.Deployment) {
			d.Status, d.TrafficPercent = store.DeploymentRolledBack, 10
		}), store.ErrInvalid},
		{"config not JSON", with(func(d *store.Deployment) { d.Config = json.RawMessage(`{"canary_percent":`) }), store.ErrInvalid},
		{"gates not JSON", with(func(d *store.Deployment) { d.Gates = json.RawMessage(`passed`) }), store.ErrInvalid},
		{"result not JSON", with(func(d *store.Deployment) { d.Result = json.RawMessage(`{]`) }), store.ErrInvalid},
		{"duplicate id", duplicate, store.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			require.NoError(t, s.CreateDeployment(t.Context(), existing))
			err := s.CreateDeployment(t.Context(), tc.d)
			require.ErrorIs(t, err, tc.want)

			assertUnchanged(t, s, existing)
			all, err := s.ListDeployments(t.Context(), store.DeploymentFilter{})
			require.NoError(t, err)
			assert.Len(t, all, 1, "a refused create stores nothing")
		})
	}
}

func testDeploymentTransitions(t *testing.T, newStore func(t *testing.T) DeploymentRecords) {
	for _, from := range allDeploymentStatuses {
		for _, to := range allDeploymentStatuses {
			allowed := allowedDeploymentTransition(from, to)
			t.Run(fmt.Sprintf("%s to %s", from, to), func(t *testing.T) {
				assert.Equal(t, allowed, from.CanTransition(to), "store.DeploymentStatus.CanTransition")

				s := newStore(t)
				d := fixtureDeployment("dep-1", "model-1", from, baseTime)
				require.NoError(t, s.CreateDeployment(t.Context(), d))
				got, err := s.UpdateDeployment(t.Context(), d.ID, store.DeploymentUpdate{Status: to})
				if !allowed {
					require.ErrorIs(t, err, store.ErrConflict)
					assertUnchanged(t, s, d)
					return
				}
				require.NoError(t, err)
				want := d
				want.Status = to
				switch to {
				case store.DeploymentSucceeded:
					want.TrafficPercent = 100
				case store.DeploymentRolledBack:
					want.TrafficPercent = 0
				}
				assertDeployment(t, want, got)
				assert.True(t, got.UpdatedAt.After(baseTime), "updated_at moves forward, got %s", got.UpdatedAt)
				stored, err := s.GetDeployment(t.Context(), d.ID)
				require.NoError(t, err)
				assertDeployment(t, want, stored)
			})
		}
	}
}

func testDeploymentTraffic(t *testing.T, newStore func(t *testing.T) DeploymentRecords) {
	tests := []struct {
		name   string
		from   store.DeploymentStatus
		update store.DeploymentUpdate
		// want is the traffic percent after the update, or err the refusal.
		want int
		err  error
	}{
		{"shift while in progress", store.DeploymentInProgress, store.DeploymentUpdate{TrafficPercent: percent(25)}, 25, nil},
		{"shift to 0 while in progress", store.DeploymentInProgress, store.DeploymentUpdate{TrafficPercent: percent(0)}, 0, nil},
		{"shift to 100 while in progress", store.DeploymentInProgress, store.DeploymentUpdate{TrafficPercent: percent(100)}, 100, nil},
		{"first shift starts the deployment", store.DeploymentPending,
			store.DeploymentUpdate{Status: store.DeploymentInProgress, TrafficPercent: percent(10)}, 10, nil},
		{"start without a shift", store.DeploymentPending, store.DeploymentUpdate{Status: store.DeploymentInProgress}, 0, nil},
		{"fail mid-shift, recording where it stood", store.DeploymentInProgress,
			store.DeploymentUpdate{Status: store.DeploymentFailed, TrafficPercent: percent(40)}, 40, nil},
		{"start rolling back", store.DeploymentInProgress,
			store.DeploymentUpdate{Status: store.DeploymentRollingBack, TrafficPercent: percent(30)}, 30, nil},
		{"promotion sets 100", store.DeploymentInProgress, store.DeploymentUpdate{Status: store.DeploymentSucceeded}, 100, nil},
		{"promotion with 100", store.DeploymentInProgress,
			store.DeploymentUpdate{Status: store.DeploymentSucceeded, TrafficPercent: percent(100)}, 100, nil},
		{"rollback done sets 0", store.DeploymentRollingBack, store.DeploymentUpdate{Status: store.DeploymentRolledBack}, 0, nil},
		{"rollback done with 0", store.DeploymentRollingBack,
			store.DeploymentUpdate{Status: store.DeploymentRolledBack, TrafficPercent: percent(0)}, 0, nil},

		{"below 0", store.DeploymentInProgress, store.DeploymentUpdate{TrafficPercent: percent(-1)}, 0, store.ErrInvalid},
		{"above 100", store.DeploymentInProgress, store.DeploymentUpdate{TrafficPercent: percent(101)}, 0, store.ErrInvalid},
		{"promotion below 100", store.DeploymentInProgress,
			store.DeploymentUpdate{Status: store.DeploymentSucceeded, TrafficPercent: percent(50)}, 0, store.ErrInvalid},
		{"rollback done with traffic left", store.DeploymentRollingBack,
			store.DeploymentUpdate{Status: store.DeploymentRolledBack, TrafficPercent: percent(5)}, 0, store.ErrInvalid},
		{"shift while pending", store.DeploymentPending, store.DeploymentUpdate{TrafficPercent: percent(10)}, 0, store.ErrConflict},
		{"fail a pending one with traffic", store.DeploymentPending,
			store.DeploymentUpdate{Status: store.DeploymentFailed, TrafficPercent: percent(10)}, 0, store.ErrConflict},
		{"shift while rolling back", store.DeploymentRollingBack, store.DeploymentUpdate{TrafficPercent: percent(0)}, 0, store.ErrConflict},
		{"fail a rollback with traffic", store.DeploymentRollingBack,
			store.DeploymentUpdate{Status: store.DeploymentFailed, TrafficPercent: percent(10)}, 0, store.ErrConflict},
		{"shift after failure", store.DeploymentFailed, store.DeploymentUpdate{TrafficPercent: percent(0)}, 0, store.ErrConflict},
		{"shift after promotion", store.DeploymentSucceeded, store.DeploymentUpdate{TrafficPercent: percent(90)}, 0, store.ErrConflict},
		{"shift after rollback", store.DeploymentRolledBack, store.DeploymentUpdate{TrafficPercent: percent(10)}, 0, store.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			d := fixtureDeployment("dep-1", "model-1", tc.from, baseTime)
			require.NoError(t, s.CreateDeployment(t.Context(), d))
			got, err := s.UpdateDeployment(t.Context(), d.ID, tc.update)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				assertUnchanged(t, s, d)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.TrafficPercent, "returned")
			stored, err := s.GetDeployment(t.Context(), d.ID)
			require.NoError(t, err)
			assert.Equal(t, tc.want, stored.TrafficPercent, "stored")
		})
	}
}

func testUpdateDeploymentRefuses(t *testing.T, newStore func(t *testing.T) DeploymentRecords) {
	tests := []struct {
		name   string
		id     string
		update store.DeploymentUpdate
		want   error
	}{
		{"unknown status", "dep-1", store.DeploymentUpdate{Status: "DONE"}, store.ErrInvalid},
		{"job status", "dep-1", store.DeploymentUpdate{Status: store.DeploymentStatus(store.Cancelled)}, store.ErrInvalid},
		{"gates not JSON", "dep-1", store.DeploymentUpdate{Gates: json.RawMessage(`{"min_auc_roc":`)}, store.ErrInvalid},
		{"result not JSON", "dep-1", store.DeploymentUpdate{Status: store.DeploymentSucceeded, Result: json.RawMessage(`ok`)}, store.ErrInvalid},
		{"alarms not JSON", "dep-1", store.DeploymentUpdate{Alarms: json.RawMessage(`{`)}, store.ErrInvalid},
		{"event without a kind", "dep-1", store.DeploymentUpdate{AddEvents: []store.DeploymentEvent{{Message: "x"}}}, store.ErrInvalid},
		{"empty id", "", store.DeploymentUpdate{Stage: "bake"}, store.ErrInvalid},
		{"bad id", "dep/1", store.DeploymentUpdate{Stage: "bake"}, store.ErrInvalid},
		{"missing, status change", "no-such-deployment", store.DeploymentUpdate{Status: store.DeploymentSucceeded}, store.ErrNotFound},
		{"missing, field change", "no-such-deployment", store.DeploymentUpdate{Stage: "bake"}, store.ErrNotFound},
		{"missing, traffic", "no-such-deployment", store.DeploymentUpdate{TrafficPercent: percent(50)}, store.ErrNotFound},
		{"missing, to PENDING", "no-such-deployment", store.DeploymentUpdate{Status: store.DeploymentPending}, store.ErrNotFound},
		{"back to PENDING", "dep-1", store.DeploymentUpdate{Status: store.DeploymentPending}, store.ErrConflict},
		{"IN_PROGRESS again", "dep-1", store.DeploymentUpdate{Status: store.DeploymentInProgress}, store.ErrConflict},
		{"ROLLED_BACK without ROLLING_BACK", "dep-1", store.DeploymentUpdate{Status: store.DeploymentRolledBack}, store.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			d := fixtureDeployment("dep-1", "model-1", store.DeploymentInProgress, baseTime)
			require.NoError(t, s.CreateDeployment(t.Context(), d))
			_, err := s.UpdateDeployment(t.Context(), tc.id, tc.update)
			require.ErrorIs(t, err, tc.want)
			assertUnchanged(t, s, d)
		})
	}
}

func testFinishedDeploymentFrozen(t *testing.T, newStore func(t *testing.T) DeploymentRecords) {
	late := []struct {
		name   string
		update store.DeploymentUpdate
	}{
		{"PENDING", store.DeploymentUpdate{Status: store.DeploymentPending}},
		{"duplicated IN_PROGRESS", store.DeploymentUpdate{Status: store.DeploymentInProgress, Stage: "shift"}},
		{"SUCCEEDED", store.DeploymentUpdate{Status: store.DeploymentSucceeded}},
		{"FAILED", store.DeploymentUpdate{Status: store.DeploymentFailed, Error: "late failure"}},
		{"ROLLING_BACK", store.DeploymentUpdate{Status: store.DeploymentRollingBack}},
		{"ROLLED_BACK", store.DeploymentUpdate{Status: store.DeploymentRolledBack}},
		{"stage", store.DeploymentUpdate{Stage: "bake"}},
		{"traffic", store.DeploymentUpdate{TrafficPercent: percent(50)}},
		{"version", store.DeploymentUpdate{Version: "8"}},
		{"gates", store.DeploymentUpdate{Gates: json.RawMessage(`{"overwritten":true}`)}},
		{"result", store.DeploymentUpdate{Result: json.RawMessage(`{"overwritten":true}`)}},
		{"error", store.DeploymentUpdate{Error: "late error"}},
		{"alarms", store.DeploymentUpdate{Alarms: json.RawMessage(`[]`)}},
		{"event", store.DeploymentUpdate{AddEvents: []store.DeploymentEvent{{Time: baseTime, Kind: "late"}}}},
		{"nothing", store.DeploymentUpdate{}},
	}
	// Each terminal status is reached by its last legal step, carrying the
	// fields a real finish writes.
	finishes := []struct {
		from, to store.DeploymentStatus
	}{
		{store.DeploymentInProgress, store.DeploymentSucceeded},
		{store.DeploymentInProgress, store.DeploymentFailed},
		{store.DeploymentPending, store.DeploymentFailed},
		{store.DeploymentRollingBack, store.DeploymentFailed},
		{store.DeploymentRollingBack, store.DeploymentRolledBack},
	}
	for _, f := range finishes {
		for _, tc := range late {
			t.Run(fmt.Sprintf("%s to %s then %s", f.from, f.to, tc.name), func(t *testing.T) {
				s := newStore(t)
				d := fixtureDeployment("dep-1", "model-1", f.from, baseTime)
				require.NoError(t, s.CreateDeployment(t.Context(), d))
				finished, err := s.UpdateDeployment(t.Context(), d.ID, store.DeploymentUpdate{
					Status: f.to,
					Stage:  "finish",
					Gates:  json.RawMessage(`{"min_auc_pr":{"want":0.8,"got":0.9,"passed":true}}`),
					Result: json.RawMessage(`{"outcome":"` + string(f.to) + `"}`),
					Error:  "reason " + string(f.to),
				})
				require.NoError(t, err)
				require.Equal(t, f.to, finished.Status)

				_, err = s.UpdateDeployment(t.Context(), d.ID, tc.update)
				require.ErrorIs(t, err, store.ErrConflict)
				assertUnchanged(t, s, finished)
			})
		}
	}
}

// testDeploymentLife walks a canary deployment from PENDING to SUCCEEDED
// and checks every returned and stored record on the way.
func testDeploymentLife(t *testing.T, newStore func(t *testing.T) DeploymentRecords) {
	s := newStore(t)
	d := fixtureDeployment("dep-1", "model-1", store.DeploymentPending, baseTime)
	require.NoError(t, s.CreateDeployment(t.Context(), d))

	gates := json.RawMessage(`{"min_auc_roc":{"want":0.9,"got":0.97,"passed":true}}`)
	result := json.RawMessage(`{"baked_seconds":300,"alarms":{"predict-errors":"OK"}}`)
	want := d
	steps := []struct {
		name   string
		update store.DeploymentUpdate
		apply  func(d *store.Deployment)
	}{
		{"gates pass while pending", store.DeploymentUpdate{Stage: "validate", Gates: gates},
			func(d *store.Deployment) { d.Gates = gates }},
		{"publish the version", store.DeploymentUpdate{Status: store.DeploymentInProgress, Stage: "publish", Version: "7",
			PreviousVersion: "5", AddEvents: []store.DeploymentEvent{{Time: baseTime, Kind: "published", Message: "version 7"}}},
			func(d *store.Deployment) {
				d.Status, d.Stage, d.Version, d.PreviousVersion = store.DeploymentInProgress, "publish", "7", "5"
				d.Events = append(d.Events, store.DeploymentEvent{Time: baseTime, Kind: "published", Message: "version 7"})
			}},
		{"canary shift", store.DeploymentUpdate{Stage: "shift", TrafficPercent: percent(10),
			AddEvents: []store.DeploymentEvent{
				{Time: baseTime.Add(time.Second), Kind: "shifted", Message: "10 %", Traffic: percent(10)},
				{Time: baseTime.Add(2 * time.Second), Kind: "bake", Message: "baking"},
			}},
			func(d *store.Deployment) {
				d.Stage, d.TrafficPercent = "shift", 10
				d.Events = append(d.Events,
					store.DeploymentEvent{Time: baseTime.Add(time.Second), Kind: "shifted", Message: "10 %", Traffic: percent(10)},
					store.DeploymentEvent{Time: baseTime.Add(2 * time.Second), Kind: "bake", Message: "baking"})
			}},
		{"bake", store.DeploymentUpdate{Stage: "bake", Alarms: json.RawMessage(`[{"name":"error_rate","value":0,"threshold":0.01}]`)},
			func(d *store.Deployment) {
				d.Stage, d.Alarms = "bake", json.RawMessage(`[{"name":"error_rate","value":0,"threshold":0.01}]`)
			}},
		{"empty update", store.DeploymentUpdate{}, func(*store.Deployment) {}},
		{"promote", store.DeploymentUpdate{Status: store.DeploymentSucceeded, Stage: "promote", Result: result},
			func(d *store.Deployment) {
				d.Status, d.Stage, d.Result, d.TrafficPercent = store.DeploymentSucceeded, "promote", result, 100
			}},
	}
	last := d.UpdatedAt
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			step.apply(&want)
			got, err := s.UpdateDeployment(t.Context(), d.ID, step.update)
			require.NoError(t, err)
			assertDeployment(t, want, got)
			assert.False(t, got.UpdatedAt.Before(last), "updated_at went back from %s to %s", last, got.UpdatedAt)
			last = got.UpdatedAt
			assertUnchanged(t, s, got)
		})
	}
}

func testConcurrentDeploymentTransitions(t *testing.T, newStore func(t *testing.T) DeploymentRecords) {
	tests := []struct {
		name    string
		from    store.DeploymentStatus
		targets []store.DeploymentStatus
	}{
		// No target may follow another, so exactly one writer can win.
		{"promote or fail", store.DeploymentInProgress,
			[]store.DeploymentStatus{store.DeploymentSucceeded, store.DeploymentFailed}},
		{"promote or roll back", store.DeploymentInProgress,
			[]store.DeploymentStatus{store.DeploymentSucceeded, store.DeploymentRollingBack}},
		{"start a pending deployment", store.DeploymentPending, []store.DeploymentStatus{store.DeploymentInProgress}},
		{"refuse a pending deployment", store.DeploymentPending, []store.DeploymentStatus{store.DeploymentFailed}},
		{"end a rollback", store.DeploymentRollingBack,
			[]store.DeploymentStatus{store.DeploymentRolledBack, store.DeploymentFailed}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			d := fixtureDeployment("dep-1", "model-1", tc.from, baseTime)
			require.NoError(t, s.CreateDeployment(t.Context(), d))

			errs := make([]error, concurrentWriters)
			updates := make([]store.DeploymentUpdate, concurrentWriters)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range concurrentWriters {
				updates[i] = store.DeploymentUpdate{
					Status: tc.targets[i%len(tc.targets)],
					Result: json.RawMessage(fmt.Sprintf(`{"writer":%d}`, i)),
				}
				wg.Go(func() {
					<-start
					_, errs[i] = s.UpdateDeployment(t.Context(), d.ID, updates[i])
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

			got, err := s.GetDeployment(t.Context(), d.ID)
			require.NoError(t, err)
			assert.Equal(t, updates[winner].Status, got.Status)
			assert.JSONEq(t, string(updates[winner].Result), string(got.Result))
		})
	}
}

// testTrafficRacingPromotion races traffic shifts with one promotion: a
// shift either lands before the promotion (and sees IN_PROGRESS) or is
// refused, so the promoted record always ends at 100 percent.
func testTrafficRacingPromotion(t *testing.T, newStore func(t *testing.T) DeploymentRecords) {
	s := newStore(t)
	d := fixtureDeployment("dep-1", "model-1", store.DeploymentInProgress, baseTime)
	require.NoError(t, s.CreateDeployment(t.Context(), d))

	const promoter = concurrentWriters / 2
	errs := make([]error, concurrentWriters)
	got := make([]store.Deployment, concurrentWriters)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range concurrentWriters {
		u := store.DeploymentUpdate{TrafficPercent: percent(i + 1)}
		if i == promoter {
			u = store.DeploymentUpdate{Status: store.DeploymentSucceeded}
		}
		wg.Go(func() {
			<-start
			got[i], errs[i] = s.UpdateDeployment(t.Context(), d.ID, u)
		})
	}
	close(start)
	wg.Wait()

	require.NoError(t, errs[promoter], "the promotion")
	for i, err := range errs {
		if i == promoter {
			continue
		}
		if err != nil {
			require.ErrorIs(t, err, store.ErrConflict, "shift %d", i)
			continue
		}
		assert.Equal(t, store.DeploymentInProgress, got[i].Status, "shift %d landed after the promotion", i)
		assert.Equal(t, i+1, got[i].TrafficPercent, "shift %d", i)
	}
	final, err := s.GetDeployment(t.Context(), d.ID)
	require.NoError(t, err)
	assert.Equal(t, store.DeploymentSucceeded, final.Status)
	assert.Equal(t, 100, final.TrafficPercent)
}

func testListDeployments(t *testing.T, newStore func(t *testing.T) DeploymentRecords) {
	t.Run("empty store", func(t *testing.T) {
		s := newStore(t)
		all, err := s.ListDeployments(t.Context(), store.DeploymentFilter{})
		require.NoError(t, err)
		assert.Empty(t, all)
	})

	// Inserted out of time order; dep-d and dep-e share a creation time, so
	// the id breaks the tie.
	staging := fixtureDeployment("dep-e", "model-2", store.DeploymentSucceeded, baseTime.Add(4*time.Second))
	staging.Alias = "staging"
	staging.Environment = "staging"
	fixtures := []store.Deployment{
		fixtureDeployment("dep-b", "model-1", store.DeploymentFailed, baseTime.Add(2*time.Second)),
		fixtureDeployment("dep-a", "model-1", store.DeploymentSucceeded, baseTime.Add(1*time.Second)),
		fixtureDeployment("dep-d", "model-1", store.DeploymentInProgress, baseTime.Add(4*time.Second)),
		fixtureDeployment("dep-c", "model-2", store.DeploymentRolledBack, baseTime.Add(3*time.Second+500*time.Millisecond)),
		staging,
	}
	tests := []struct {
		name   string
		filter store.DeploymentFilter
		want   []string
		err    error
	}{
		{"all", store.DeploymentFilter{}, []string{"dep-e", "dep-d", "dep-c", "dep-b", "dep-a"}, nil},
		{"limit below count", store.DeploymentFilter{Limit: 2}, []string{"dep-e", "dep-d"}, nil},
		{"limit above count", store.DeploymentFilter{Limit: 10}, []string{"dep-e", "dep-d", "dep-c", "dep-b", "dep-a"}, nil},
		{"one model", store.DeploymentFilter{ModelID: "model-1"}, []string{"dep-d", "dep-b", "dep-a"}, nil},
		{"other model", store.DeploymentFilter{ModelID: "model-2"}, []string{"dep-e", "dep-c"}, nil},
		{"one model, limited", store.DeploymentFilter{ModelID: "model-1", Limit: 2}, []string{"dep-d", "dep-b"}, nil},
		{"one alias", store.DeploymentFilter{Alias: store.LiveAlias}, []string{"dep-d", "dep-c", "dep-b", "dep-a"}, nil},
		{"model and alias", store.DeploymentFilter{ModelID: "model-2", Alias: store.LiveAlias}, []string{"dep-c"}, nil},
		{"one environment", store.DeploymentFilter{Environment: "staging"}, []string{"dep-e"}, nil},
		{"environment and endpoint", store.DeploymentFilter{Environment: "dev", Endpoint: "pulsars"}, []string{"dep-d", "dep-c", "dep-b", "dep-a"}, nil},
		{"other endpoint", store.DeploymentFilter{Endpoint: "other"}, []string{}, nil},
		{"bad endpoint", store.DeploymentFilter{Endpoint: "a b"}, nil, store.ErrInvalid},
		{"model never deployed", store.DeploymentFilter{ModelID: "model-9"}, []string{}, nil},
		{"negative limit", store.DeploymentFilter{Limit: -1}, nil, store.ErrInvalid},
		{"bad model id", store.DeploymentFilter{ModelID: "model 1"}, nil, store.ErrInvalid},
		{"bad alias", store.DeploymentFilter{Alias: "live/x"}, nil, store.ErrInvalid},
	}
	s := newStore(t)
	for _, d := range fixtures {
		require.NoError(t, s.CreateDeployment(t.Context(), d))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListDeployments(t.Context(), tc.filter)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			ids := make([]string, len(got))
			for i, d := range got {
				ids[i] = d.ID
				assert.NotEmpty(t, d.Config, "listed deployments carry their fields")
			}
			assert.Equal(t, tc.want, ids)
		})
	}
}

func testLiveDeployment(t *testing.T, newStore func(t *testing.T) DeploymentRecords) {
	const env, endpoint = store.DefaultEnvironment, "pulsars"
	t.Run("refuses", func(t *testing.T) {
		s := newStore(t)
		_, err := s.LiveDeployment(t.Context(), env, endpoint)
		require.ErrorIs(t, err, store.ErrNotFound, "no deployments")
		_, err = s.LiveDeployment(t.Context(), env, "")
		require.ErrorIs(t, err, store.ErrInvalid)
		_, err = s.LiveDeployment(t.Context(), "", endpoint)
		require.ErrorIs(t, err, store.ErrInvalid)
		_, err = s.LiveDeployment(t.Context(), env, "live endpoint")
		require.ErrorIs(t, err, store.ErrInvalid)
	})

	t.Run("the one that succeeded last", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		// dep-old was promoted before any of the others started.
		old := fixtureDeployment("dep-old", "model-0", store.DeploymentSucceeded, baseTime)
		require.NoError(t, s.CreateDeployment(ctx, old))
		got, err := s.LiveDeployment(ctx, env, endpoint)
		require.NoError(t, err)
		assert.Equal(t, "dep-old", got.ID)

		for i, id := range []string{"dep-a", "dep-b", "dep-c", "dep-d"} {
			d := fixtureDeployment(id, "model-"+id[len(id)-1:], store.DeploymentInProgress, baseTime.Add(time.Duration(i+1)*time.Minute))
			require.NoError(t, s.CreateDeployment(ctx, d))
		}
		other := fixtureDeployment("dep-staging", "model-s", store.DeploymentInProgress, baseTime.Add(time.Hour))
		other.Environment = "staging"
		require.NoError(t, s.CreateDeployment(ctx, other))
		elsewhere := fixtureDeployment("dep-elsewhere", "model-x", store.DeploymentInProgress, baseTime.Add(2*time.Hour))
		elsewhere.Endpoint = "other"
		require.NoError(t, s.CreateDeployment(ctx, elsewhere))

		promote := func(id string) {
			t.Helper()
			_, err := s.UpdateDeployment(ctx, id, store.DeploymentUpdate{Status: store.DeploymentSucceeded})
			require.NoError(t, err)
		}
		live := func(environment, endpoint, want string) {
			t.Helper()
			got, err := s.LiveDeployment(ctx, environment, endpoint)
			require.NoError(t, err)
			assert.Equal(t, want, got.ID, "live deployment of %s in %s", endpoint, environment)
			assert.Equal(t, store.DeploymentSucceeded, got.Status)
			assert.Equal(t, 100, got.TrafficPercent)
		}

		// dep-b, created after dep-a, is promoted first: what serves is what
		// was promoted last, whatever the creation order.
		promote("dep-b")
		live(env, endpoint, "dep-b")
		promote("dep-a")
		live(env, endpoint, "dep-a")

		// Deployments that fail or roll back do not change what serves.
		_, err = s.UpdateDeployment(ctx, "dep-c", store.DeploymentUpdate{Status: store.DeploymentFailed, Error: "gate"})
		require.NoError(t, err)
		_, err = s.UpdateDeployment(ctx, "dep-d", store.DeploymentUpdate{Status: store.DeploymentRollingBack})
		require.NoError(t, err)
		_, err = s.UpdateDeployment(ctx, "dep-d", store.DeploymentUpdate{Status: store.DeploymentRolledBack})
		require.NoError(t, err)
		live(env, endpoint, "dep-a")

		// Another environment and another endpoint have their own history.
		_, err = s.LiveDeployment(ctx, "staging", endpoint)
		require.ErrorIs(t, err, store.ErrNotFound, "staging has no promoted deployment yet")
		promote("dep-staging")
		live("staging", endpoint, "dep-staging")
		promote("dep-elsewhere")
		live(env, "other", "dep-elsewhere")
		live(env, endpoint, "dep-a")
	})
}

// testConcurrentEvents appends events from many writers at once: every one
// is kept.
func testConcurrentEvents(t *testing.T, newStore func(t *testing.T) DeploymentRecords) {
	s := newStore(t)
	d := fixtureDeployment("dep-1", "model-1", store.DeploymentInProgress, baseTime)
	require.NoError(t, s.CreateDeployment(t.Context(), d))
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, concurrentWriters)
	for i := range concurrentWriters {
		wg.Go(func() {
			<-start
			_, errs[i] = s.UpdateDeployment(t.Context(), d.ID, store.DeploymentUpdate{AddEvents: []store.DeploymentEvent{
				{Time: baseTime, Kind: "check", Message: fmt.Sprintf("writer %d", i)},
			}})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "writer %d", i)
	}
	got, err := s.GetDeployment(t.Context(), d.ID)
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, e := range got.Events {
		seen[e.Message] = true
	}
	assert.Len(t, seen, concurrentWriters, "every writer's event is kept")
}

package store_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
)

func TestCheckID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"dep-1", true},
		{"trn-20260301T120000Z-7f3a", true},
		{"model_1.v2", true},
		{"7", true},
		{strings.Repeat("a", store.MaxIDBytes), true},
		{"", false},
		{strings.Repeat("a", store.MaxIDBytes+1), false},
		{"-dep", false},
		{".dep", false},
		{"_dep", false},
		{"dep/1", false},
		{"dep 1", false},
		{"dep#1", false},
		{"dép", false},
		{"dep\x00", false},
	}
	for _, tc := range tests {
		err := store.CheckID("deployment id", tc.id)
		if tc.ok {
			assert.NoError(t, err, "%q", tc.id)
			continue
		}
		require.ErrorIs(t, err, store.ErrInvalid, "%q", tc.id)
		assert.ErrorContains(t, err, "deployment id", "the error names what is wrong")
	}
}

func TestDeploymentStatus(t *testing.T) {
	terminal := map[store.DeploymentStatus]bool{
		store.DeploymentSucceeded: true, store.DeploymentFailed: true, store.DeploymentRolledBack: true,
	}
	for _, s := range store.DeploymentStatuses() {
		assert.True(t, s.Known(), s)
		assert.Equal(t, terminal[s], s.Terminal(), s)
		for _, next := range store.DeploymentStatuses() {
			if s.Terminal() {
				assert.False(t, s.CanTransition(next), "%s is terminal but may become %s", s, next)
			}
		}
	}
	for _, s := range []store.DeploymentStatus{"", "DONE", "QUEUED", "RUNNING", "CANCELLED", "pending"} {
		assert.False(t, s.Known(), "%q", s)
	}
}

// TestDeploymentUpdateWritableFrom pins the statuses each kind of update may
// be written from, the condition every adapter puts in its write.
func TestDeploymentUpdateWritableFrom(t *testing.T) {
	pct := func(p int) *int { return &p }
	type st = store.DeploymentStatus
	tests := []struct {
		name string
		u    store.DeploymentUpdate
		want []st
	}{
		{"fields only", store.DeploymentUpdate{Stage: "bake"},
			[]st{store.DeploymentPending, store.DeploymentInProgress, store.DeploymentRollingBack}},
		{"traffic only", store.DeploymentUpdate{TrafficPercent: pct(20)}, []st{store.DeploymentInProgress}},
		{"start", store.DeploymentUpdate{Status: store.DeploymentInProgress}, []st{store.DeploymentPending}},
		{"start with a shift", store.DeploymentUpdate{Status: store.DeploymentInProgress, TrafficPercent: pct(10)},
			[]st{store.DeploymentPending}},
		{"fail", store.DeploymentUpdate{Status: store.DeploymentFailed},
			[]st{store.DeploymentPending, store.DeploymentInProgress, store.DeploymentRollingBack}},
		{"fail with traffic", store.DeploymentUpdate{Status: store.DeploymentFailed, TrafficPercent: pct(40)},
			[]st{store.DeploymentInProgress}},
		{"promote", store.DeploymentUpdate{Status: store.DeploymentSucceeded, TrafficPercent: pct(100)},
			[]st{store.DeploymentInProgress}},
		{"rolled back", store.DeploymentUpdate{Status: store.DeploymentRolledBack, TrafficPercent: pct(0)},
			[]st{store.DeploymentRollingBack}},
		{"back to pending", store.DeploymentUpdate{Status: store.DeploymentPending}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, tc.u.Check())
			assert.Equal(t, tc.want, tc.u.WritableFrom())
		})
	}
}

func TestDeploymentJSON(t *testing.T) {
	created := time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)
	d := store.Deployment{
		ID: "dep-1", ModelID: "model-2", PreviousModelID: "model-1", Alias: store.LiveAlias,
		Environment: "dev", Endpoint: "pulsars", Strategy: store.StrategyLinear, Version: "8", PreviousVersion: "7", TrafficPercent: 30,
		Status: store.DeploymentInProgress, Stage: "shift",
		Config: json.RawMessage(`{"linear_step_percent":10}`), Gates: json.RawMessage(`{"passed":true}`),
		Result: json.RawMessage(`{}`), Error: "", CreatedAt: created, UpdatedAt: created.Add(time.Minute),
	}
	require.NoError(t, d.Check())
	raw, err := json.Marshal(d)
	require.NoError(t, err)
	assert.JSONEq(t, `{"deployment_id":"dep-1","model_id":"model-2","previous_model_id":"model-1","alias":"live",
		"environment":"dev","endpoint":"pulsars","strategy":"linear","version":"8","previous_version":"7","traffic_percent":30,"status":"IN_PROGRESS",
		"stage":"shift","config":{"linear_step_percent":10},"gates":{"passed":true},"result":{},
		"created_at":"2026-03-01T12:00:00Z","updated_at":"2026-03-01T12:01:00Z"}`, string(raw))
	var back store.Deployment
	require.NoError(t, json.Unmarshal(raw, &back))
	assert.Equal(t, d.ID, back.ID)
	assert.Equal(t, d.TrafficPercent, back.TrafficPercent)
	assert.True(t, d.UpdatedAt.Equal(back.UpdatedAt))
}

func TestDeploymentUpdateRefusedReason(t *testing.T) {
	pct := func(p int) *int { return &p }
	tests := []struct {
		u      store.DeploymentUpdate
		stored store.DeploymentStatus
		want   string
	}{
		{store.DeploymentUpdate{Status: store.DeploymentSucceeded}, store.DeploymentFailed, "status FAILED cannot become SUCCEEDED"},
		{store.DeploymentUpdate{Stage: "bake"}, store.DeploymentSucceeded, "SUCCEEDED and can no longer change"},
		{store.DeploymentUpdate{TrafficPercent: pct(10)}, store.DeploymentPending, "traffic percent changes only while IN_PROGRESS"},
		{store.DeploymentUpdate{TrafficPercent: pct(10)}, store.DeploymentInProgress, "another writer"},
	}
	for _, tc := range tests {
		assert.Contains(t, tc.u.RefusedReason(tc.stored), tc.want)
	}
}

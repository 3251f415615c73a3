package deploymentjob_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/deploymentjob"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/deployment"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/filestore"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
)

// starts records the executions the service starts (or refuses them).
type starts struct {
	inputs []pipeline.DeploymentInput
	err    error
}

func (s *starts) StartDeployment(_ context.Context, in pipeline.DeploymentInput) error {
	if s.err != nil {
		return s.err
	}
	s.inputs = append(s.inputs, in)
	return nil
}

// fixedTraffic is a traffic window fixed by the test.
type fixedTraffic map[string]deployment.VersionStats

func (f fixedTraffic) Window(context.Context, string, string, []string, time.Duration) (map[string]deployment.VersionStats, error) {
	return f, nil
}

func newService(t *testing.T) (*deploymentjob.Service, *sqlitestore.DB, *starts) {
	t.Helper()
	db, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "orrery.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	files, err := filestore.New(t.TempDir())
	require.NoError(t, err)
	for _, id := range []string{"mdl-a", "mdl-b"} {
		require.NoError(t, db.RegisterModel(t.Context(), store.Model{ID: id, Name: "HTRU2 pulsars", ArtifactKey: "models/" + id}))
	}
	st := &starts{}
	return &deploymentjob.Service{Records: db, Endpoints: db, Models: db, Artifacts: files, Aliases: db, Starter: st}, db, st
}

func request(model string) deployment.Request {
	r := deployment.Defaults()
	r.ModelID = model
	return r
}

// TestDeployBindsTheManifestDigest: the version a deployment publishes is
// bound to the model and to the digest the registry kept of its manifest,
// which the predict function checks when it loads the model.
func TestDeployBindsTheManifestDigest(t *testing.T) {
	svc, db, st := newService(t)
	sum := strings.Repeat("ab", 32)
	require.NoError(t, db.RegisterModel(t.Context(), store.Model{ID: "mdl-d", Name: "digested", ArtifactKey: "models/mdl-d", ManifestSHA256: sum}))
	_, err := svc.Deploy(t.Context(), request("mdl-d"))
	require.NoError(t, err)
	require.Len(t, st.inputs, 1)
	assert.Equal(t, map[string]string{config.EnvModelID: "mdl-d", config.EnvModelManifestSHA256: sum}, st.inputs[0].ModelEnv)
}

func TestDeploy(t *testing.T) {
	svc, db, st := newService(t)
	ctx := t.Context()
	d, err := svc.Deploy(ctx, request("mdl-a"))
	require.NoError(t, err)
	assert.Equal(t, "HTRU2-pulsars", d.Endpoint, "the endpoint defaults to the model's name")
	assert.Equal(t, store.DeploymentPending, d.Status)
	assert.Equal(t, store.StrategyAllAtOnce, d.Strategy, "the endpoint's first deployment")
	require.Len(t, st.inputs, 1)
	in := st.inputs[0]
	assert.Equal(t, d.ID, in.DeploymentID)
	assert.Equal(t, "orrery-dev-predict", in.FunctionName)
	assert.Equal(t, "HTRU2-pulsars", in.Endpoint)
	assert.Equal(t, map[string]string{"ORRERY_MODEL_ID": "mdl-a"}, in.ModelEnv, "a model registered without a digest")
	assert.Len(t, in.CreatedAlarms, len(deployment.AlarmKinds))
	assert.True(t, in.AutoRollback)
	ep, err := db.GetEndpoint(ctx, "dev", "HTRU2-pulsars")
	require.NoError(t, err)
	assert.Equal(t, d.ID, ep.LockedBy)

	for name, tc := range map[string]struct {
		req  deployment.Request
		want error
	}{
		"unknown model":      {request("mdl-zzz"), store.ErrNotFound},
		"locked endpoint":    {request("mdl-b"), deploymentjob.ErrLocked},
		"bad request":        {func() deployment.Request { r := request("mdl-b"); r.CanaryPercent = 0; return r }(), deployment.ErrInvalidRequest},
		"unknown strategy":   {func() deployment.Request { r := request("mdl-b"); r.Strategy = "shadow"; return r }(), deployment.ErrInvalidRequest},
		"other endpoint, ok": {func() deployment.Request { r := request("mdl-b"); r.Endpoint = "other"; return r }(), nil},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := svc.Deploy(ctx, tc.req)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
			if errors.Is(tc.want, deploymentjob.ErrLocked) {
				assert.Contains(t, err.Error(), d.ID, "the conflict names the deployment holding the endpoint")
				assert.Equal(t, fault.Conflict, fault.CodeOf(err))
			}
		})
	}

	t.Run("an environment the runtime does not serve", func(t *testing.T) {
		aws := *svc
		aws.Target = &deploymentjob.Target{Environments: []string{"prod"}, FunctionName: func(string) string { return "orrery-prod-predict" },
			AlarmPrefix: func(string) string { return "orrery-prod" }}
		_, err := aws.Deploy(ctx, request("mdl-b"))
		require.ErrorIs(t, err, deploymentjob.ErrNotServed)
		assert.Equal(t, "environment", deployment.FieldOf(err).Field)
	})

	t.Run("an execution that cannot start fails the deployment and frees the endpoint", func(t *testing.T) {
		failing := *svc
		failing.Starter = &starts{err: errors.New("step functions is down")}
		r := request("mdl-b")
		r.Endpoint = "flaky"
		_, err := failing.Deploy(ctx, r)
		require.ErrorIs(t, err, deploymentjob.ErrStart)
		all, err := db.ListDeployments(ctx, store.DeploymentFilter{Endpoint: "flaky"})
		require.NoError(t, err)
		require.Len(t, all, 1)
		assert.Equal(t, store.DeploymentFailed, all[0].Status)
		assert.Contains(t, all[0].Error, "step functions is down")
		ep, err := db.GetEndpoint(ctx, "dev", "flaky")
		require.NoError(t, err)
		assert.False(t, ep.Locked(time.Now()))
	})
}

// TestStepsKeepTheRecord walks a canary's steps as its execution would,
// with the LocalCloud moving the endpoint, and checks the record, the
// endpoint, the registry's aliases and the alarm readings at each.
func TestStepsKeepTheRecord(t *testing.T) {
	svc, db, st := newService(t)
	ctx := t.Context()
	// mdl-a is live: a promoted first deployment.
	first, err := svc.Deploy(ctx, request("mdl-a"))
	require.NoError(t, err)
	cloud := deploymentjob.LocalCloud{Service: svc}.Services()
	call := func(h func(context.Context, json.RawMessage) (json.RawMessage, error), body string) map[string]any {
		t.Helper()
		out, err := h(ctx, json.RawMessage(body))
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(out, &m))
		return m
	}
	pct := func(p int) *int { return &p }
	call(cloud.UpdateAlias, `{"FunctionName": "orrery-dev-predict", "Name": "HTRU2-pulsars", "FunctionVersion": "mdl-a",
		"Description": "orrery deployment `+first.ID+`", "RoutingConfig": {"AdditionalVersionWeights": {}}}`)
	_, err = svc.Step(ctx, deployment.StepRequest{Step: deployment.StepShifted, DeploymentID: first.ID, Percent: pct(100)})
	require.NoError(t, err)
	_, err = svc.Step(ctx, deployment.StepRequest{Step: deployment.StepPromote, DeploymentID: first.ID})
	require.NoError(t, err)

	r := request("mdl-b")
	r.CanaryPercent, r.BakeSeconds = 20, 30
	d, err := svc.Deploy(ctx, r)
	require.NoError(t, err)
	require.Len(t, st.inputs, 2)
	assert.Equal(t, "mdl-a", d.PreviousModelID)
	assert.Equal(t, store.StrategyCanary, d.Strategy)

	alias := call(cloud.GetAlias, `{"FunctionName": "orrery-dev-predict", "Name": "HTRU2-pulsars"}`)
	assert.Equal(t, "mdl-a", alias["FunctionVersion"], "what a rollback returns to")
	version := call(cloud.PublishVersion, `{"FunctionName": "orrery-dev-predict", "Description": "orrery model mdl-b (deployment `+d.ID+`)"}`)
	assert.Equal(t, "mdl-b", version["Version"])
	assert.Equal(t, map[string]any{"ORRERY_MODEL_ID": "mdl-b"}, version["Environment"].(map[string]any)["Variables"])

	call(cloud.UpdateAlias, `{"FunctionName": "orrery-dev-predict", "Name": "HTRU2-pulsars", "FunctionVersion": "mdl-a",
		"Description": "orrery deployment `+d.ID+`", "RoutingConfig": {"AdditionalVersionWeights": {"mdl-b": 0.2}}}`)
	ep, err := db.GetEndpoint(ctx, "dev", "HTRU2-pulsars")
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"mdl-a": 80, "mdl-b": 20}, ep.Routes)
	_, err = cloud.UpdateAlias(ctx, json.RawMessage(`{"FunctionName": "orrery-dev-predict", "Name": "HTRU2-pulsars", "FunctionVersion": "mdl-b",
		"Description": "orrery deployment dep-someone-else"}`))
	require.ErrorIs(t, err, deploymentjob.ErrLocked, "another deployment may not move a locked endpoint")

	_, err = svc.Step(ctx, deployment.StepRequest{Step: deployment.StepShifted, DeploymentID: d.ID, Percent: pct(20), Stage: deployment.StageBake})
	require.NoError(t, err)
	got, err := db.GetDeployment(ctx, d.ID)
	require.NoError(t, err)
	assert.Equal(t, store.DeploymentInProgress, got.Status)
	assert.Equal(t, 20, got.TrafficPercent)
	aliases, err := db.ListModelAliases(ctx, "dev")
	require.NoError(t, err)
	byAlias := map[string]string{}
	for _, a := range aliases {
		byAlias[a.Alias] = a.ModelID
	}
	live := store.LiveRegistryAlias("HTRU2-pulsars")
	assert.Equal(t, "live-HTRU2-pulsars", live)
	assert.Equal(t, map[string]string{store.AliasChampion: "mdl-a", store.AliasChallenger: "mdl-b", live: "mdl-a"}, byAlias,
		"live names what the endpoint serves until a promotion moves it")

	// A check reads the traffic: an inverted score histogram drifts.
	var good, inverted deployment.VersionStats
	good.Requests, good.ScoreHistogram[0], good.ScoreHistogram[19] = 400, 360, 40
	inverted.Requests, inverted.ScoreHistogram[0], inverted.ScoreHistogram[19] = 100, 10, 90
	svc.Traffic = fixedTraffic{"mdl-a": good, "mdl-b": inverted}
	out, err := svc.Step(ctx, deployment.StepRequest{Step: deployment.StepCheck, DeploymentID: d.ID, Percent: pct(20), Stage: deployment.StageBake, Check: pct(2)})
	require.NoError(t, err)
	assert.Equal(t, []string{deployment.AlarmName("orrery-dev", d.ID, deployment.AlarmScoreDrift)}, out.Firing)
	alarms := call(cloud.DescribeAlarms, `{"AlarmNames": ["`+deployment.AlarmName("orrery-dev", d.ID, deployment.AlarmScoreDrift)+`", "orrery-dev-someone-elses"]}`)
	list := alarms["MetricAlarms"].([]any)
	require.Len(t, list, 1, "only the deployment's own alarms exist locally")
	assert.Equal(t, "ALARM", list[0].(map[string]any)["StateValue"])
	status, err := svc.Status(ctx, d.ID)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"mdl-a": 80, "mdl-b": 20}, status.Traffic)
	require.NotNil(t, status.Bake)
	assert.Equal(t, 20, status.Bake.Percent)
	assert.Equal(t, 30, status.Bake.Seconds)
	var psi deployment.Reading
	for _, a := range status.Alarms {
		if a.Kind == deployment.AlarmScoreDrift {
			psi = a
		}
	}
	assert.Equal(t, deployment.StateAlarm, psi.State)
	assert.Greater(t, psi.Value, psi.Threshold)
	var alarmEvent string
	for _, e := range status.Events {
		if e.Kind == "alarm" {
			alarmEvent = e.Message
		}
	}
	assert.Contains(t, alarmEvent, "check 3 of 10 at 20 % (9 s of 30 s)")

	// The rollback: all traffic back, ROLLED_BACK with the reason, an alert,
	// the lock released, the challenger gone.
	failure := &fault.Failure{Error: deployment.ErrorAlarmFired, Cause: "alarm x is in ALARM: score PSI 3.2"}
	_, err = svc.Step(ctx, deployment.StepRequest{Step: deployment.StepRollingBack, DeploymentID: d.ID, Error: failure})
	require.NoError(t, err)
	call(cloud.UpdateAlias, `{"FunctionName": "orrery-dev-predict", "Name": "HTRU2-pulsars", "FunctionVersion": "mdl-a",
		"Description": "orrery deployment `+d.ID+`", "RoutingConfig": {"AdditionalVersionWeights": {}}}`)
	_, err = svc.Step(ctx, deployment.StepRequest{Step: deployment.StepRolledBack, DeploymentID: d.ID, Error: failure})
	require.NoError(t, err)
	got, err = db.GetDeployment(ctx, d.ID)
	require.NoError(t, err)
	assert.Equal(t, store.DeploymentRolledBack, got.Status)
	assert.Zero(t, got.TrafficPercent)
	assert.Equal(t, "alarm x is in ALARM: score PSI 3.2", got.Error)
	assert.Equal(t, "alert", got.Events[len(got.Events)-1].Kind)
	ep, err = db.GetEndpoint(ctx, "dev", "HTRU2-pulsars")
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"mdl-a": 100}, ep.Routes)
	assert.Equal(t, "mdl-a", ep.LiveModelID)
	assert.False(t, ep.Locked(time.Now()))
	aliases, err = db.ListModelAliases(ctx, "dev")
	require.NoError(t, err)
	byAlias = map[string]string{}
	for _, a := range aliases {
		byAlias[a.Alias] = a.ModelID
	}
	assert.Equal(t, map[string]string{store.AliasChampion: "mdl-a", live: "mdl-a"}, byAlias, "the challenger gone, live still on mdl-a")

	t.Run("a late step cannot move the finished deployment", func(t *testing.T) {
		_, err := svc.Step(ctx, deployment.StepRequest{Step: deployment.StepPromote, DeploymentID: d.ID})
		require.ErrorIs(t, err, store.ErrConflict)
	})
}

func TestManualRollbackAndPromotion(t *testing.T) {
	svc, db, st := newService(t)
	ctx := t.Context()
	promote := func(model, env string) store.Deployment {
		t.Helper()
		r := request(model)
		r.Endpoint, r.Environment = "pulsars", env
		d, err := svc.Deploy(ctx, r)
		require.NoError(t, err)
		p := 100
		_, err = svc.Step(ctx, deployment.StepRequest{Step: deployment.StepShifted, DeploymentID: d.ID, Percent: &p})
		require.NoError(t, err)
		_, err = svc.Step(ctx, deployment.StepRequest{Step: deployment.StepPromote, DeploymentID: d.ID})
		require.NoError(t, err)
		return d
	}
	promote("mdl-a", "dev")
	second := promote("mdl-b", "dev")

	t.Run("the live deployment is undone by redeploying the previous model", func(t *testing.T) {
		res, err := svc.Rollback(ctx, second.ID, "")
		require.NoError(t, err)
		assert.Equal(t, deployment.RollbackRedeploy, res.Kind)
		require.NotNil(t, res.Redeploy)
		assert.Equal(t, "mdl-a", res.Redeploy.ModelID)
		assert.Equal(t, store.StrategyAllAtOnce, res.Redeploy.Strategy)
		in := st.inputs[len(st.inputs)-1]
		assert.Equal(t, res.Redeploy.ID, in.DeploymentID)
		require.Len(t, in.Steps, 1)
		assert.Zero(t, in.Steps[0].Checks, "no bake")
	})

	t.Run("a running deployment is asked to roll back at its next check", func(t *testing.T) {
		res, err := svc.RollbackEndpoint(ctx, "dev", "pulsars", "by hand")
		require.NoError(t, err, "the redeploy above holds the endpoint")
		assert.Equal(t, deployment.RollbackRunning, res.Kind)
		p := 100
		_, err = svc.Step(ctx, deployment.StepRequest{Step: deployment.StepCheck, DeploymentID: res.Deployment.ID, Percent: &p, Check: new(int)})
		require.ErrorIs(t, err, deployment.ErrRollbackRequested)
		assert.Equal(t, fault.Cancelled, fault.CodeOf(err))
	})

	t.Run("a deployment that did not promote cannot be rolled back", func(t *testing.T) {
		_, err := svc.MarkFailed(ctx, st.inputs[len(st.inputs)-1].DeploymentID, fault.Failure{Error: "Orrery.Cancelled", Cause: "rollback requested"})
		require.NoError(t, err)
		_, err = svc.Rollback(ctx, st.inputs[len(st.inputs)-1].DeploymentID, "")
		require.ErrorIs(t, err, deployment.ErrNoRollback)
		assert.Equal(t, fault.Conflict, fault.CodeOf(err))
	})

	t.Run("promote the staging model to prod, the same version", func(t *testing.T) {
		_, err := svc.Promote(ctx, "pulsars", "staging", "prod", deployment.Defaults())
		require.ErrorIs(t, err, store.ErrNotFound, "nothing is live in staging yet")
		promote("mdl-a", "staging")
		d, err := svc.Promote(ctx, "pulsars", "staging", "prod", deployment.Defaults())
		require.NoError(t, err)
		assert.Equal(t, "mdl-a", d.ModelID)
		assert.Equal(t, "prod", d.Environment)
		assert.Equal(t, "orrery-prod-predict", st.inputs[len(st.inputs)-1].FunctionName)
		ep, err := db.GetEndpoint(ctx, "prod", "pulsars")
		require.NoError(t, err)
		assert.Equal(t, d.ID, ep.LockedBy)
	})
}

// TestLiveAliasFollowsTheEndpoint promotes two models of different names to
// one endpoint: live moves to the second, and leaves the first's name (an
// alias of a name names a version of that name), while champion stays with
// each name's last promoted model.
func TestLiveAliasFollowsTheEndpoint(t *testing.T) {
	svc, db, _ := newService(t)
	ctx := t.Context()
	require.NoError(t, db.RegisterModel(ctx, store.Model{ID: "mdl-c", Name: "other pulsars", ArtifactKey: "models/mdl-c"}))
	cloud := deploymentjob.LocalCloud{Service: svc}.Services()
	pct := func(p int) *int { return &p }
	promote := func(model string) {
		t.Helper()
		r := request(model)
		r.Endpoint = "shared"
		d, err := svc.Deploy(ctx, r)
		require.NoError(t, err)
		_, err = cloud.UpdateAlias(ctx, json.RawMessage(`{"FunctionName": "orrery-dev-predict", "Name": "shared", "FunctionVersion": "`+model+`",
			"Description": "orrery deployment `+d.ID+`", "RoutingConfig": {"AdditionalVersionWeights": {}}}`))
		require.NoError(t, err)
		_, err = svc.Step(ctx, deployment.StepRequest{Step: deployment.StepShifted, DeploymentID: d.ID, Percent: pct(100)})
		require.NoError(t, err)
		_, err = svc.Step(ctx, deployment.StepRequest{Step: deployment.StepPromote, DeploymentID: d.ID})
		require.NoError(t, err)
	}
	aliases := func() map[string]string {
		t.Helper()
		list, err := db.ListModelAliases(ctx, "dev")
		require.NoError(t, err)
		out := map[string]string{}
		for _, a := range list {
			out[a.Name+"@"+a.Alias] = a.ModelID
		}
		return out
	}
	promote("mdl-a")
	assert.Equal(t, map[string]string{"HTRU2 pulsars@champion": "mdl-a", "HTRU2 pulsars@live-shared": "mdl-a"}, aliases())
	promote("mdl-c")
	assert.Equal(t, map[string]string{"HTRU2 pulsars@champion": "mdl-a", "other pulsars@champion": "mdl-c",
		"other pulsars@live-shared": "mdl-c"}, aliases(), "live left the first name")
}

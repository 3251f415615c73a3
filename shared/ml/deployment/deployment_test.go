package deployment_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/deployment"
	"github.com/orrery-ml/orrery/shared/store"
)

func decode(t *testing.T, body string) deployment.Request {
	t.Helper()
	r := deployment.Defaults()
	require.NoError(t, json.Unmarshal([]byte(body), &r))
	return r
}

func TestNormalize(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		spec, err := decode(t, `{"model_id": "mdl-1"}`).Normalize()
		require.NoError(t, err)
		assert.Equal(t, store.StrategyCanary, spec.Strategy)
		assert.Equal(t, "dev", spec.Environment)
		assert.Equal(t, 10, spec.CanaryPercent)
		assert.Equal(t, 300, spec.BakeSeconds)
		assert.True(t, spec.AutoRollback)
		assert.True(t, spec.Gates.CompareToLive)
		require.NotNil(t, spec.Gates.MinAUCROC)
		assert.InDelta(t, 0.5, *spec.Gates.MinAUCROC, 0)
		assert.Nil(t, spec.Gates.MinAUCPR, "no floor unless asked")
		assert.Equal(t, 50, spec.Alarms.MinRequests)
		assert.Empty(t, spec.Endpoint, "left for the model's name")
	})
	t.Run("zero is a value", func(t *testing.T) {
		spec, err := decode(t, `{"model_id": "mdl-1", "bake_seconds": 0, "alarms": {"error_rate": 0},
			"gates": {"compare_to_live": false, "min_auc_roc": 0}, "auto_rollback": false}`).Normalize()
		require.NoError(t, err)
		assert.Equal(t, 0, spec.BakeSeconds)
		assert.Zero(t, spec.Alarms.ErrorRate)
		assert.False(t, spec.Gates.CompareToLive)
		require.NotNil(t, spec.Gates.MinAUCROC)
		assert.Zero(t, *spec.Gates.MinAUCROC)
		assert.False(t, spec.AutoRollback)
		assert.InDelta(t, 0.2, spec.Alarms.ScorePSI, 0, "fields left out of a nested object keep their defaults")
	})
	t.Run("one switch does not move another", func(t *testing.T) {
		spec, err := decode(t, `{"model_id": "mdl-1", "gates": {"compare_to_live": false}}`).Normalize()
		require.NoError(t, err)
		assert.False(t, spec.Gates.CompareToLive)
		assert.True(t, spec.AutoRollback)
		spec, err = decode(t, `{"model_id": "mdl-1", "auto_rollback": false}`).Normalize()
		require.NoError(t, err)
		assert.True(t, spec.Gates.CompareToLive)
		assert.False(t, spec.AutoRollback)
	})
	for _, tc := range []struct {
		name, body, field string
	}{
		{"no model", `{}`, "model_id"},
		{"bad model id", `{"model_id": "../x"}`, "model_id"},
		{"canary 0", `{"model_id": "m", "canary_percent": 0}`, "canary_percent"},
		{"canary 51", `{"model_id": "m", "canary_percent": 51}`, "canary_percent"},
		{"linear step 0", `{"model_id": "m", "linear_step_percent": 0}`, "linear_step_percent"},
		{"interval 0", `{"model_id": "m", "interval_seconds": 0}`, "interval_seconds"},
		{"bake negative", `{"model_id": "m", "bake_seconds": -1}`, "bake_seconds"},
		{"strategy", `{"model_id": "m", "strategy": "blue_green"}`, "strategy"},
		{"environment", `{"model_id": "m", "environment": "qa"}`, "environment"},
		{"endpoint", `{"model_id": "m", "endpoint": "a/b"}`, "endpoint"},
		{"error rate", `{"model_id": "m", "alarms": {"error_rate": 1.5}}`, "alarms.error_rate"},
		{"psi 0", `{"model_id": "m", "alarms": {"score_psi": 0}}`, "alarms.score_psi"},
		{"confidence 1", `{"model_id": "m", "alarms": {"positive_rate_confidence": 1}}`, "alarms.positive_rate_confidence"},
		{"min requests 0", `{"model_id": "m", "alarms": {"min_requests": 0}}`, "alarms.min_requests"},
		{"window", `{"model_id": "m", "alarms": {"window_seconds": 5}}`, "alarms.window_seconds"},
		{"cloudwatch name", `{"model_id": "m", "alarms": {"cloudwatch": [""]}}`, "alarms.cloudwatch[0]"},
		{"alpha 0", `{"model_id": "m", "gates": {"alpha": 0}}`, "gates.alpha"},
		{"floor", `{"model_id": "m", "gates": {"min_f1_score": 2}}`, "gates.min_f1_score"},
		{"latency budget 0", `{"model_id": "m", "gates": {"max_latency_ms": 0}}`, "gates.max_latency_ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decode(t, tc.body).Normalize()
			require.ErrorIs(t, err, deployment.ErrInvalidRequest)
			fe := deployment.FieldOf(err)
			require.NotNil(t, fe)
			assert.Equal(t, tc.field, fe.Field)
		})
	}
}

func TestEndpointName(t *testing.T) {
	for in, want := range map[string]string{
		"htru2-pulsar-mlp":       "htru2-pulsar-mlp",
		"My Pulsars (v2)":        "My-Pulsars-v2",
		"  __x__ ":               "x",
		"":                       "model",
		"ünïcode":                "n-code",
		"real/bogus detections!": "real-bogus-detections",
	} {
		got := deployment.EndpointName(in)
		assert.Equal(t, want, got, in)
		assert.NoError(t, store.CheckID("endpoint", got), in)
	}
}

func TestPlan(t *testing.T) {
	spec := func(body string) deployment.Spec {
		t.Helper()
		s, err := decode(t, body).Normalize()
		require.NoError(t, err)
		return s
	}
	percents := func(p deployment.Plan) []int {
		var out []int
		for _, s := range p.Steps {
			out = append(out, s.Percent)
		}
		return out
	}
	t.Run("canary bakes at its share", func(t *testing.T) {
		p := deployment.NewPlan(spec(`{"model_id": "m", "canary_percent": 20, "bake_seconds": 30}`), false)
		assert.Equal(t, []int{20, 100}, percents(p))
		assert.Equal(t, deployment.StageBake, p.Steps[0].Stage)
		assert.InDelta(t, 0.2, p.Steps[0].Weight, 1e-12)
		assert.Equal(t, 3, p.Steps[0].CheckSeconds)
		assert.Equal(t, 10, p.Steps[0].Checks)
		assert.Zero(t, p.Steps[1].Checks, "promotion follows the full shift")
		assert.Equal(t, 30, p.WatchSeconds())
	})
	t.Run("the first deployment goes all at once", func(t *testing.T) {
		p := deployment.NewPlan(spec(`{"model_id": "m", "bake_seconds": 7}`), true)
		assert.Equal(t, store.StrategyAllAtOnce, p.Strategy)
		assert.Contains(t, p.Note, "nothing is live")
		assert.Equal(t, []int{100}, percents(p))
		assert.GreaterOrEqual(t, p.WatchSeconds(), 7)
	})
	t.Run("linear steps every interval, bakes at the last", func(t *testing.T) {
		p := deployment.NewPlan(spec(`{"model_id": "m", "strategy": "linear", "linear_step_percent": 30, "interval_seconds": 20, "bake_seconds": 40}`), false)
		assert.Equal(t, []int{30, 60, 90, 100}, percents(p))
		assert.Equal(t, deployment.StageShift, p.Steps[0].Stage)
		assert.Equal(t, deployment.StageBake, p.Steps[2].Stage)
		assert.Equal(t, 20, p.Steps[0].Checks*p.Steps[0].CheckSeconds)
		assert.Equal(t, 60, p.Steps[2].Checks*p.Steps[2].CheckSeconds)
	})
	t.Run("no bake, no checks", func(t *testing.T) {
		p := deployment.NewPlan(spec(`{"model_id": "m", "strategy": "all_at_once", "bake_seconds": 0}`), false)
		assert.Equal(t, []int{100}, percents(p))
		assert.Zero(t, p.Steps[0].Checks)
	})
	t.Run("a day's bake stays within the history", func(t *testing.T) {
		p := deployment.NewPlan(spec(`{"model_id": "m", "strategy": "linear", "linear_step_percent": 1, "interval_seconds": 3600, "bake_seconds": 86400}`), false)
		checks := 0
		for _, s := range p.Steps {
			checks += s.Checks
		}
		assert.LessOrEqual(t, checks, 150+len(p.Steps))
		assert.GreaterOrEqual(t, p.WatchSeconds(), 99*3600+86400)
	})
}

func TestPSI(t *testing.T) {
	var same, shifted [deployment.ScoreBins]int64
	same[0], same[19] = 900, 100
	shifted[0], shifted[19] = 100, 900
	d := deployment.PSI(same, same)
	assert.InDelta(t, 0, d.PSI, 1e-12)
	assert.Equal(t, 2, d.Bins)
	// By hand: shares with 0.5 added to each of 20 bins, n = 1000.
	p := func(c float64) float64 { return (c + 0.5) / 1010 }
	want := 2 * (p(900) - p(100)) * math.Log(p(900)/p(100))
	d = deployment.PSI(shifted, same)
	assert.InDelta(t, want, d.PSI, 1e-12)
	// χ²₁(0.99) = 6.6349; (1/1000 + 1/1000) · 6.6349.
	assert.InDelta(t, 0.0132698, d.Critical, 1e-6)
	assert.True(t, d.Significant())

	var empty [deployment.ScoreBins]int64
	assert.Zero(t, deployment.PSI(empty, same).PSI)
}

func TestWilson(t *testing.T) {
	iv := deployment.Wilson(5, 10, 0.95)
	assert.InDelta(t, 0.2366, iv.Lower, 1e-4)
	assert.InDelta(t, 0.7634, iv.Upper, 1e-4)
	iv = deployment.Wilson(0, 20, 0.95)
	assert.InDelta(t, 0, iv.Lower, 1e-12)
	assert.InDelta(t, 0.1611, iv.Upper, 1e-4)
	assert.Equal(t, deployment.Interval{Lower: 0, Upper: 1, Confidence: 0.9}, deployment.Wilson(0, 0, 0.9))
}

func TestScoreBin(t *testing.T) {
	for p, want := range map[float64]int{0: 0, -1: 0, math.NaN(): 0, 0.049: 0, 0.05: 1, 0.5: 10, 0.999: 19, 1: 19, 2: 19} {
		assert.Equal(t, want, deployment.ScoreBin(p), "%v", p)
	}
}

func TestWatchEvaluate(t *testing.T) {
	spec, err := deployment.Defaults().Normalize()
	require.ErrorIs(t, err, deployment.ErrInvalidRequest, "no model id")
	r := deployment.Defaults()
	r.ModelID = "new"
	spec, err = r.Normalize()
	require.NoError(t, err)
	w := deployment.Watch{Alarms: spec.Alarms, NewModel: "new", LiveModel: "old", Names: deployment.AlarmNames("orrery-dev", "dep-1"),
		Band: deployment.PositiveRateBand{Interval: deployment.Wilson(90, 1000, 0.999)}}
	good := func(n int64) deployment.VersionStats {
		var s deployment.VersionStats
		s.Requests, s.P99LatencyMS = n, 2
		s.ScoreHistogram[0], s.ScoreHistogram[19] = n*91/100, n-n*91/100
		s.Positives = s.ScoreHistogram[19]
		return s
	}
	byKind := func(rs []deployment.Reading) map[string]deployment.Reading {
		out := map[string]deployment.Reading{}
		for _, r := range rs {
			out[r.Kind] = r
		}
		return out
	}
	t.Run("healthy", func(t *testing.T) {
		rs := byKind(w.Evaluate(map[string]deployment.VersionStats{"new": good(200), "old": good(800)}))
		require.Len(t, rs, len(deployment.AlarmKinds))
		for k, r := range rs {
			assert.Equal(t, deployment.StateOK, r.State, "%s: %s", k, r.Reason)
			assert.Equal(t, "orrery-dev-deploy-dep-1-"+map[string]string{
				deployment.AlarmErrorRate: "error-rate", deployment.AlarmP99Latency: "p99-latency",
				deployment.AlarmSchemaViolation: "schema-violations", deployment.AlarmPositiveRate: "positive-rate",
				deployment.AlarmScoreDrift: "score-psi"}[k], r.Name)
		}
	})
	t.Run("too few requests decide nothing", func(t *testing.T) {
		bad := good(10)
		bad.Errors = 10
		rs := byKind(w.Evaluate(map[string]deployment.VersionStats{"new": bad, "old": good(800)}))
		assert.Equal(t, deployment.StateInsufficientData, rs[deployment.AlarmErrorRate].State)
		assert.Empty(t, deployment.Firing(w.Evaluate(map[string]deployment.VersionStats{"new": bad})))
	})
	t.Run("inverted scores drift", func(t *testing.T) {
		flipped := good(200)
		flipped.ScoreHistogram[0], flipped.ScoreHistogram[19] = flipped.ScoreHistogram[19], flipped.ScoreHistogram[0]
		flipped.Positives = flipped.ScoreHistogram[19]
		rs := byKind(w.Evaluate(map[string]deployment.VersionStats{"new": flipped, "old": good(800)}))
		psi := rs[deployment.AlarmScoreDrift]
		assert.Equal(t, deployment.StateAlarm, psi.State, psi.Reason)
		assert.Greater(t, psi.Value, 1.0)
		assert.InDelta(t, 0.2, psi.Threshold, 0)
		assert.Equal(t, deployment.StateAlarm, rs[deployment.AlarmPositiveRate].State, "91 %% positives against a band near 9 %%")
	})
	t.Run("errors, latency and schema violations", func(t *testing.T) {
		s := good(100)
		s.Errors, s.SchemaViolations, s.P99LatencyMS = 2, 6, 900
		rs := byKind(w.Evaluate(map[string]deployment.VersionStats{"new": s, "old": good(100)}))
		assert.Equal(t, deployment.StateAlarm, rs[deployment.AlarmErrorRate].State)
		assert.InDelta(t, 0.02, rs[deployment.AlarmErrorRate].Value, 1e-12)
		assert.Equal(t, deployment.StateAlarm, rs[deployment.AlarmP99Latency].State)
		assert.Equal(t, deployment.StateAlarm, rs[deployment.AlarmSchemaViolation].State)
	})
	t.Run("no live version: no drift", func(t *testing.T) {
		rs := byKind(w.Evaluate(map[string]deployment.VersionStats{"new": good(200)}))
		assert.Equal(t, deployment.StateInsufficientData, rs[deployment.AlarmScoreDrift].State)
	})
}

func TestAlarmNames(t *testing.T) {
	for _, kind := range deployment.AlarmKinds {
		name := deployment.AlarmName("orrery-prod", "dep-20260101-ab-cd", kind)
		id, k, ok := deployment.DeploymentOfAlarm(name)
		require.True(t, ok, name)
		assert.Equal(t, "dep-20260101-ab-cd", id)
		assert.Equal(t, kind, k)
	}
	_, _, ok := deployment.DeploymentOfAlarm("orrery-dev-api-errors")
	assert.False(t, ok)
}

func TestCloudWatchAlarms(t *testing.T) {
	r := deployment.Defaults()
	r.ModelID, r.Endpoint = "mdl-1", "pulsars"
	spec, err := r.Normalize()
	require.NoError(t, err)
	names := deployment.AlarmNames("orrery-dev", "dep-1")
	alarms := deployment.CloudWatchAlarms(spec, names, "dep-1")
	require.Len(t, alarms, len(deployment.AlarmKinds))
	b, err := json.Marshal(alarms)
	require.NoError(t, err)
	text := string(b)
	for _, want := range []string{`"Namespace":"Orrery/Predict"`, `"Name":"ModelId","Value":"mdl-1"`, `"Period":300`,
		`IF(requests \u003e= 50, errors / requests, 0)`, `"TreatMissingData":"notBreaching"`, `"MetricName":"ScoreDrift"`} {
		assert.Contains(t, text, want)
	}
	for i, kind := range deployment.AlarmKinds {
		assert.Equal(t, names[kind], alarms[i]["AlarmName"])
	}
}

func TestRollbackManager(t *testing.T) {
	d := func(id string, status store.DeploymentStatus, prev string) store.Deployment {
		return store.Deployment{ID: id, Status: status, PreviousModelID: prev, Endpoint: "pulsars", Environment: "dev"}
	}
	m := deployment.RollbackManager{}
	live := d("dep-2", store.DeploymentSucceeded, "mdl-1")
	for _, tc := range []struct {
		name string
		d    store.Deployment
		live *store.Deployment
		want deployment.RollbackKind
	}{
		{"running", d("dep-3", store.DeploymentInProgress, "mdl-2"), &live, deployment.RollbackRunning},
		{"validating", d("dep-3", store.DeploymentPending, "mdl-2"), &live, deployment.RollbackRunning},
		{"live", live, &live, deployment.RollbackRedeploy},
		{"rolling back", d("dep-3", store.DeploymentRollingBack, "mdl-2"), &live, ""},
		{"failed", d("dep-3", store.DeploymentFailed, "mdl-2"), &live, ""},
		{"superseded", d("dep-1", store.DeploymentSucceeded, ""), &live, ""},
		{"first", d("dep-1", store.DeploymentSucceeded, ""), &store.Deployment{ID: "dep-1"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := m.Plan(tc.d, tc.live)
			if tc.want == "" {
				require.ErrorIs(t, err, deployment.ErrNoRollback)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, p.Kind)
			if tc.want == deployment.RollbackRedeploy {
				assert.Equal(t, "mdl-1", p.ModelID)
				spec := deployment.RedeploySpec(tc.d, p.ModelID)
				assert.Equal(t, store.StrategyAllAtOnce, spec.Strategy)
				assert.False(t, spec.Gates.CompareToLive)
				assert.Equal(t, "pulsars", spec.Endpoint)
			}
		})
	}
}

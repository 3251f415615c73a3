package reports_test

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/embedded"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	evalreport "github.com/orrery-ml/orrery/shared/ml/evaluation/report"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/reports"
	"github.com/orrery-ml/orrery/shared/store"
)

func openRuntime(t *testing.T) *embedded.Runtime {
	rt, err := embedded.Open(context.Background(), filepath.Join(t.TempDir(), "home"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	return rt
}

func put(t *testing.T, rt *embedded.Runtime, key, body string) {
	require.NoError(t, rt.Artifacts.Put(t.Context(), key, strings.NewReader(body)))
}

// runStudy runs a small study through the optimization steps, Finalize
// included, as the state machine would.
func runStudy(t *testing.T, st optimization.Stores, id string, trials int) {
	ctx := t.Context()
	spec := optimization.StudySpec{Space: optimization.Space{Dimensions: []optimization.Dimension{
		{Name: "x", Kind: optimization.Float, Low: -1, High: 1},
		{Name: "lr", Kind: optimization.Float, Low: 1e-4, High: 1e-1, Log: true},
	}}, Directions: []optimization.Direction{optimization.Maximize}, Seed: 1, Strategy: "random", Pruner: "none",
		Parallel: 1, Budget: optimization.Budget{Trials: trials}}
	require.NoError(t, optimization.CreateStudy(ctx, st, id, "report", spec))
	obj := optimization.ObjectiveFunc(func(ctx context.Context, tr optimization.Trial, _ optimization.ReportFunc) (optimization.Outcome, error) {
		x, _ := tr.Params.Float("x")
		lr, _ := tr.Params.Float("lr")
		return optimization.Outcome{Values: []float64{-x*x - math.Pow(math.Log10(lr)+2, 2)}, Cost: 1}, nil
	})
	for range 100 {
		sug, err := optimization.Suggest(ctx, st, optimization.SuggestInput{StudyID: id})
		require.NoError(t, err)
		for _, n := range sug.Trials {
			_, err := optimization.RunTrial(ctx, st, obj, optimization.TrialInput{StudyID: id, Number: n})
			require.NoError(t, err)
		}
		tell, err := optimization.Tell(ctx, st, optimization.TellInput{StudyID: id, Exhausted: sug.Exhausted})
		require.NoError(t, err)
		if !tell.Continue {
			_, err = optimization.Finalize(ctx, st, optimization.FinalizeInput{StudyID: id, StopReason: tell.StopReason})
			require.NoError(t, err)
			return
		}
	}
	t.Fatal("the study did not end")
}

// populate stores one resource of each kind in rt: a training job with its
// history and metrics, a succeeded evaluation job with its report, a
// finished study and a deployment with a timeline.
func populate(t *testing.T, rt *embedded.Runtime) {
	ctx := t.Context()

	// A training job with its stored history and metrics.
	require.NoError(t, rt.DB.CreateJob(ctx, store.Job{ID: "trn-r1", Kind: "training", Status: store.Queued, Config: json.RawMessage(`{"epochs":3}`)}))
	put(t, rt, "jobs/trn-r1/history.json", `[{"epoch":1,"train_loss":0.6,"val_loss":0.62,"val_auc_pr":0.7,"val_auc_roc":0.8},
		{"epoch":2,"train_loss":0.4,"val_loss":0.45,"val_auc_pr":0.8,"val_auc_roc":0.9},{"epoch":3,"train_loss":0.3,"val_loss":0.4,"val_auc_pr":0.85,"val_auc_roc":0.93}]`)
	put(t, rt, "jobs/trn-r1/metrics.json", `{"accuracy":0.9,"precision":0.8,"recall":0.7,"f1_score":0.75,"auc_roc":0.93,"auc_pr":0.85,
		"support":100,"classes":["0","1"],"confusion_matrix":[[70,5],[8,17]]}`)

	// An evaluation job that succeeded, its report where the evaluation
	// service writes it.
	res := `{"evaluation":{"evaluation_id":"ev-1","model_id":"mdl-1"}}`
	require.NoError(t, rt.DB.CreateJob(ctx, store.Job{ID: "evl-r1", Kind: api.JobKindEvaluation, Status: store.Queued}))
	_, err := rt.DB.UpdateJob(ctx, "evl-r1", store.JobUpdate{Status: store.Running})
	require.NoError(t, err)
	_, err = rt.DB.UpdateJob(ctx, "evl-r1", store.JobUpdate{Status: store.Succeeded, Result: json.RawMessage(res)})
	require.NoError(t, err)
	rep, err := evalreport.Render(evaluationInput(t))
	require.NoError(t, err)
	for name, b := range rep.Files {
		put(t, rt, "evaluations/mdl-1/ev-1/"+name, string(b))
	}

	// A finished study, and a deployment with a timeline.
	runStudy(t, rt.OptimizationStores(), "hpo-r1", 5)
	ten, hundred := 10, 100
	now := time.Now().UTC().Truncate(time.Second)
	require.NoError(t, rt.DB.CreateDeployment(ctx, store.Deployment{ID: "dep-r1", ModelID: "mdl-1", Alias: "live", Environment: "dev",
		Endpoint: "pulsars", Strategy: "canary", Status: store.DeploymentPending, CreatedAt: now,
		Events: []store.DeploymentEvent{{Time: now, Kind: "validated", Message: "every gate passed"},
			{Time: now.Add(2 * time.Second), Kind: "shifted", Message: "canary", Traffic: &ten},
			{Time: now.Add(5 * time.Second), Kind: "shifted", Message: "all", Traffic: &hundred}}}))

}

// evaluationInput is a noisy binary task's scores and metrics.
func evaluationInput(t *testing.T) evalreport.Input {
	rng := rand.New(rand.NewPCG(4, 2))
	var y []int
	var proba, score []float64
	for range 300 {
		c := 0
		if rng.Float64() < 0.3 {
			c = 1
		}
		p := 1 / (1 + math.Exp(-2.5*(float64(c)+0.8*rng.NormFloat64()-0.5)))
		y, score, proba = append(y, c), append(score, p), append(proba, 1-p, p)
	}
	m, err := evaluation.MetricsCalculator{}.Calculate(evaluation.Input{Y: y, Proba: proba, Classes: []string{"bogus", "real"}, Positive: 1, Threshold: 0.5})
	require.NoError(t, err)
	return evalreport.Input{ModelID: "mdl-1", Y: y, Score: score, Metrics: m}
}

func TestReportOfEveryKind(t *testing.T) {
	ctx := t.Context()
	rt := openRuntime(t)
	svc := rt.Reports()
	populate(t, rt)
	for _, tc := range []struct{ kind, id, want string }{
		{api.ReportTraining, "trn-r1", "Training job trn-r1"},
		{api.ReportEvaluation, "evl-r1", "Evaluation of mdl-1"},
		{api.ReportOptimization, "hpo-r1", "Study hpo-r1"},
		{api.ReportDeployment, "dep-r1", "Deployment dep-r1"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			kind, err := svc.Kind(ctx, tc.id)
			require.NoError(t, err)
			assert.Equal(t, tc.kind, kind)
			page, err := svc.Report(ctx, tc.kind, tc.id)
			require.NoError(t, err)
			assert.Contains(t, string(page), tc.want)
			key, err := svc.Write(ctx, tc.id)
			require.NoError(t, err)
			assert.True(t, strings.HasSuffix(key, "/report.html"), key)
			_, err = rt.Artifacts.Path(key)
			require.NoError(t, err)
		})
	}
	page, err := svc.Report(ctx, api.ReportTraining, "trn-r1")
	require.NoError(t, err)
	assert.Equal(t, 3, strings.Count(string(page), `<img alt="`), "loss, validation and confusion plots")
	page, err = svc.Report(ctx, api.ReportDeployment, "dep-r1")
	require.NoError(t, err)
	assert.Contains(t, string(page), `<img alt="traffic"`)

	// Artifacts by key in each resource's folder.
	doc, err := svc.Artifact(ctx, "trn-r1", "metrics.json")
	require.NoError(t, err)
	assert.Equal(t, "application/json", doc.ContentType)
	assert.Contains(t, string(doc.Body), `"auc_pr":0.85`)
	doc, err = svc.Artifact(ctx, "evl-r1", "roc.png")
	require.NoError(t, err)
	assert.Equal(t, "image/png", doc.ContentType)
	doc, err = svc.Artifact(ctx, "hpo-r1", "optimization_history.png")
	require.NoError(t, err, "Finalize stores the study's plots beside its report")
	assert.Equal(t, "image/png", doc.ContentType)

	// What is not there, and keys that leave the folder.
	for _, tc := range []struct {
		id, key string
		want    error
	}{
		{"trn-r1", "nope.json", store.ErrNotFound},
		{"nobody", "metrics.json", reports.ErrUnknownID},
		{"dep-r1", "report.html", store.ErrNotFound},
		{"trn-r1", "../trn-r2/metrics.json", reports.ErrBadKey},
		{"trn-r1", "/etc/passwd", reports.ErrBadKey},
		{"trn-r1", "a//b", reports.ErrBadKey},
		{"trn-r1", "", reports.ErrBadKey},
	} {
		_, err := svc.Artifact(ctx, tc.id, tc.key)
		require.ErrorIs(t, err, tc.want, "%s %q", tc.id, tc.key)
	}
	// An evaluation by its own id, as `orrery evaluate` prints it.
	kind, err := svc.Kind(ctx, "ev-1")
	require.NoError(t, err)
	assert.Equal(t, api.ReportEvaluation, kind)
	key, err := svc.Write(ctx, "ev-1")
	require.NoError(t, err)
	assert.Equal(t, "evaluations/mdl-1/ev-1/report.html", key)

	_, err = svc.Report(ctx, api.ReportEvaluation, "trn-r1")
	require.ErrorIs(t, err, store.ErrNotFound, "a training job is no evaluation job")
	_, err = svc.Report(ctx, api.ReportOptimization, "hpo-none")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestUnfinishedReportsAreNotFoundWithTheReason(t *testing.T) {
	ctx := t.Context()
	rt := openRuntime(t)
	require.NoError(t, rt.DB.CreateJob(ctx, store.Job{ID: "evl-q", Kind: api.JobKindEvaluation, Status: store.Queued}))
	_, err := rt.Reports().Report(ctx, api.ReportEvaluation, "evl-q")
	require.ErrorIs(t, err, store.ErrNotFound)
	assert.Contains(t, err.Error(), "has no report (status QUEUED)")
}

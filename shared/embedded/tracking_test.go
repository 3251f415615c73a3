package embedded

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/ml/deployment"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/mlflowmirror"
	"github.com/orrery-ml/orrery/shared/optimizationjob"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/synthetic"
	"github.com/orrery-ml/orrery/shared/tracking/mlflow/mlflowtest"
)

// awaitSynced polls the mirror's state of subject until everything is
// sent (a generous deadline; the drainer runs on its own).
func awaitSynced(t *testing.T, rt *Runtime, subject string) mlflowmirror.State {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st, err := rt.Mirror.Status(t.Context(), subject)
		require.NoError(t, err)
		require.NotEqual(t, mlflowmirror.StateFailed, st.State, "the server refused an entry: %s", st.LastError)
		if st.State == mlflowmirror.StateSynced {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("tracking of %s never caught up: %+v", subject, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTrainingDeploymentAndStudyShowInMLflow turns tracking on and reads
// the result back through MLflow's REST API: a training job's run with its
// params, the full per-epoch metric history, final metrics, reports, model
// files and a model version; deployment aliases moved and rolled back; a
// study as a parent run with a nested run per trial.
func TestTrainingDeploymentAndStudyShowInMLflow(t *testing.T) {
	uri := mlflowtest.ServerURI(t)
	experiment := fmt.Sprintf("orrery-embedded-%d", time.Now().UnixNano())
	t.Setenv(mlflowmirror.EnvTrackingURI, uri)
	t.Setenv(mlflowmirror.EnvExperimentName, experiment)
	rest := mlflowtest.NewREST(t, uri)
	rt := openTest(t, nil)
	require.NotNil(t, rt.Mirror, "MLFLOW_TRACKING_URI turns the mirror on")
	ctx := t.Context()
	dir := t.TempDir()
	modelName := fmt.Sprintf("pulsars-%d", time.Now().UnixNano())

	cfg := quickConfig(writeCSV(t, dir, "a.csv", synthetic.TwoClassCSV(400, 1)))
	cfg.Name = modelName
	a, err := train(ctx, t, rt, cfg)
	require.NoError(t, err)
	st := awaitSynced(t, rt, a.JobID)
	require.NotEmpty(t, st.RunID)

	runs := rest.Runs(experiment, "tags.`orrery.key` = 'training/"+a.JobID+"'")
	require.Len(t, runs, 1, "one run per training job")
	run := runs[0]
	assert.Equal(t, st.RunID, run.Info.RunID)
	assert.Equal(t, "FINISHED", run.Info.Status)
	params := run.Params()
	assert.Equal(t, "30", params["epochs"])
	assert.Equal(t, "[8]", params["hidden_layers"])
	assert.Equal(t, "label", params["target_column"])
	assert.Contains(t, params, "early_stopping.patience", "nested config fields as dotted params")
	model, err := rt.DB.GetModel(ctx, a.ModelID)
	require.NoError(t, err)
	tags := run.Tags()
	assert.Equal(t, model.DataHash, tags["dataset.sha256"])
	assert.Equal(t, "gonum", tags["backend"])
	assert.Equal(t, "cpu", tags["device"])
	assert.Equal(t, a.ModelID, tags["orrery.model_id"])

	for _, key := range []string{"loss", "val_loss", "val_auc_pr", "val_auc_roc"} {
		h := rest.History(run.Info.RunID, key)
		require.Len(t, h, a.Training.EpochsRun, "%s: one point per epoch", key)
		for i, p := range h {
			assert.Equal(t, int64(i+1), p.Step, "%s steps are the epochs", key)
		}
	}
	loss := rest.History(run.Info.RunID, "loss")
	assert.InDelta(t, a.Training.History[len(a.Training.History)-1].TrainLoss, loss[len(loss)-1].Value, 1e-9)
	auc := rest.History(run.Info.RunID, "auc_roc")
	require.Len(t, auc, 1)
	assert.InDelta(t, a.Metrics.AUCROC, auc[0].Value, 1e-12, "the final test metrics")

	assert.ElementsMatch(t, []string{"metrics/classification_report.json", "metrics/confusion_matrix.json"}, rest.Artifacts(run.Info.RunID, "metrics"))
	assert.Contains(t, rest.Artifacts(run.Info.RunID, "orrery"), "orrery/validation_report.json")
	assert.Contains(t, rest.Artifacts(run.Info.RunID, "orrery"), "orrery/history.json")
	assert.Contains(t, rest.Artifacts(run.Info.RunID, "reports"), "reports/report.html", "the training report page")
	assert.ElementsMatch(t, []string{"reports/plots/loss.png", "reports/plots/validation.png", "reports/plots/confusion_matrix.png"},
		rest.Artifacts(run.Info.RunID, "reports/plots"), "the plots")
	assert.Subset(t, rest.Artifacts(run.Info.RunID, "model"), []string{"model/MLmodel", "model/model.onnx"},
		"the model version's artifacts are an MLflow model")
	modelFiles := rest.Artifacts(run.Info.RunID, "orrery_model")
	assert.Contains(t, modelFiles, "orrery_model/manifest.json", "and the Orrery model directory")
	for _, f := range modelFiles {
		assert.NotContains(t, f, "checkpoint")
	}

	var versions struct {
		ModelVersions []struct {
			Version string `json:"version"`
			RunID   string `json:"run_id"`
			Source  string `json:"source"`
		} `json:"model_versions"`
	}
	rest.Call(http.MethodGet, "/api/2.0/mlflow/model-versions/search?filter="+url.QueryEscape("name='"+modelName+"'"), nil, &versions)
	require.Len(t, versions.ModelVersions, 1, "one model version per registered model")
	assert.Equal(t, run.Info.RunID, versions.ModelVersions[0].RunID)
	link, ok := rt.Mirror.ModelLink(ctx, model)
	require.True(t, ok)
	assert.Equal(t, versions.ModelVersions[0].Version, link.Version)
	assert.Equal(t, run.Info.RunID, link.RunID)

	// A second model of the same name, deployed after the first, then
	// rolled back: MLflow's champion alias follows.
	cfg.DatasetPath = writeCSV(t, dir, "b.csv", synthetic.TwoClassCSV(400, 2))
	b, err := train(ctx, t, rt, cfg)
	require.NoError(t, err)
	x, err := rt.Executions(ExecutionOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, x.Close(ctx)) }()
	svc := rt.DeploymentService(pipeline.Flows{Executions: x}, nil, nil)
	deploy := func(modelID string) store.Deployment {
		req := deployment.Defaults()
		no := false
		req.ModelID, req.Endpoint, req.BakeSeconds, req.Strategy = modelID, "pulsars", 0, string(store.StrategyAllAtOnce)
		req.Gates.CompareToLive = &no
		d, err := svc.Deploy(ctx, req)
		require.NoError(t, err)
		desc, err := x.Wait(ctx, pipeline.MachineDeployment, d.ID)
		require.NoError(t, err)
		require.Equal(t, pipeline.StatusSucceeded, desc.Status, "%s: %s", desc.Error, desc.Cause)
		return d
	}
	versionOf := func(modelID string) string {
		m, err := rt.DB.GetModel(ctx, modelID)
		require.NoError(t, err)
		awaitSynced(t, rt, modelID)
		l, ok := rt.Mirror.ModelLink(ctx, m)
		require.True(t, ok)
		return l.Version
	}
	deploy(a.ModelID)
	awaitSynced(t, rt, b.JobID)
	versionA := versionOf(a.ModelID)
	live := store.LiveRegistryAlias("pulsars")
	v, _ := rest.Alias(modelName, store.AliasChampion)
	assert.Equal(t, versionA, v, "champion is the deployed model's version")
	v, _ = rest.Alias(modelName, live)
	assert.Equal(t, versionA, v, "live names what the endpoint serves")
	second := deploy(b.ModelID)
	versionB := versionOf(b.ModelID)
	v, runID := rest.Alias(modelName, store.AliasChampion)
	assert.Equal(t, versionB, v)
	v, _ = rest.Alias(modelName, live)
	assert.Equal(t, versionB, v, "the promotion moved live")
	assert.Equal(t, rest.Runs(experiment, "tags.`orrery.key` = 'training/"+b.JobID+"'")[0].Info.RunID, runID)
	rb, err := svc.Rollback(ctx, second.ID, "test")
	require.NoError(t, err)
	require.NotNil(t, rb.Redeploy)
	desc, err := x.Wait(ctx, pipeline.MachineDeployment, rb.Redeploy.ID)
	require.NoError(t, err)
	require.Equal(t, pipeline.StatusSucceeded, desc.Status, "%s: %s", desc.Error, desc.Cause)
	awaitSynced(t, rt, a.ModelID)
	v, _ = rest.Alias(modelName, store.AliasChampion)
	assert.Equal(t, versionA, v, "the rollback moved champion back")
	v, _ = rest.Alias(modelName, live)
	assert.Equal(t, versionA, v, "the rollback moved live back")
	if py := os.Getenv("ORRERY_TEST_ONNX_PYTHON"); py != "" {
		// MLflow's own client resolves the alias and loads the model.
		script := `import sys, mlflow
mlflow.set_tracking_uri(sys.argv[1])
m = mlflow.pyfunc.load_model("models:/" + sys.argv[2] + "@champion")
print(m.metadata.run_id)`
		out, err := exec.CommandContext(ctx, py, "-c", script, uri, modelName).CombinedOutput()
		require.NoError(t, err, "%s", out)
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		assert.Equal(t, run.Info.RunID, lines[len(lines)-1], "models:/%s@champion is the first model's run", modelName)
	}

	// An evaluation: a run with confidence intervals and CV folds, linked
	// to the model version.
	evalJob, err := rt.EvaluationService().Submit(ctx, evaluationjob.Config{EvaluateRequest: evaluation.EvaluateRequest{
		ModelID: a.ModelID, CVFolds: 3, BootstrapResamples: 50}})
	require.NoError(t, err)
	require.NoError(t, pipeline.Flows{Executions: x}.StartEvaluation(ctx, evalJob.ID))
	ed, err := x.Wait(ctx, pipeline.MachineEvaluation, evalJob.ID)
	require.NoError(t, err)
	require.Equal(t, pipeline.StatusSucceeded, ed.Status, ed.Cause)
	awaitSynced(t, rt, evalJob.ID)
	evalRuns := rest.Runs(experiment, "tags.`orrery.key` = 'evaluation/"+evalJob.ID+"'")
	require.Len(t, evalRuns, 1)
	evalRun := evalRuns[0]
	assert.Equal(t, versionA, evalRun.Tags()["mlflow.registered_model_version"], "linked to the model version")
	low, high := rest.History(evalRun.Info.RunID, "auc_roc_ci_low"), rest.History(evalRun.Info.RunID, "auc_roc_ci_high")
	require.Len(t, low, 1)
	require.Len(t, high, 1)
	assert.LessOrEqual(t, low[0].Value, high[0].Value)
	assert.Len(t, rest.History(evalRun.Info.RunID, "cv_auc_roc"), 3, "one point per fold")

	// A study: a parent run, one nested run per trial.
	req := optimizationRequest(t, writeCSV(t, dir, "syn.csv", synthetic.TwoClassCSV(300, 21)), 3, 1)
	spec, err := optimizationjob.SpecFromRequest(req)
	require.NoError(t, err)
	studyID := fmt.Sprintf("hpo-mlflow-%d", time.Now().UnixNano()%1e9)
	require.NoError(t, optimization.CreateStudy(ctx, rt.OptimizationStores(), studyID, "syn", spec))
	d := runStudy(t, x, studyID, 1)
	require.Equal(t, pipeline.StatusSucceeded, d.Status, d.Cause)
	awaitSynced(t, rt, studyID)
	parents := rest.Runs(experiment, "tags.`orrery.key` = 'study/"+studyID+"'")
	require.Len(t, parents, 1)
	assert.Equal(t, "FINISHED", parents[0].Info.Status)
	assert.Contains(t, rest.Artifacts(parents[0].Info.RunID, "study"), "study/report.html")
	assert.Contains(t, rest.Artifacts(parents[0].Info.RunID, "study"), "study/analysis.json")
	trials := rest.Runs(experiment, "tags.`mlflow.parentRunId` = '"+parents[0].Info.RunID+"'")
	require.Len(t, trials, 3, "one nested run per trial")
	stored, err := rt.DB.ListTrials(ctx, studyID)
	require.NoError(t, err)
	states := map[string]string{}
	for _, tr := range stored {
		states[fmt.Sprint(tr.Number)] = string(tr.State)
	}
	for _, tr := range trials {
		tags := tr.Tags()
		assert.Equal(t, states[tags["orrery.trial_number"]], tags["orrery.trial_state"])
		assert.Contains(t, tr.Params(), "learning_rate")
		assert.NotEmpty(t, rest.History(tr.Info.RunID, "intermediate_val_auc_pr"), "intermediate values by step")
	}
}

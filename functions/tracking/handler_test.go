package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/awsclient"
	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/jobevents"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/mlflowmirror"
	"github.com/orrery-ml/orrery/shared/optimizationjob"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
	"github.com/orrery-ml/orrery/shared/store/s3store"
	"github.com/orrery-ml/orrery/shared/store/s3store/s3table"
	"github.com/orrery-ml/orrery/shared/synthetic"
	"github.com/orrery-ml/orrery/shared/tracking"
	"github.com/orrery-ml/orrery/shared/tracking/mlflow"
	"github.com/orrery-ml/orrery/shared/tracking/mlflow/mlflowtest"
)

func TestFromEnv(t *testing.T) {
	full := map[string]string{config.EnvTrackingTable: "jobs", config.EnvJobsTable: "jobs", config.EnvModelsTable: "models",
		config.EnvStudiesTable: "studies", config.EnvArtifactsBucket: "artifacts", config.EnvMLflowTrackingURI: "https://mlflow.example",
		config.EnvMLflowTokenSecret: "orrery/mlflow-token"}
	c, err := FromEnv(func(k string) string { return full[k] })
	require.NoError(t, err)
	assert.Equal(t, Config{TrackingTable: "jobs", JobsTable: "jobs", ModelsTable: "models", StudiesTable: "studies",
		ArtifactsBucket: "artifacts", TrackingURI: "https://mlflow.example", TokenSecret: "orrery/mlflow-token", LogLevel: slog.LevelInfo}, c)
	_, err = FromEnv(func(k string) string {
		if k == config.EnvMLflowTrackingURI || k == config.EnvTrackingTable {
			return ""
		}
		return full[k]
	})
	require.ErrorContains(t, err, config.EnvMLflowTrackingURI)
	require.ErrorContains(t, err, config.EnvTrackingTable)
}

// fakeDrainer records what the handler asked of the mirror.
type fakeDrainer struct {
	calls []string
	err   error
	ctxOK bool
}

func (f *fakeDrainer) Drain(ctx context.Context) error {
	f.calls = append(f.calls, "drain")
	_, f.ctxOK = ctx.Deadline()
	return f.err
}

func (f *fakeDrainer) Sync(_ context.Context, subject string) (int, error) {
	f.calls = append(f.calls, "sync "+subject)
	return 0, f.err
}

type fixedSummary store.TrackingSummary

func (f fixedSummary) SummarizeTracking(context.Context, string) (store.TrackingSummary, error) {
	return store.TrackingSummary(f), nil
}

// TestHandleRoutes checks that a scheduled event drains, a sync request
// syncs, and that a server that is down is answered in the Result, not as
// the invocation's error.
func TestHandleRoutes(t *testing.T) {
	d := &fakeDrainer{}
	h := &handler{mirror: d, outbox: fixedSummary{Pending: 2, LastError: "connection refused"}, log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	res, err := h.Handle(ctx, json.RawMessage(`{"version":"0","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`))
	require.NoError(t, err)
	assert.Equal(t, Result{Pending: 2, LastError: "connection refused"}, res)
	assert.True(t, d.ctxOK, "the drain has a deadline")
	d.err = errors.New("connection refused")
	_, err = h.Handle(ctx, json.RawMessage(`{"sync": true, "subject": "trn-1"}`))
	require.NoError(t, err, "a server that is down is no invocation error")
	assert.Equal(t, []string{"drain", "sync trn-1"}, d.calls)
}

// TestAWSTrainingReachesMLflow runs a training job the AWS way — the
// stages (validate .. register) over DynamoDB and S3 in moto, as the stages
// function runs them, the execution's SUCCEEDED event through
// jobevents with the queue the events function wires (twice: EventBridge
// delivers at least once) — then invokes this function as its schedule
// does and reads the result back through MLflow's REST API: the run with
// its params, the per-epoch history from history.json, the final metrics,
// the reports, plots and model files, the model version; a replay sends
// nothing twice; an evaluation job is a run linked to the version; a
// study is a parent run with a nested run per trial; a live alias queued
// by the deployment steps' wrapper becomes a registry alias. MLflow is
// down for the first drain: the invocation still succeeds and says so.
func TestAWSTrainingReachesMLflow(t *testing.T) {
	uri := mlflowtest.ServerURI(t)
	if testing.Short() {
		t.Skip("trains a small network against the AWS emulator and MLflow")
	}
	cfg := awstest.Config(t)
	ctx := t.Context()
	ddb := dynamodb.NewFromConfig(cfg)
	table := awstest.Name(t, "tracking")
	require.NoError(t, dynamostore.CreateTable(ctx, ddb, table))
	t.Cleanup(func() {
		_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	s3c := s3.NewFromConfig(cfg, awsclient.S3Options(cfg))
	bucket := awstest.Name(t, "artifacts")
	_, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	t.Cleanup(func() { awstest.RemoveBucket(s3c, bucket) })
	_, err = s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("incoming/syn.csv"),
		Body: strings.NewReader(synthetic.TwoClassCSV(400, 3))})
	require.NoError(t, err)
	db, err := dynamostore.New(ddb, dynamostore.Tables{Jobs: table, Models: table, Studies: table, Tracking: table})
	require.NoError(t, err)
	artifacts, err := s3store.New(s3c, bucket, "")
	require.NoError(t, err)

	// The job, its stages as the stages function runs them.
	p := &training.TrainingPipeline{Jobs: db, Models: db, Artifacts: artifacts, Recorder: tracking.Discard, ReadTable: s3table.TableReader(s3c)}
	modelName := fmt.Sprintf("aws-pulsars-%d", time.Now().UnixNano())
	job, err := p.Submit(ctx, training.TrainingConfig{Name: modelName, DatasetPath: "s3://" + bucket + "/incoming/syn.csv",
		TargetColumn: "label", PositiveClass: "pulsar", Epochs: 6, HiddenLayers: []int{8}, BatchSize: 32, LearningRate: 0.01})
	require.NoError(t, err)
	refs := training.Refs{JobID: job.ID}
	for _, stage := range []string{training.StageValidate, training.StagePreprocess, training.StageTrain, training.StageEvaluate, training.StageRegister} {
		refs, err = p.RunStage(ctx, training.StageRequest{Stage: stage, Refs: refs})
		require.NoError(t, err, stage)
	}
	// The execution's end, as the events function sees it, twice.
	queue := mlflowmirror.NewQueue(db, nil)
	events := &jobevents.Service{Jobs: db, Ended: queue.ExecutionEnded}
	for range 2 {
		out, err := events.Execution(ctx, jobevents.ExecutionChange{JobID: job.ID, Status: jobevents.ExecutionSucceeded})
		require.NoError(t, err)
		assert.Equal(t, jobevents.Stale, out, "the register stage finished the job")
	}
	pending, err := db.PendingTracking(ctx, job.ID, 0)
	require.NoError(t, err)
	require.Len(t, pending, 2, "each event queued the execution's end")

	client, err := mlflow.NewFromEnv(uri)
	require.NoError(t, err)
	experiment := fmt.Sprintf("orrery-aws-%d", time.Now().UnixNano())
	const commit = "0123456789abcdef0123456789abcdef01234567"
	opt := mlflowmirror.Options{Experiment: experiment, GitCommit: commit, MinBackoff: time.Millisecond}
	// MLflow down first: the drain answers how far behind it is, the
	// entries stay.
	down, err := mlflow.NewFromEnv("http://127.0.0.1:1")
	require.NoError(t, err)
	res, err := wire(down, db, artifacts, opt).Handle(ctx, json.RawMessage(`{}`))
	require.NoError(t, err, "a server that is down is no invocation error")
	assert.Equal(t, 2, res.Pending)
	assert.Contains(t, res.LastError, "connection refused")
	h := wire(client, db, artifacts, opt)
	invoke := func(raw string) Result {
		t.Helper()
		ictx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		res, err := h.Handle(ictx, json.RawMessage(raw))
		require.NoError(t, err)
		return res
	}
	time.Sleep(5 * time.Millisecond) // the failed entry's backoff (1 ms) is over
	res = invoke(`{"detail-type":"Scheduled Event","source":"aws.events","detail":{}}`)
	require.Equal(t, Result{Sent: 2}, res, "the next scheduled drain sends everything")

	rest := mlflowtest.NewREST(t, uri)
	runs := rest.Runs(experiment, "tags.`orrery.key` = 'training/"+job.ID+"'")
	require.Len(t, runs, 1, "one run per training job, whatever the duplicates")
	run := runs[0]
	assert.Equal(t, "FINISHED", run.Info.Status)
	params := run.Params()
	assert.Equal(t, "6", params["epochs"])
	assert.Equal(t, "label", params["target_column"])
	got, err := db.GetJob(ctx, job.ID)
	require.NoError(t, err)
	var result training.Result
	require.NoError(t, json.Unmarshal(got.Result, &result))
	model, err := db.GetModel(ctx, refs.ModelID)
	require.NoError(t, err)
	tags := run.Tags()
	assert.Equal(t, model.DataHash, tags["dataset.sha256"])
	assert.Equal(t, "gonum", tags["backend"])
	assert.Equal(t, "cpu", tags["device"])
	assert.Equal(t, commit, tags["mlflow.source.git.commit"])
	for _, key := range []string{"loss", "val_loss", "val_auc_pr", "val_auc_roc", "lr"} {
		hist := rest.History(run.Info.RunID, key)
		require.Len(t, hist, result.Training.EpochsRun, "%s: one point per epoch, from history.json", key)
		for i, pt := range hist {
			assert.Equal(t, int64(i+1), pt.Step)
		}
	}
	auc := rest.History(run.Info.RunID, "auc_roc")
	require.Len(t, auc, 1, "the final test metric, once")
	assert.InDelta(t, result.Metrics.AUCROC, auc[0].Value, 1e-12)
	assert.ElementsMatch(t, []string{"metrics/classification_report.json", "metrics/confusion_matrix.json"}, rest.Artifacts(run.Info.RunID, "metrics"))
	assert.Contains(t, rest.Artifacts(run.Info.RunID, "orrery"), "orrery/validation_report.json")
	assert.Contains(t, rest.Artifacts(run.Info.RunID, "reports"), "reports/report.html")
	assert.Contains(t, rest.Artifacts(run.Info.RunID, "reports/plots"), "reports/plots/loss.png")
	assert.Subset(t, rest.Artifacts(run.Info.RunID, "model"), []string{"model/MLmodel", "model/model.onnx"})
	var versions struct {
		ModelVersions []struct {
			Version string `json:"version"`
			RunID   string `json:"run_id"`
		} `json:"model_versions"`
	}
	rest.Call(http.MethodGet, "/api/2.0/mlflow/model-versions/search?filter="+url.QueryEscape("name='"+modelName+"'"), nil, &versions)
	require.Len(t, versions.ModelVersions, 1)
	assert.Equal(t, run.Info.RunID, versions.ModelVersions[0].RunID)

	// A replay asked for by hand sends nothing twice.
	require.NoError(t, queue.ExecutionEnded(ctx, job.ID))
	res = invoke(`{"sync": true}`)
	assert.Zero(t, res.Pending)
	assert.Len(t, rest.History(run.Info.RunID, "loss"), result.Training.EpochsRun, "no duplicate points")
	assert.Len(t, rest.History(run.Info.RunID, "auc_roc"), 1)

	// An evaluation job, its step as the stages function runs it: a run
	// with confidence intervals, linked to the model version.
	evals := &evaluationjob.Service{Jobs: db, Models: db, Artifacts: artifacts, ReadTable: s3table.TableReader(s3c)}
	evalJob, err := evals.Submit(ctx, evaluationjob.Config{EvaluateRequest: evaluation.EvaluateRequest{
		ModelID: model.ID, BootstrapResamples: 50}})
	require.NoError(t, err)
	_, err = evals.Step(ctx, evaluationjob.Request{JobID: evalJob.ID})
	require.NoError(t, err)
	_, err = events.Execution(ctx, jobevents.ExecutionChange{JobID: evalJob.ID, Status: jobevents.ExecutionSucceeded})
	require.NoError(t, err)
	res = invoke(`{}`)
	assert.Equal(t, Result{Sent: 1}, res)
	evalRuns := rest.Runs(experiment, "tags.`orrery.key` = 'evaluation/"+evalJob.ID+"'")
	require.Len(t, evalRuns, 1)
	assert.Equal(t, versions.ModelVersions[0].Version, evalRuns[0].Tags()["mlflow.registered_model_version"])
	low, high := rest.History(evalRuns[0].Info.RunID, "auc_roc_ci_low"), rest.History(evalRuns[0].Info.RunID, "auc_roc_ci_high")
	require.Len(t, low, 1)
	require.Len(t, high, 1)
	assert.LessOrEqual(t, low[0].Value, high[0].Value)

	// A study whose trials ran (in Batch, on AWS): its execution's end
	// makes a parent run with one nested run per trial.
	body := `{"name": "syn", "base_config": {"dataset_path": "s3://` + bucket + `/incoming/syn.csv", "target_column": "label",
	  "positive_class": "pulsar", "epochs": 4, "batch_size": 32, "hidden_layers": [8]},
	 "search_space": [{"name": "learning_rate", "kind": "float", "low": 0.001, "high": 0.1, "log": true}],
	 "strategy": "random", "budget": {"max_trials": 2, "max_parallel": 1}}`
	oreq, err := api.DecodeOptimizationRequest([]byte(body))
	require.NoError(t, err)
	spec, err := optimizationjob.SpecFromRequest(oreq)
	require.NoError(t, err)
	studyID := fmt.Sprintf("hpo-aws-%d", time.Now().UnixNano()%1e9)
	require.NoError(t, optimization.CreateStudy(ctx, optimization.Stores{Studies: db, Trials: db, Artifacts: artifacts}, studyID, "syn", spec))
	require.NoError(t, db.AddTrials(ctx, studyID, []store.Trial{
		{Number: 0, Params: json.RawMessage(`{"learning_rate": 0.01}`)},
		{Number: 1, Params: json.RawMessage(`{"learning_rate": 0.002}`)},
	}))
	for _, end := range []store.TrialUpdate{
		{State: store.TrialComplete, Values: json.RawMessage(`[0.9]`), Intermediate: json.RawMessage(`{"steps": [{"step": 1, "values": [0.8]}, {"step": 2, "values": [0.9]}]}`)},
		{State: store.TrialPruned, Intermediate: json.RawMessage(`{"steps": [{"step": 1, "values": [0.3]}]}`)},
	} {
		tr, err := db.ClaimTrial(ctx, studyID, "worker-1", time.Now(), time.Minute)
		require.NoError(t, err)
		_, err = db.UpdateTrial(ctx, studyID, tr.Number, "worker-1", end)
		require.NoError(t, err)
	}
	st, err := db.GetStudy(ctx, studyID)
	require.NoError(t, err)
	_, err = db.UpdateStudy(ctx, studyID, st.Version, store.StudyUpdate{Status: store.Succeeded})
	require.NoError(t, err)
	out, err := events.Execution(ctx, jobevents.ExecutionChange{JobID: studyID, Status: jobevents.ExecutionSucceeded})
	require.NoError(t, err)
	assert.Equal(t, jobevents.NoJob, out, "a study's execution is no job's")
	res = invoke(`{}`)
	assert.Equal(t, Result{Sent: 1}, res)
	parents := rest.Runs(experiment, "tags.`orrery.key` = 'study/"+studyID+"'")
	require.Len(t, parents, 1)
	assert.Equal(t, "FINISHED", parents[0].Info.Status)
	assert.Contains(t, rest.Artifacts(parents[0].Info.RunID, "study"), "study/analysis.json")
	trials := rest.Runs(experiment, "tags.`mlflow.parentRunId` = '"+parents[0].Info.RunID+"'")
	require.Len(t, trials, 2, "one nested run per trial")
	states := map[string]string{}
	for _, tr := range trials {
		states[tr.Tags()["orrery.trial_number"]] = tr.Info.Status + "/" + tr.Tags()["orrery.trial_state"]
	}
	assert.Equal(t, map[string]string{"0": "FINISHED/COMPLETE", "1": "KILLED/PRUNED"}, states)

	// The deployment steps' alias moves, queued by the stages function.
	aliases := mlflowmirror.Aliases{ModelAliases: db, Queue: queue}
	require.NoError(t, aliases.SetModelAlias(ctx, store.ModelAlias{Environment: store.DefaultEnvironment, Name: modelName,
		Alias: store.LiveRegistryAlias(store.LiveAlias), ModelID: model.ID, Endpoint: store.LiveAlias}))
	res = invoke(`{}`)
	assert.Equal(t, Result{Sent: 1}, res)
	v, _ := rest.Alias(modelName, "live")
	assert.Equal(t, versions.ModelVersions[0].Version, v)
}

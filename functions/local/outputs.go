package main

// The Output sections of the commands' --help: what each prints, column by
// column, as the code in output.go, evaluate.go, studies.go and tune.go
// writes it.
func init() {
	for name, text := range map[string]string{
		"predict": `  CSV on stdout (or --out FILE; FITS for .fits/.fits.gz, Parquet for .parquet), one row per input row:
    row        the 1-based row of the input file
    predicted  the predicted class label, as written in the training data
    p_<class>  the probability of each class (they sum to 1)
  then one line on stderr: rows, the count of each predicted label, where the predictions went.
`,
		"jobs": `  JOB      the job or study id
  KIND     training, evaluation or optimization (a study)
  STATUS   QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED, or INTERRUPTED (no process runs it)
  STAGE    the stage running now or last run; for a study, trials finished/budget
  MODEL    the registered model of a training job that succeeded (- otherwise)
  CREATED  when it was created (RFC 3339)
`,
		"models": `  MODEL    the model id          NAME     its name            TYPE     mlp or logistic_regression
  AUC_ROC  test-split ROC AUC     F1       test-split F1       CREATED  when it was registered
  PATH     where its files are
`,
		"status": `  a table: job, status, stage, created, updated, attempts, model, error, and a progress line
  (stage, step/total (share done), metrics, ETA); for a study id, the study (trials, best trial).
  --json prints the record instead.
`,
		"evaluate": `  the evaluation id, rows and split, the test set's SHA-256 and the decision threshold; then
    metric  value  95% interval   one line per metric (bootstrap percentile interval)
  thresholds (f1, youden, at FPR targets), calibration (ECE), cross-validation (AUC ROC mean ±
  std over the folds), latency, warnings and the HTML report's path. --json: the whole result.
`,
		"compare": `  rows, the test set's SHA-256, the metric and alpha; then
    rank  model  <metric>  tied with   statistical ties share a rank
  and one line per pair and metric: difference and p-value of its test (McNemar, DeLong, bootstrap).
`,
		"train": `  the job and model ids, epochs run (best, stop reason), the decision threshold; the test-split
  metrics (accuracy, precision, recall, f1_score, auc_roc, auc_pr), per-class precision, recall,
  f1 and support, the confusion matrix (rows true, columns predicted) and the artifacts' paths.
  --json: the whole result (job_id, model_id, metrics, training, artifacts, config).
`,
		"tune": `  first the study id (stderr), then one row per finished trial (stderr):
    done  trial  value  best  epochs  elapsed
  then the study: trials and stop reason, the best trial's value and parameters, parameter
  importance and the report's path; with --train-best, the trained model as 'orrery train' shows it.
`,
	} {
		commandOutputs[name] = text
	}
	commandOutputs["run"] = commandOutputs["train"]
}

package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/mlflowmirror"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/tracking"
)

func num(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

// printSummary prints what `orrery run` and `orrery train` report.
func printSummary(w io.Writer, res *training.Result, dataName string) {
	m := res.Metrics
	rows, features := 0, 0
	if v := res.Validation; v != nil {
		rows = v.Rows
		features = len(res.Config.Features)
	}
	if features == 0 && res.Validation != nil {
		features = res.Validation.Columns - 1
	}
	total := 0.0
	for _, s := range res.Stages {
		total += s
	}
	fmt.Fprintf(w, "\nTrained %s on %s (%d rows, %d features) in %.1fs\n", res.Config.ModelType, dataName, rows, features, total)
	fmt.Fprintf(w, "  job %s  ->  model %s\n", res.JobID, res.ModelID)
	fmt.Fprintf(w, "  epochs %d (best %d, %s), decision threshold %s (chosen by %s on the validation split)\n",
		res.Training.EpochsRun, res.Training.BestEpoch, res.Training.StopReason, num(res.Threshold), res.Config.DecisionThreshold)
	for _, f := range res.Warnings {
		fmt.Fprintln(w, wrap("  warning: "+f.Message, "    "))
	}

	fmt.Fprintf(w, "\nTest-split metrics (%d rows):\n", m.Support)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  accuracy\t%s\n  precision\t%s\n  recall\t%s\n  f1_score\t%s\n  auc_roc\t%s\n  auc_pr\t%s\n",
		num(m.Accuracy), num(m.Precision), num(m.Recall), num(m.F1Score), num(m.AUCROC), num(m.AUCPR))
	tw.Flush()

	fmt.Fprintln(w, "\nPer class:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  class\tprecision\trecall\tf1\tsupport\t")
	for _, c := range m.ClassificationReport.Classes {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t\n", c.Label, num(c.Precision), num(c.Recall), num(c.F1Score), c.Support)
	}
	r := m.ClassificationReport
	fmt.Fprintf(tw, "  macro avg\t%s\t%s\t%s\t%d\t\n", num(r.MacroAvg.Precision), num(r.MacroAvg.Recall), num(r.MacroAvg.F1Score), r.MacroAvg.Support)
	fmt.Fprintf(tw, "  weighted avg\t%s\t%s\t%s\t%d\t\n", num(r.WeightedAvg.Precision), num(r.WeightedAvg.Recall), num(r.WeightedAvg.F1Score), r.WeightedAvg.Support)
	tw.Flush()

	if len(m.ConfusionMatrix) > 0 {
		fmt.Fprintln(w, "\nConfusion matrix (rows = true, columns = predicted):")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprint(tw, "  \t")
		for _, c := range m.Classes {
			fmt.Fprintf(tw, "%s\t", c)
		}
		fmt.Fprintln(tw)
		for i, row := range m.ConfusionMatrix {
			fmt.Fprintf(tw, "  %s\t", m.Classes[i])
			for _, v := range row {
				fmt.Fprintf(tw, "%d\t", v)
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
	}

	fmt.Fprintln(w, "\nArtifacts:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, k := range []string{"model", "manifest", "validation_report", "metrics", "history"} {
		if v, ok := res.Artifacts[k]; ok {
			fmt.Fprintf(tw, "  %s\t%s\n", k, displayPath(v))
		}
	}
	tw.Flush()
}

func cmdStatus(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "print the job as JSON")
	home := fs.String("home", "", "state directory")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("status: want one JOB_ID")
	}
	rt, err := openRuntime(ctx, *home, nil)
	if err != nil {
		return err
	}
	defer rt.Close()
	job, err := rt.DB.GetJob(ctx, pos[0])
	if errors.Is(err, store.ErrNotFound) {
		if found, serr := studyStatus(ctx, rt, pos[0], stdout, *jsonOut); found || serr != nil {
			return serr
		}
	}
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	j := listedJob{Job: job}
	if j.Interrupted, err = rt.Interrupted(ctx, job); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if j.Tracking, err = rt.TrackingStatus(ctx, job.ID); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if *jsonOut {
		return writeJSON(stdout, j)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "job\t%s\nstatus\t%s\nstage\t%s\ncreated\t%s\nupdated\t%s\n", j.ID, j.displayStatus(), j.Stage,
		j.CreatedAt.Format(time.RFC3339), j.UpdatedAt.Format(time.RFC3339))
	if j.Attempts > 1 || j.ResumedFrom != "" {
		fmt.Fprintf(tw, "attempts\t%d\n", j.Attempts)
	}
	if j.ResumedFrom != "" {
		fmt.Fprintf(tw, "resumed from\t%s\n", j.ResumedFrom)
	}
	if j.ModelID != "" {
		fmt.Fprintf(tw, "model\t%s\n", j.ModelID)
	}
	if j.Error != "" {
		fmt.Fprintf(tw, "error\t%s\n", j.Error)
	}
	if len(j.Progress) > 0 {
		var e tracking.Event
		if err := json.Unmarshal(j.Progress, &e); err == nil {
			fmt.Fprintf(tw, "progress\t%s\n", eventLine(e))
		}
	}
	if tr := j.Tracking; tr != nil {
		line := tr.State
		if tr.Pending > 0 {
			line += fmt.Sprintf(" (%d calls queued; 'orrery tracking sync %s' sends them)", tr.Pending, j.ID)
		}
		fmt.Fprintf(tw, "tracking\t%s\n", line)
		if tr.LastError != "" {
			fmt.Fprintf(tw, "tracking error\t%s\n", oneLine(errors.New(tr.LastError)))
		}
		if tr.RunURL != "" {
			fmt.Fprintf(tw, "mlflow run\t%s\n", tr.RunURL)
		}
	}
	return tw.Flush()
}

// eventLine is a progress event as one line: the stage, its step of
// the total with the share done, the metrics and the time left
// ("train  epoch 12/60 (20%)  loss 0.3100  val_auc_pr 0.9200  ETA 4s").
func eventLine(e tracking.Event) string {
	parts := []string{e.Stage}
	if e.Total > 0 {
		unit := orDefault(e.Unit, "step")
		parts = append(parts, fmt.Sprintf("%s %d/%d (%.0f%%)", unit, e.Step, e.Total, 100*float64(e.Step)/float64(e.Total)))
	}
	names := slices.Sorted(maps.Keys(e.Metrics))
	for _, n := range names {
		parts = append(parts, n+" "+num(e.Metrics[n]))
	}
	if e.ETASeconds > 0 {
		parts = append(parts, "ETA "+(time.Duration(e.ETASeconds)*time.Second).String())
	}
	if e.Message != "" {
		parts = append(parts, e.Message)
	}
	return strings.Join(parts, "  ")
}

func cmdJobs(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("jobs", flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "print as JSON")
	home := fs.String("home", "", "state directory")
	limit := fs.Int("limit", 20, "how many jobs")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	rt, err := openRuntime(ctx, *home, nil)
	if err != nil {
		return err
	}
	defer rt.Close()
	jobs, err := rt.DB.ListJobs(ctx, *limit)
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	listed := make([]listedJob, len(jobs))
	for i, j := range jobs {
		listed[i].Job = j
		if listed[i].Interrupted, err = rt.Interrupted(ctx, j); err != nil {
			return fmt.Errorf("jobs: %w", err)
		}
	}
	// Studies live in their own store; they are listed among the jobs,
	// newest first, with their trial count as their stage.
	studies, err := rt.DB.ListStudies(ctx, *limit)
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	for _, st := range studies {
		sum, err := summarizeStudy(ctx, rt, st.ID)
		if err != nil {
			return fmt.Errorf("jobs: %w", err)
		}
		listed = append(listed, listedJob{Job: store.Job{ID: st.ID, Kind: jobKindStudy, Status: st.Status,
			Stage: "trials " + sum.trials(), CreatedAt: st.CreatedAt, UpdatedAt: st.UpdatedAt}})
	}
	slices.SortStableFunc(listed, func(a, b listedJob) int { return b.CreatedAt.Compare(a.CreatedAt) })
	if *limit > 0 && len(listed) > *limit {
		listed = listed[:*limit]
	}
	if *jsonOut {
		return writeJSON(stdout, listed)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tKIND\tSTATUS\tSTAGE\tMODEL\tCREATED")
	for _, j := range listed {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.Kind, j.displayStatus(), j.Stage, orDefault(j.ModelID, "-"),
			j.CreatedAt.Format(time.RFC3339))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, j := range listed {
		if j.Interrupted && j.Kind == training.JobKindTraining {
			fmt.Fprintf(stdout, "\n%s was interrupted when the process running it stopped: 'orrery train --resume %s' continues it\n", j.ID, j.ID)
		}
	}
	return nil
}

// jobKindStudy is the kind `orrery jobs` gives the studies it lists.
const jobKindStudy = "optimization"

// listedJob is a job as `orrery jobs` lists it.
type listedJob struct {
	store.Job
	// Interrupted: the record says QUEUED or RUNNING, but no process runs
	// the job any more.
	Interrupted bool `json:"interrupted,omitempty"`
	// Tracking is the job's MLflow mirroring, with tracking on.
	Tracking *mlflowmirror.State `json:"tracking,omitempty"`
}

// displayStatus is the status to show: INTERRUPTED rather than a RUNNING
// that nothing runs.
func (j listedJob) displayStatus() string {
	if j.Interrupted {
		return "INTERRUPTED"
	}
	return string(j.Status)
}

func cmdModels(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("models", flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "print as JSON")
	home := fs.String("home", "", "state directory")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	rt, err := openRuntime(ctx, *home, nil)
	if err != nil {
		return err
	}
	defer rt.Close()
	models, err := rt.DB.ListModels(ctx)
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	listed := make([]listedModel, len(models))
	for i, m := range models {
		listed[i].Model = m
		if rt.Mirror != nil {
			if l, ok := rt.Mirror.ModelLink(ctx, m); ok {
				listed[i].MLflow = &l
			}
		}
	}
	if *jsonOut {
		return writeJSON(stdout, listed)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	header := "MODEL\tNAME\tTYPE\tAUC_ROC\tF1\tCREATED\tPATH"
	if rt.Mirror != nil {
		header += "\tMLFLOW"
	}
	fmt.Fprintln(tw, header)
	for _, lm := range listed {
		m := lm.Model
		var met struct {
			AUCROC float64 `json:"auc_roc"`
			F1     float64 `json:"f1_score"`
		}
		_ = json.Unmarshal(m.Metrics, &met)
		row := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s", m.ID, training.PrintableName(m.Name), m.ModelType, num(met.AUCROC), num(met.F1),
			m.CreatedAt.Format(time.RFC3339), displayPath(m.ArtifactURI))
		if rt.Mirror != nil {
			link := "-"
			if l := lm.MLflow; l != nil && l.Version != "" {
				link = l.VersionURL
			} else if l != nil {
				link = l.RunURL
			}
			row += "\t" + link
		}
		fmt.Fprintln(tw, row)
	}
	return tw.Flush()
}

// listedModel is a model as `orrery models` lists it: the registry record
// and, with tracking on, its MLflow run and model version.
type listedModel struct {
	store.Model
	MLflow *mlflowmirror.ModelLink `json:"mlflow,omitempty"`
}

func cmdPredict(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	modelID := fs.String("model", "", "registered model id")
	endpoint := fs.String("endpoint", "", "score through this endpoint's routes instead of one model")
	env := fs.String("env", store.DefaultEnvironment, "the endpoint's environment")
	data := fs.String("data", "", "CSV, Parquet, FITS or VOTable file to score")
	hdu := fs.String("hdu", "", "FITS HDU or VOTable TABLE (default: the first table)")
	out := fs.String("out", "", "write predictions to this file instead of stdout (CSV; FITS for .fits or .fits.gz, Parquet for .parquet)")
	home := fs.String("home", "", "state directory")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*modelID == "") == (*endpoint == "") || *data == "" {
		return usagef("predict: --data and one of --model or --endpoint are required")
	}
	if *out != "" && sameFile(*out, *data) {
		return usagef("predict: --out %s is the --data file: predictions would overwrite the data they score", *out)
	}
	rt, err := openRuntime(ctx, *home, nil)
	if err != nil {
		return err
	}
	defer rt.Close()
	if *endpoint != "" {
		// The whole file is one request: the endpoint's router sends it to
		// one version, by the routes' weights.
		if *modelID, err = routeModel(ctx, rt, *env, *endpoint); err != nil {
			return fmt.Errorf("predict: %w", err)
		}
		fmt.Fprintf(stderr, "endpoint %s (%s): served by model %s\n", *endpoint, *env, *modelID)
	}
	dir, err := rt.ModelDir(ctx, *modelID)
	if err != nil {
		return fmt.Errorf("predict: model %s: %w", *modelID, err)
	}
	model, err := nn.LoadDir(dir)
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	table, err := dataset.Read(ctx, dataset.WithHDU(*data, *hdu))
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	x, err := featureMatrix(table, model.Manifest.Features)
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	proba, err := model.PredictProba(ctx, x, table.Rows)
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	labels, err := model.Predict(ctx, x, table.Rows)
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	if err := writePredictions(ctx, stdout, *out, model, labels, proba); err != nil {
		return err
	}
	fmt.Fprintln(stderr, predictSummary(*modelID, model.Manifest.Classes, labels, *out))
	return nil
}

// predictSummary is predict's one line on stderr: rows, the count of each
// predicted label, and where the predictions went.
func predictSummary(modelID string, classes []string, labels []int, out string) string {
	counts := make([]int, len(classes))
	for _, l := range labels {
		counts[l]++
	}
	parts := make([]string, 0, len(classes))
	for k, c := range classes {
		parts = append(parts, fmt.Sprintf("%d %s", counts[k], c))
	}
	where := "stdout"
	if out != "" {
		where = out
	}
	return fmt.Sprintf("predicted %d rows with model %s: %s; written to %s", len(labels), modelID, strings.Join(parts, ", "), where)
}

// featureMatrix builds the model's input from a table, in the manifest's
// feature order.
func featureMatrix(t *dataset.Table, features []string) ([]float64, error) {
	x := make([]float64, t.Rows*len(features))
	for j, name := range features {
		c, ok := t.Column(name)
		if !ok {
			return nil, fmt.Errorf("%s has no column %q, which the model needs", t.Source, name)
		}
		if c.Kind != dataset.Numeric {
			return nil, fmt.Errorf("%s column %q is not numeric", t.Source, name)
		}
		if len(c.Invalid) > 0 {
			return nil, fmt.Errorf("%s column %q row %d: non-numeric value %q", t.Source, name, c.Invalid[0].Row, c.Invalid[0].Value)
		}
		for i := range t.Rows {
			x[i*len(features)+j] = c.Num[i]
		}
	}
	return x, nil
}

func writePredictions(ctx context.Context, stdout io.Writer, outPath string, m *nn.Model, labels []int, proba []float64) error {
	if outPath != "" {
		if f, err := dataset.FormatOf(outPath); err == nil && (f == dataset.FormatFITS || f == dataset.FormatParquet) {
			return writePredictionTable(ctx, outPath, m, labels, proba)
		}
	}
	w := stdout
	var f *os.File
	if outPath != "" {
		var err error
		if f, err = os.CreateTemp(dirOf(outPath), ".predictions-*.csv"); err != nil {
			return fmt.Errorf("predict: %w", err)
		}
		defer os.Remove(f.Name())
		w = f
	}
	cw := csv.NewWriter(w)
	classes := m.Manifest.Classes
	header := []string{"row", "predicted"}
	for _, c := range classes {
		header = append(header, "p_"+c)
	}
	_ = cw.Write(header)
	rec := make([]string, len(header))
	for i, l := range labels {
		rec[0] = strconv.Itoa(i + 1)
		rec[1] = classes[l]
		for k := range classes {
			rec[2+k] = strconv.FormatFloat(proba[i*len(classes)+k], 'g', 8, 64)
		}
		_ = cw.Write(rec)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("predict: write: %w", err)
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return fmt.Errorf("predict: %w", err)
		}
		if err := os.Rename(f.Name(), outPath); err != nil {
			return fmt.Errorf("predict: %w", err)
		}
	}
	return nil
}

// writePredictionTable writes the predictions as a FITS or Parquet table:
// row (the 1-based input row), predicted (the class label) and p_<class>
// for each class, the same columns as the CSV.
func writePredictionTable(ctx context.Context, path string, m *nn.Model, labels []int, proba []float64) error {
	classes := m.Manifest.Classes
	width := 1
	for _, c := range classes {
		width = max(width, len(c))
	}
	cols := []dataset.WriteColumn{{Name: "row", Type: dataset.Int64}, {Name: "predicted", Type: dataset.String, Width: width}}
	for _, c := range classes {
		cols = append(cols, dataset.WriteColumn{Name: "p_" + c, Type: dataset.Float64})
	}
	n := len(labels)
	batch := make([]dataset.Values, len(cols))
	batch[0].I, batch[1].S = make([]int64, n), make([]string, n)
	for k := range classes {
		batch[2+k].F = make([]float64, n)
	}
	for i, l := range labels {
		batch[0].I[i], batch[1].S[i] = int64(i+1), classes[l]
		for k := range classes {
			batch[2+k].F[i] = proba[i*len(classes)+k]
		}
	}
	w, err := dataset.CreateFile(path, cols, int64(n))
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	if err := w.Write(ctx, batch); err != nil {
		w.Abort()
		return fmt.Errorf("predict: write %s: %w", path, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	return nil
}

func dirOf(p string) string { return filepath.Dir(p) }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// sameFile reports whether out names the file data does (data may carry a
// FITS/VOTable table selector); a path that does not exist yet is no file.
func sameFile(out, data string) bool {
	file, _ := dataset.SplitHDU(data)
	a, err := os.Stat(out)
	if err != nil {
		return false
	}
	b, err := os.Stat(file)
	return err == nil && os.SameFile(a, b)
}

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
)

// cmdEvaluate implements `orrery evaluate`.
func cmdEvaluate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("evaluate", flag.ContinueOnError)
	var req evaluation.EvaluateRequest
	fs.StringVar(&req.ModelID, "model", "", "registered model id")
	fs.StringVar(&req.DatasetPath, "data", "", "CSV, Parquet, FITS or VOTable file to evaluate on")
	hdu := fs.String("hdu", "", "FITS HDU or VOTable TABLE (default: the first table)")
	fs.StringVar(&req.TargetColumn, "target", "", "target (label) column (default: the model's, from its manifest)")
	fs.StringVar(&req.PositiveClass, "positive", "", "positive class (default: the model's, from its manifest)")
	fs.IntVar(&req.CVFolds, "cv", 0, "cross-validate the model's training configuration with K folds")
	fs.StringVar(&req.CVStrategy, "cv-strategy", "", "stratified, k_fold, group, repeated_stratified or time_series")
	fs.IntVar(&req.CVRepeats, "cv-repeats", 0, "repeats of repeated_stratified")
	fs.StringVar(&req.GroupColumn, "group", "", "group column for --cv-strategy group")
	fs.IntVar(&req.CVWorkers, "workers", 0, "folds trained at once (default: every core)")
	fs.IntVar(&req.BootstrapResamples, "bootstrap", 0, "bootstrap resamples for the confidence intervals (default 1000)")
	fs.StringVar(&req.Calibration, "calibrate", "", "platt or isotonic")
	fs.StringVar(&req.SliceColumn, "slice", "", "column to slice the results by")
	fs.StringVar(&req.SaveThreshold, "save-threshold", "", "register a model version with this threshold: f1, youden, fpr:R, recall:R")
	fs.Func("threshold", "evaluate at this binary decision threshold in (0, 1) instead of the model's (the model is unchanged)", func(v string) error {
		t, err := strconv.ParseFloat(v, 64)
		if err != nil || !(t > 0 && t < 1) {
			return fmt.Errorf("%q is not a number in (0, 1)", v)
		}
		req.Threshold = t
		return nil
	})
	jsonOut := fs.Bool("json", false, "print the result as one JSON object")
	home := fs.String("home", "", "state directory")
	progress := fs.String("progress", "", "bar, json or none (default: bar; none with --json)")
	quiet := fs.Bool("quiet", false, "no progress display")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("evaluate: unexpected argument %q", pos[0])
	}
	if req.ModelID == "" || req.DatasetPath == "" {
		return usagef("evaluate: --model and --data are required")
	}
	rec, flush, err := progressRecorder(*progress, *quiet, *jsonOut, stderr)
	if err != nil {
		return err
	}
	defer flush()
	rt, err := openRuntime(ctx, *home, rec)
	if err != nil {
		return err
	}
	defer rt.Close()
	if req.TargetColumn == "" || req.PositiveClass == "" {
		dir, err := rt.ModelDir(ctx, req.ModelID)
		if err != nil {
			return fmt.Errorf("evaluate: model %s: %w", req.ModelID, err)
		}
		m, err := nn.LoadDir(dir)
		if err != nil {
			return fmt.Errorf("evaluate: model %s: %w", req.ModelID, err)
		}
		if req.TargetColumn == "" {
			req.TargetColumn = m.Manifest.Target
		}
		if req.PositiveClass == "" {
			req.PositiveClass = m.Manifest.PositiveClass
		}
		if req.TargetColumn == "" {
			return usagef("evaluate: model %s records no target column; give --target", req.ModelID)
		}
	}
	if err := req.Validate(); err != nil {
		return usagef("evaluate: %v", err)
	}
	if !fileExists(dataFile(req.DatasetPath)) {
		return fmt.Errorf("evaluate: data file %s does not exist", req.DatasetPath)
	}
	req.DatasetPath = dataset.WithHDU(req.DatasetPath, *hdu)
	res, err := rt.Evaluate(ctx, req)
	flush()
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeIndented(stdout, res)
	}
	printEvaluation(stdout, res)
	return nil
}

func writeIndented(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func printEvaluation(w io.Writer, res *evaluation.EvaluationResult) {
	fmt.Fprintln(w, wrap(fmt.Sprintf("evaluation %s of model %s on %d rows (%s)", res.EvaluationID, res.ModelID, res.Rows, res.Split), "  "))
	fmt.Fprintf(w, "test set SHA-256 %s\n", res.TestSetHash)
	switch res.ThresholdSource {
	case evaluation.ThresholdFromRequest:
		fmt.Fprintf(w, "decision threshold %s (requested; the model's own is %s)\n", num(res.DecisionThreshold), num(res.ModelThreshold))
	case evaluation.ThresholdFromModel:
		fmt.Fprintf(w, "decision threshold %s (the model's own)\n", num(res.DecisionThreshold))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-36s %10s   %s\n", "metric", "value", "95% interval")
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range res.ConfidenceIntervals {
			if !yield(n) {
				return
			}
		}
	})
	for _, n := range names {
		iv := res.ConfidenceIntervals[n]
		fmt.Fprintf(w, "%-36s %10s   [%s, %s]\n", n, num(iv.Estimate), num(iv.Lower), num(iv.Upper))
	}
	if t := res.Thresholds; t != nil {
		line := fmt.Sprintf("thresholds: f1 %s, youden %s", num(t.F1.Threshold), num(t.Youden.Threshold))
		for _, p := range t.AtFPR {
			line += fmt.Sprintf(", fpr<=%g %s (recall %s)", p.Target, num(p.Threshold), num(p.Recall))
		}
		fmt.Fprintln(w, "\n"+wrap(line, "  "))
	}
	if c := res.Calibration; c != nil {
		fmt.Fprintf(w, "calibration: ECE %s", num(c.ECE))
		if c.After != nil {
			fmt.Fprintf(w, " -> %s after %s", num(c.After.ECE), c.Method)
		}
		fmt.Fprintln(w)
	}
	if cv := res.CrossValidation; cv != nil {
		s := cv.Summary["auc_roc"]
		fmt.Fprintf(w, "cross-validation %s: AUC ROC %s ± %s over %d folds (%d workers, %.1f s)\n",
			cv.Splitter, num(s.Mean), num(s.Std), s.Folds, cv.Workers, cv.Seconds)
	}
	if l := res.Latency; l != nil {
		fmt.Fprintf(w, "latency: row p50 %.3f ms p99 %.3f ms; batch of %d p50 %.3f ms; %.0f rows/s\n",
			l.RowP50Ms, l.RowP99Ms, l.BatchSize, l.BatchP50Ms, l.RowsPerSecond)
	}
	if res.DerivedModelID != "" {
		fmt.Fprintf(w, "registered model %s with the chosen threshold\n", res.DerivedModelID)
	}
	for _, warn := range res.Warnings {
		fmt.Fprintln(w, wrap("warning: "+warn, "  "))
	}
	fmt.Fprintln(w, wrap("report: "+displayPath(res.Report["report.html"]), "  "))
}

// cmdCompare implements `orrery compare MODEL_ID MODEL_ID ... --data PATH`.
func cmdCompare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	var req evaluation.CompareRequest
	fs.StringVar(&req.DatasetPath, "data", "", "CSV, Parquet, FITS or VOTable file to compare on")
	compareHDU := fs.String("hdu", "", "FITS HDU or VOTable TABLE (default: the first table)")
	fs.StringVar(&req.TargetColumn, "target", "", "target (label) column (default: each model's)")
	fs.StringVar(&req.PositiveClass, "positive", "", "positive class (default: the models')")
	fs.StringVar(&req.Metric, "metric", "", "auc_roc (default), accuracy, auc_pr or f1_score")
	fs.Float64Var(&req.Alpha, "alpha", 0, "significance level (default 0.05)")
	fs.IntVar(&req.BootstrapResamples, "bootstrap", 0, "paired bootstrap resamples (default 1000)")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object")
	home := fs.String("home", "", "state directory")
	progress := fs.String("progress", "", "bar, json or none (default: bar; none with --json)")
	quiet := fs.Bool("quiet", false, "no progress display")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	req.ModelIDs = pos
	if req.DatasetPath == "" || len(pos) < 2 {
		return usagef("compare: give two or more MODEL_IDs and --data PATH")
	}
	req.DatasetPath = dataset.WithHDU(req.DatasetPath, *compareHDU)
	rec, flush, err := progressRecorder(*progress, *quiet, *jsonOut, stderr)
	if err != nil {
		return err
	}
	defer flush()
	rt, err := openRuntime(ctx, *home, rec)
	if err != nil {
		return err
	}
	defer rt.Close()
	if req.TargetColumn == "" {
		dir, err := rt.ModelDir(ctx, pos[0])
		if err != nil {
			return fmt.Errorf("compare: model %s: %w", pos[0], err)
		}
		if req.TargetColumn, err = manifestTarget(dir); err != nil {
			return fmt.Errorf("compare: %w", err)
		}
	}
	if err := req.Validate(); err != nil {
		return usagef("compare: %v", err)
	}
	res, err := rt.Compare(ctx, req)
	flush()
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeIndented(stdout, res)
	}
	fmt.Fprintf(stdout, "%d rows, test set SHA-256 %s…;\nranked by %s at alpha %g\n\n", res.Rows, res.TestSetHash[:min(16, len(res.TestSetHash))],
		res.Metric, res.Alpha)
	// Models are numbered in ranking order; the pair tests name them so.
	label := map[string]string{}
	fmt.Fprintf(stdout, "%-3s %-4s %-36s %10s  %s\n", "#", "rank", "model", res.Metric, "tied with")
	for i, m := range res.Ranking {
		label[m.Name] = fmt.Sprintf("#%d", i+1)
	}
	for i, m := range res.Ranking {
		tied := make([]string, len(m.TiedWith))
		for k, name := range m.TiedWith {
			tied[k] = label[name]
		}
		fmt.Fprintf(stdout, "#%-2d %-4d %-36s %10s  %s\n", i+1, m.Rank, training.PrintableName(m.Name), num(m.Value), strings.Join(tied, ", "))
	}
	fmt.Fprintf(stdout, "\n%-9s %-9s %-17s %10s %8s\n", "pair", "metric", "test", "difference", "p")
	for _, t := range res.Tests {
		fmt.Fprintf(stdout, "%-9s %-9s %-17s %10s %8s\n", label[t.ModelA]+" vs "+label[t.ModelB], t.Metric, t.Test, num(t.Difference), num(t.PValue))
	}
	return nil
}

// manifestTarget returns the target column a model was trained on.
func manifestTarget(dir string) (string, error) {
	m, err := nn.LoadDir(dir)
	if err != nil {
		return "", err
	}
	return m.Manifest.Target, nil
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/orrery-ml/orrery/events"
	"github.com/orrery-ml/orrery/shared/embedded"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/optimizationjob"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/localexec"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// tuneUsage is the `orrery tune` line of the usage text.
const tuneUsage = `  orrery tune    --data PATH --target COL [--positive V] [--hdu N|NAME] [--space FILE] [--strategy grid|random|sobol|bayesian]
                 [--trials N] [--pruner none|median|percentile|asha|hyperband|patience] [--epochs N] [--config FILE]
                 [--workers N] [--study ID] [--resume STUDY_ID] [--train-best] [--json] [--home DIR]
                 tune an MLP's hyperparameters (--data sample: the bundled HTRU2 data); prints the
                 study id first, then a row per trial (done, trial, value, best, epochs, elapsed)
                 and the best trial; --train-best then trains it into a registered model
`

// tuneOutput is what `orrery tune --json` prints.
type tuneOutput struct {
	StudyID    string                 `json:"study_id"`
	Strategy   string                 `json:"strategy"`
	Pruner     string                 `json:"pruner"`
	StopReason string                 `json:"stop_reason"`
	BestTrial  *bestTrial             `json:"best_trial"`
	Trials     []optimization.Trial   `json:"trials"`
	Analysis   *optimization.Analysis `json:"analysis"`
	Report     string                 `json:"report"`
	Seconds    float64                `json:"seconds"`
	Epochs     float64                `json:"epochs_trained"`
	// Trained is the training result of the best trial (--train-best).
	Trained *training.Result `json:"trained,omitempty"`
}

type bestTrial struct {
	Number int                 `json:"number"`
	Params optimization.Params `json:"params"`
	Value  float64             `json:"value"`
}

func samplerFor(strategy string) (optimization.Sampler, error) {
	switch strategy {
	case "grid":
		return optimization.GridSearchOptimizer{}, nil
	case "random":
		return optimization.RandomSearchOptimizer{}, nil
	case "sobol":
		return optimization.RandomSearchOptimizer{Sobol: true}, nil
	case "bayesian", "":
		return optimization.BayesianOptimizer{}, nil
	}
	return nil, usagef("tune: --strategy %q is not grid, random, sobol or bayesian", strategy)
}

// readSpace reads a search space file: either typed dimensions
// ({"dimensions": [...]}) or the seed's HyperparameterSpace.
func readSpace(path string) (optimization.Space, error) {
	if path == "" {
		return optimization.DefaultHyperparameterSpace().Space()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return optimization.Space{}, fmt.Errorf("space: %w", err)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, &probe); err != nil {
		return optimization.Space{}, fmt.Errorf("space %s: %w", path, err)
	}
	if _, ok := probe["dimensions"]; ok {
		var sp optimization.Space
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sp); err != nil {
			return optimization.Space{}, fmt.Errorf("space %s: %w", path, err)
		}
		return sp, sp.Validate()
	}
	var h optimization.HyperparameterSpace
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return optimization.Space{}, fmt.Errorf("space %s: %w", path, err)
	}
	return h.Space()
}

// cmdTune implements `orrery tune`: the study runs through the
// `optimization` state machine on the local executor — what `orrery serve`
// and Step Functions run — journaled, so an interrupted study continues
// with --resume.
func cmdTune(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tune", flag.ContinueOnError)
	data := fs.String("data", "", "CSV, Parquet, FITS or VOTable file, or 'sample' for the bundled HTRU2 data")
	hdu := fs.String("hdu", "", "FITS HDU or VOTable TABLE (default: the first table)")
	target := fs.String("target", "", "target (label) column")
	positive := fs.String("positive", "", "positive class")
	spacePath := fs.String("space", "", "search space JSON file")
	configPath := fs.String("config", "", "TrainingConfig JSON file every trial starts from (--data, --target, --positive and --epochs override it)")
	strategy := fs.String("strategy", "bayesian", "grid, random, sobol or bayesian")
	trials := fs.Int("trials", 20, "number of trials")
	prunerName := fs.String("pruner", "asha", "none, median, percentile, asha, hyperband or patience")
	epochs := fs.Int("epochs", 20, "epochs per trial")
	workers := fs.Int("workers", 1, "trials run in parallel")
	studyID := fs.String("study", "", "id of the new study (default hpo-<time>)")
	resume := fs.String("resume", "", "continue the interrupted study STUDY_ID")
	seed := fs.Uint64("seed", 1, "sampler seed")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object")
	home := fs.String("home", "", "state directory")
	quiet := fs.Bool("quiet", false, "no live table")
	trainBest := fs.Bool("train-best", false, "then train the best trial's configuration into a registered model (as 'orrery train --from-trial')")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("tune: unexpected argument %q", pos[0])
	}
	if *resume != "" && (*data != "" || *studyID != "" || *spacePath != "" || *configPath != "") {
		return usagef("tune: --resume continues a study with its own settings; it takes no --data, --space, --config or --study")
	}
	if *resume == "" && *data == "" {
		return usagef("tune: --data is required")
	}
	if *trials < 1 || *epochs < 1 || *workers < 1 {
		return usagef("tune: --trials, --epochs and --workers must be positive")
	}
	if _, err := samplerFor(*strategy); err != nil {
		return err
	}
	if _, err := optimization.ParsePruner(*prunerName, *epochs); err != nil {
		return usagef("tune: --pruner: %v", err)
	}
	var space optimization.Space
	if *resume == "" {
		if space, err = readSpace(*spacePath); err != nil {
			return err
		}
	}
	rt, err := openRuntime(ctx, *home, nil)
	if err != nil {
		return err
	}
	defer rt.Close()
	stores := rt.OptimizationStores()
	total := *trials
	if *resume != "" {
		if _, spec, _, err := optimization.LoadSpec(ctx, stores, *resume); err == nil {
			total = spec.Budget.Trials
		}
	}
	var rec tracking.Recorder = tracking.Discard
	if !*quiet && !*jsonOut {
		rec = newTrialTable(stderr, total)
	}
	x, err := rt.Executions(embedded.ExecutionOptions{Trials: rec})
	if err != nil {
		return err
	}
	stopAll := func() error {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return x.Close(closeCtx)
	}
	id := *resume
	if id != "" {
		if err := x.ResumeExecution(ctx, pipeline.MachineOptimization, id); err != nil {
			_ = stopAll()
			return tuneResumeError(id, err)
		}
	} else {
		path, tgt, pv := *data, *target, *positive
		if path == "sample" {
			if path, err = events.WriteSample(rt.SamplesDir()); err != nil {
				return err
			}
			if tgt == "" {
				tgt, pv = events.SampleTarget, events.SamplePositive
			}
		}
		if tgt == "" {
			return usagef("tune: --target is required")
		}
		if !fileExists(dataFile(path)) {
			return fmt.Errorf("tune: data file %s does not exist", path)
		}
		now := time.Now().UTC()
		id = *studyID
		if id == "" {
			id = training.NewID("hpo", now)
		}
		base := training.TrainingConfig{Seed: 42}
		if *configPath != "" {
			f, err := os.Open(*configPath)
			if err != nil {
				return fmt.Errorf("tune: config: %w", err)
			}
			base, err = training.DecodeConfig(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("tune: config %s: %w", *configPath, err)
			}
		}
		if *spacePath == "" && training.IsTree(base.ModelType) {
			space = optimization.DefaultTreeSpace(base.ModelType)
		}
		base.DatasetPath, base.TargetColumn, base.PositiveClass, base.Epochs = path, tgt, pv, *epochs
		if *hdu != "" {
			base.HDU = *hdu
		}
		spec := optimization.StudySpec{Space: space, Directions: []optimization.Direction{optimization.Maximize},
			Objectives: []string{optimization.ObjectiveAUCPR}, Seed: *seed, Strategy: *strategy, Pruner: *prunerName,
			Budget: optimization.Budget{Trials: *trials}, Parallel: *workers, Base: &base, StartedAt: now}
		err := optimization.CreateStudy(ctx, stores, id, filepath.Base(path), spec)
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("tune: study %s exists; choose another --study (or --resume %s if it was interrupted)", id, id)
		}
		if err != nil {
			return err
		}
		if !*quiet {
			// First, so that the id is at hand whatever happens next.
			fmt.Fprintln(stderr, wrap(fmt.Sprintf("study %s: %d trials of %d epochs (%s, pruner %s); if interrupted, 'orrery tune --resume %s' continues it",
				id, *trials, *epochs, *strategy, *prunerName, id), "  "))
		}
		if err := (pipeline.Flows{Executions: x}).StartStudy(ctx, optimizationjob.ExecutionInput(id, spec)); err != nil {
			_ = stopAll()
			return err
		}
	}
	start := time.Now()
	d, err := x.Wait(ctx, pipeline.MachineOptimization, id)
	closeErr := stopAll()
	if ctx.Err() != nil || err == nil && d.Status == pipeline.StatusRunning {
		return fmt.Errorf("interrupted: study %s keeps its finished trials; 'orrery tune --resume %s' continues it", id, id)
	}
	if err != nil {
		return err
	}
	if closeErr != nil {
		return closeErr
	}
	res, err := optimization.Results(ctx, stores, id)
	if err != nil {
		return err
	}
	if d.Status != pipeline.StatusSucceeded {
		return fmt.Errorf("tune: study %s %s: %s", id, d.Status, orDefault(res.Error, d.Cause))
	}
	out := tuneOutput{StudyID: id, Strategy: res.Spec.Strategy, Pruner: res.Spec.Pruner, StopReason: res.StopReason,
		Trials: res.Trials, Analysis: res.Analysis, Seconds: time.Since(start).Seconds()}
	if res.ReportKey != "" {
		if out.Report, err = rt.Artifacts.Path(res.ReportKey); err != nil {
			return err
		}
	}
	for _, t := range res.Trials {
		out.Epochs += t.Cost
	}
	if b := res.BestTrial; b != nil && len(b.Values) > 0 {
		out.BestTrial = &bestTrial{Number: b.Number, Params: b.Params, Value: b.Values[0]}
	}
	if *trainBest {
		if out.BestTrial == nil {
			return fmt.Errorf("tune --train-best: study %s: no trial completed", id)
		}
		if out.Trained, err = trainStudyBest(ctx, rt, id, *quiet || *jsonOut, stderr); err != nil {
			return err
		}
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if out.BestTrial == nil {
		return fmt.Errorf("tune: study %s: no trial completed", id)
	}
	fmt.Fprintf(stdout, "\nStudy %s: %d trials (%s), %.0f epochs trained in %.1fs\n", id, len(out.Trials), out.StopReason, out.Epochs, out.Seconds)
	fmt.Fprintf(stdout, "  best trial %d: val_auc_pr %.4f\n", out.BestTrial.Number, out.BestTrial.Value)
	for _, dim := range res.Spec.Space.Dimensions {
		if v, ok := out.BestTrial.Params.String(dim.Name); ok {
			fmt.Fprintf(stdout, "    %-16s %s\n", dim.Name, v)
		}
	}
	if out.Analysis != nil {
		if len(out.Analysis.Importance) > 0 {
			fmt.Fprintln(stdout, "  parameter importance:")
		}
		for _, imp := range out.Analysis.Importance {
			fmt.Fprintf(stdout, "    %-16s %.3f\n", imp.Name, imp.Importance)
		}
		for _, why := range out.Analysis.Omitted {
			fmt.Fprintf(stdout, "  %s\n", why)
		}
	}
	if out.Report != "" {
		fmt.Fprintln(stdout, wrap("  report: "+displayPath(out.Report), "    "))
	}
	if r := out.Trained; r != nil {
		printSummary(stdout, r, filepath.Base(r.Config.DatasetPath))
	} else {
		fmt.Fprintf(stdout, "  'orrery train --from-trial %s' trains the best trial into a model\n", id)
	}
	return nil
}

// trainStudyBest trains the best trial's configuration of a finished study
// through the training state machine, showing its progress bars.
func trainStudyBest(ctx context.Context, rt *embedded.Runtime, id string, quiet bool, stderr io.Writer) (*training.Result, error) {
	cfg, t, err := optimization.TrialConfig(ctx, rt.OptimizationStores(), id, optimization.BestTrialNumber)
	if err != nil {
		return nil, fmt.Errorf("tune --train-best: %w", err)
	}
	rec, flush, err := progressRecorder("", quiet, false, stderr)
	if err != nil {
		return nil, err
	}
	if !quiet {
		fmt.Fprintf(stderr, "training study %s's best trial %d into a model\n", id, t.Number)
	}
	rt.Pipeline.Recorder = rec
	x, err := rt.Executions(embedded.ExecutionOptions{Parallel: 1})
	if err != nil {
		flush()
		return nil, err
	}
	res, err := rt.Train(ctx, x, cfg)
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	closeErr := x.Close(closeCtx)
	flush()
	var stopped *embedded.Interrupted
	if errors.As(err, &stopped) {
		return nil, fmt.Errorf("interrupted: training job %s is saved at its last checkpoint; 'orrery train --resume %s' continues it",
			stopped.JobID, stopped.JobID)
	}
	if err != nil {
		return nil, fmt.Errorf("tune --train-best: %w", err)
	}
	return res, closeErr
}

// tuneResumeError says why a study cannot be resumed.
func tuneResumeError(id string, err error) error {
	switch {
	case errors.Is(err, localexec.ErrEnded):
		return fmt.Errorf("tune --resume %s: the study has ended; nothing to resume", id)
	case errors.Is(err, localexec.ErrBusy):
		return fmt.Errorf("tune --resume %s: another orrery process is running it", id)
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("tune --resume %s: no study execution of that id on this home", id)
	}
	return err
}

// trialTable prints one line per finished trial as the study runs.
type trialTable struct {
	mu     sync.Mutex
	w      io.Writer
	total  int
	header bool
	start  time.Time
}

func newTrialTable(w io.Writer, total int) *trialTable {
	return &trialTable{w: w, total: total, start: time.Now()}
}

// Record prints trial events as table rows.
func (t *trialTable) Record(_ context.Context, e tracking.Event) error {
	if e.Kind != tracking.Progress || e.Stage != "tune" {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.header {
		fmt.Fprintf(t.w, "%-8s %-22s %10s %10s %7s %8s\n", "done", "trial", "value", "best", "epochs", "elapsed")
		t.header = true
	}
	f := func(k string) string {
		v, ok := e.Metrics[k]
		if !ok || math.IsNaN(v) {
			return "-"
		}
		return fmt.Sprintf("%.4f", v)
	}
	fmt.Fprintf(t.w, "%3d/%-4d %-22s %10s %10s %7.0f %7.0fs\n", e.Step, t.total, e.Message, f("value"), f("best"),
		e.Metrics["cost"], time.Since(t.start).Seconds())
	return nil
}

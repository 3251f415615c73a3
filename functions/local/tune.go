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
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// tuneUsage is the `orrery tune` line of the usage text.
const tuneUsage = `  orrery tune    --data PATH --target COL [--positive V] [--hdu N|NAME] [--space FILE] [--strategy grid|random|sobol|bayesian]
                 [--trials N] [--pruner none|median|percentile|asha|hyperband|patience] [--epochs N]
                 [--workers N] [--study ID] [--json] [--home DIR]
                 tune an MLP's hyperparameters (--data sample: the bundled HTRU2 data)
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

// cmdTune implements `orrery tune`.
func cmdTune(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tune", flag.ContinueOnError)
	data := fs.String("data", "", "CSV, Parquet, FITS or VOTable file, or 'sample' for the bundled HTRU2 data")
	hdu := fs.String("hdu", "", "FITS HDU or VOTable TABLE (default: the first table)")
	target := fs.String("target", "", "target (label) column")
	positive := fs.String("positive", "", "positive class")
	spacePath := fs.String("space", "", "search space JSON file")
	strategy := fs.String("strategy", "bayesian", "grid, random, sobol or bayesian")
	trials := fs.Int("trials", 20, "number of trials")
	prunerName := fs.String("pruner", "asha", "none, median, percentile, asha, hyperband or patience")
	epochs := fs.Int("epochs", 20, "epochs per trial")
	workers := fs.Int("workers", 1, "trials run in parallel")
	studyID := fs.String("study", "", "study id (an existing one is extended)")
	seed := fs.Uint64("seed", 1, "sampler seed")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object")
	home := fs.String("home", "", "state directory")
	quiet := fs.Bool("quiet", false, "no live table")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("tune: unexpected argument %q", pos[0])
	}
	if *data == "" {
		return usagef("tune: --data is required")
	}
	if *trials < 1 || *epochs < 1 || *workers < 1 {
		return usagef("tune: --trials, --epochs and --workers must be positive")
	}
	sampler, err := samplerFor(*strategy)
	if err != nil {
		return err
	}
	pruner, err := optimization.ParsePruner(*prunerName, *epochs)
	if err != nil {
		return usagef("tune: --pruner: %v", err)
	}
	space, err := readSpace(*spacePath)
	if err != nil {
		return err
	}
	rt, err := openRuntime(ctx, *home, nil)
	if err != nil {
		return err
	}
	defer rt.Close()
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
	base := training.TrainingConfig{Epochs: *epochs, Seed: 42, HDU: *hdu}
	prepared, err := optimization.PrepareData(ctx, path, tgt, pv, base)
	if err != nil {
		return err
	}
	id := *studyID
	if id == "" {
		id = "hpo-" + time.Now().UTC().Format("20060102-150405")
	}
	obj := optimization.TrainingObjective{Data: prepared, Base: base, StudyID: id,
		Checkpoints: training.DirCheckpointer{Dir: filepath.Join(rt.Home, "artifacts", "checkpoints", "studies", id)}}
	st := &optimization.Study{ID: id, Name: filepath.Base(path), Space: space, Directions: obj.Directions(),
		Objectives: []string{optimization.ObjectiveAUCPR}, Seed: *seed}
	var rec tracking.Recorder = tracking.Discard
	if !*quiet && !*jsonOut {
		rec = newTrialTable(stderr, *trials)
	}
	o := &optimization.HyperparameterOptimizer{Sampler: sampler, Pruner: pruner, Workers: *workers,
		Budget: optimization.Budget{Trials: *trials}, Studies: rt.DB, Trials: rt.DB, Recorder: rec, Strategy: *strategy}
	res, err := o.Optimize(ctx, st, obj)
	if err != nil {
		return err
	}
	analysis := optimization.Analyze(res.Study)
	reportDir := filepath.Join(rt.Home, "artifacts", "studies", id)
	report, err := optimization.WriteReport(reportDir, res.Study, analysis)
	if err != nil {
		return err
	}
	out := tuneOutput{StudyID: id, Strategy: *strategy, Pruner: *prunerName, StopReason: res.StopReason,
		Trials: res.Study.Trials, Analysis: analysis, Report: report, Seconds: res.Seconds, Epochs: res.TotalCost}
	if b, ok := res.Study.Best(); ok {
		out.BestTrial = &bestTrial{Number: b.Number, Params: b.Params, Value: b.Values[0]}
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if out.BestTrial == nil {
		return errors.New("tune: no trial completed")
	}
	fmt.Fprintf(stdout, "\nStudy %s: %d trials (%s), %.0f epochs trained in %.1fs\n", id, len(out.Trials), res.StopReason, res.TotalCost, res.Seconds)
	fmt.Fprintf(stdout, "  best trial %d: val_auc_pr %.4f\n", out.BestTrial.Number, out.BestTrial.Value)
	for _, d := range space.Dimensions {
		if v, ok := out.BestTrial.Params.String(d.Name); ok {
			fmt.Fprintf(stdout, "    %-16s %s\n", d.Name, v)
		}
	}
	fmt.Fprintln(stdout, "  parameter importance:")
	for _, imp := range analysis.Importance {
		fmt.Fprintf(stdout, "    %-16s %.3f\n", imp.Name, imp.Importance)
	}
	fmt.Fprintf(stdout, "  report: %s\n", report)
	return nil
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

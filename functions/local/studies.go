package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/orrery-ml/orrery/shared/embedded"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/optimizationjob"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store"
)

const studiesUsage = `  orrery studies list [--json] [--limit N] [--home DIR]   hyperparameter studies, newest first
                 (STUDY, STATUS, TRIALS done/total, BEST value, NAME, CREATED)
  orrery studies show STUDY_ID [--json] [--home DIR]      one study's status, trials and best trial
  orrery studies cancel STUDY_ID [--reason TEXT] [--home DIR]
                 stop a running study for good (CANCELLED; its finished trials stay)
`

func init() {
	commands["studies"] = func(ctx context.Context, args []string, stdout, _ io.Writer) error {
		return cmdStudies(ctx, args, stdout)
	}
}

// cmdStudies lists or shows the optimization studies, which live in their
// own store rather than among the jobs.
func cmdStudies(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef("studies: want list or show\n%s", studiesUsage)
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("studies "+sub, flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "print as JSON")
	home := fs.String("home", "", "state directory")
	limit := fs.Int("limit", 20, "how many studies (0 = all)")
	reason := fs.String("reason", "", "cancel: why, recorded with the study")
	pos, err := parseFlags(fs, rest)
	if err != nil {
		return err
	}
	switch {
	case sub == "list" && len(pos) == 0:
	case (sub == "show" || sub == "cancel") && len(pos) == 1:
	default:
		return usagef("studies: want 'list', 'show STUDY_ID' or 'cancel STUDY_ID'\n%s", studiesUsage)
	}
	rt, err := openRuntime(ctx, *home, nil)
	if err != nil {
		return err
	}
	defer rt.Close()
	if sub == "cancel" {
		return cancelStudy(ctx, rt, pos[0], *reason, stdout)
	}
	if sub == "show" {
		sum, err := summarizeStudy(ctx, rt, pos[0])
		if err != nil {
			return fmt.Errorf("studies show %s: %w", pos[0], err)
		}
		return printStudy(stdout, sum, *jsonOut)
	}
	list, err := rt.DB.ListStudies(ctx, *limit)
	if err != nil {
		return fmt.Errorf("studies list: %w", err)
	}
	sums := make([]studySummary, 0, len(list))
	for _, s := range list {
		sum, err := summarizeStudy(ctx, rt, s.ID)
		if err != nil {
			return fmt.Errorf("studies list: %w", err)
		}
		sums = append(sums, sum)
	}
	if *jsonOut {
		return writeJSON(stdout, sums)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STUDY\tSTATUS\tTRIALS\tBEST\tNAME\tCREATED")
	for _, s := range sums {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Status, s.trials(), s.best(), training.PrintableName(s.Name), s.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

// studySummary is a study as `orrery studies` and `orrery status` show
// it: the record, trial counts and the best trial.
type studySummary struct {
	store.Study
	Objective  string         `json:"objective,omitempty"`
	Finished   int            `json:"trials_finished"`
	Budget     int            `json:"trials_budget,omitempty"`
	Counts     map[string]int `json:"trial_counts"`
	BestTrial  *int           `json:"best_trial,omitempty"`
	BestValue  *float64       `json:"best_value,omitempty"`
	StopReason string         `json:"stop_reason,omitempty"`
	Error      string         `json:"error,omitempty"`
	Report     string         `json:"report,omitempty"`
}

func summarizeStudy(ctx context.Context, rt *embedded.Runtime, id string) (studySummary, error) {
	rec, err := rt.DB.GetStudy(ctx, id)
	if err != nil {
		return studySummary{}, err
	}
	res, err := optimization.Results(ctx, rt.OptimizationStores(), id)
	if err != nil {
		return studySummary{}, err
	}
	rec.Config, rec.State = nil, nil // the spec and the optimizer's state: `orrery tune --json` and the API show them
	sum := studySummary{Study: rec, Budget: res.Spec.Budget.Trials, Counts: res.Counts, StopReason: res.StopReason, Error: res.Error}
	if len(res.Spec.Objectives) > 0 {
		sum.Objective = res.Spec.Objectives[0]
	}
	for _, t := range res.Trials {
		if t.State.Finished() {
			sum.Finished++
		}
	}
	if b := res.BestTrial; b != nil && len(b.Values) > 0 {
		n, v := b.Number, b.Values[0]
		sum.BestTrial, sum.BestValue = &n, &v
	}
	if res.ReportKey != "" {
		sum.Report, _ = rt.Artifacts.Path(res.ReportKey)
	}
	return sum, nil
}

func (s studySummary) trials() string {
	if s.Budget > 0 {
		return fmt.Sprintf("%d/%d", s.Finished, s.Budget)
	}
	return strconv.Itoa(s.Finished)
}

func (s studySummary) best() string {
	if s.BestValue == nil {
		return "-"
	}
	return fmt.Sprintf("%s (#%d)", num(*s.BestValue), *s.BestTrial)
}

func printStudy(w io.Writer, s studySummary, jsonOut bool) error {
	if jsonOut {
		return writeJSON(w, s)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "study\t%s\nstatus\t%s\n", s.ID, s.Status)
	if s.Name != "" {
		fmt.Fprintf(tw, "name\t%s\n", training.PrintableName(s.Name))
	}
	fmt.Fprintf(tw, "trials\t%s finished", s.trials())
	for _, st := range []store.TrialState{store.TrialComplete, store.TrialPruned, store.TrialFailed, store.TrialRunning, store.TrialWaiting} {
		if n := s.Counts[string(st)]; n > 0 {
			fmt.Fprintf(tw, ", %d %s", n, strings.ToLower(string(st)))
		}
	}
	fmt.Fprintln(tw)
	if s.BestValue != nil {
		fmt.Fprintf(tw, "best\ttrial %d: %s %s\n", *s.BestTrial, orDefault(s.Objective, "value"), num(*s.BestValue))
	}
	if s.StopReason != "" {
		fmt.Fprintf(tw, "stopped\t%s\n", s.StopReason)
	}
	if s.Error != "" {
		fmt.Fprintf(tw, "error\t%s\n", s.Error)
	}
	fmt.Fprintf(tw, "created\t%s\nupdated\t%s\n", s.CreatedAt.Format(time.RFC3339), s.UpdatedAt.Format(time.RFC3339))
	if s.Report != "" {
		fmt.Fprintf(tw, "report\t%s\n", s.Report)
	}
	if s.Status == store.Running {
		fmt.Fprintf(tw, "\t'orrery studies cancel %s' stops it; 'orrery train --from-trial %s' trains its best trial\n", s.ID, s.ID)
	} else if s.BestValue != nil {
		fmt.Fprintf(tw, "\t'orrery train --from-trial %s' trains its best trial into a model\n", s.ID)
	}
	return tw.Flush()
}

// studyStatus prints a study for `orrery status` when the id names no job.
func studyStatus(ctx context.Context, rt *embedded.Runtime, id string, w io.Writer, jsonOut bool) (bool, error) {
	sum, err := summarizeStudy(ctx, rt, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("status %s: %w", id, err)
	}
	return true, printStudy(w, sum, jsonOut)
}

// cancelStudy marks the study CANCELLED and stops its execution: here, or
// in the `orrery tune` or `orrery serve` process running it (which notices
// at its next journal write).
func cancelStudy(ctx context.Context, rt *embedded.Runtime, id, reason string, stdout io.Writer) error {
	x, err := rt.Executions(embedded.ExecutionOptions{Parallel: 1})
	if err != nil {
		return err
	}
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	defer x.Close(closeCtx)
	studies := optimizationjob.Studies{Stores: rt.OptimizationStores(), Executions: pipeline.Flows{Executions: x}}
	if _, err := studies.CancelOptimization(ctx, id, reason); err != nil {
		return fmt.Errorf("studies cancel %s: %w", id, err)
	}
	fmt.Fprintf(stdout, "study %s cancelled; its finished trials stay ('orrery studies show %s')\n", id, id)
	return nil
}
